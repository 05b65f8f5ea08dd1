#!/usr/bin/env bash
# Install everything chapterwise needs, then build thesis.pdf.
#   ./setup.sh             system packages (where missing) + .venv + build thesis.pdf
#   ./setup.sh --no-build  the same without the build
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(
  texlive-latex-extra texlive-bibtex-extra texlive-fonts-recommended
  biber latexmk lmodern chktex graphviz poppler-utils
)
REQUIRED_COMMANDS=(pdflatex latexmk biber chktex dot pdftotext)

missing_commands() {
  local cmd
  for cmd in "${REQUIRED_COMMANDS[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || printf '%s ' "$cmd"
  done
}

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then
      SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      echo "setup: run as root, or install these Debian packages first: ${missing[*]}" >&2
      exit 1
    fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  absent=$(missing_commands)
  if [ -n "$absent" ]; then
    echo "setup: not a Debian/Ubuntu system; install TeX Live (2022 or newer, with latexmk, biber," >&2
    echo "       biblatex, booktabs, lmodern), chktex, Graphviz and poppler-utils. Missing: $absent" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# An editable install gets its bytecode when first imported, unless PYTHONDONTWRITEBYTECODE
# is set: then every chapterwise job would compile the package again (about 0.1 s each).
.venv/bin/python -m compileall -q scripts/chapterwise
# Snakemake imports every installed executor plugin at start-up, and the SLURM one brings
# pandas (0.3 s on every run). It lives apart, on PYTHONPATH only where SLURM is wanted (the
# test of profiles/slurm); on a cluster, install it into the venv: pip install -e ".[slurm]".
if [ ! -d .venv/slurm ]; then
  .venv/bin/python -m pip freeze --exclude-editable > .venv/constraints.txt
  .venv/bin/python -m pip install --quiet --target .venv/slurm -c .venv/constraints.txt \
    "snakemake-executor-plugin-slurm>=1.0"
fi

if [ "${1:-}" != "--no-build" ]; then
  PATH="$PWD/.venv/bin:$PATH" .venv/bin/snakemake --cores "$(nproc)" thesis.pdf
  echo "setup: built thesis.pdf"
fi
