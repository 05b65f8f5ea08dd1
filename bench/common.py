"""What the benchmarks share: a copy of the thesis to build, and the environment to build it in."""

from __future__ import annotations

import compileall
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Everything a checkout holds that is not the thesis' sources: builds, caches, tests, benches.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    ".snakemake",
    "__pycache__",
    "thesis.pdf",
    "thesis.synctex.gz",
    "results",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "tests",
    "bench",
)


def precompile() -> None:
    """Write the package's bytecode, as an ordinary install has it.

    Where PYTHONDONTWRITEBYTECODE is set (these machines), an editable install never gets
    any, and every ``chapterwise`` job would compile its modules again (about 0.1 s): a cost
    of this environment, not of the product. setup.sh does the same.
    """
    compileall.compile_dir(REPO / "scripts" / "chapterwise", quiet=1)


def environment() -> dict[str, str]:
    """This interpreter's scripts (snakemake, chapterwise) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def copy_thesis(
    source: Path, target: Path, ignore: Callable[[str, list[str]], set[str]] = IGNORED
) -> Path:
    """Copy a thesis to ``target``, with this repository's workflow when it has none."""
    shutil.copytree(source, target, ignore=ignore)
    for name in ("Snakefile", "rules"):
        if not (target / name).exists():
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, target / name)
    return target
