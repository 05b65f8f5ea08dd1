#!/bin/sh
# Regenerate the real pdfTeX logs in this folder (see tests/test_texlog.py for how they are used).
#
# Every document is typeset from a fixed project root, FIXTURE_ROOT, with cwd = that root and
# the same engine flags chapterwise passes, so the logs name sources as ./chapters/intro.tex and
# build products as build/<name>/... exactly as in a real build. Each document is run twice:
# once with max_print_line=10000 (unwrapped, what chapterwise sets) saved as <name>.log, once
# with TeX's default 79-column wrapping saved as <name>-wrapped.log.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE_ROOT=/tmp/texlog-fixture-root
rm -rf "$FIXTURE_ROOT"
mkdir -p "$FIXTURE_ROOT/chapters"
cd "$FIXTURE_ROOT"

# --- the documents: <name>.tex at the root, with chapters/<name>.tex \input from it
write_main() {
    # $1 = name, $2 = preamble lines
    printf '%s\n' '\documentclass{article}' "$2" '\begin{document}' \
        "\\input{chapters/$1}" '\end{document}' > "$1.tex"
}

write_main undefined-cs ''
printf '%s\n' 'Some text.' '' 'More text \undefinedmacro{} here.' 'Last line.' \
    > chapters/undefined-cs.tex

write_main missing-sty '\usepackage{doesnotexist}'
printf '%s\n' 'Never reached.' > chapters/missing-sty.tex

write_main references ''
printf '%s\n' \
    '\section{Intro}\label{sec:intro}' \
    'See figure~\ref{fig:a-rather-long-label-name-so-that-the-warning-wraps} and \cite{knuth84}.' \
    '\label{sec:intro}' \
    '' \
    '\noindent\hbox to 2\textwidth{A box that is much wider than the text.}' \
    '' \
    "\\input{$FIXTURE_ROOT/chapters/appendix}" \
    'End.' > chapters/references.tex
# \input by absolute path: the log names this file by its absolute path inside the root
printf '%s\n' 'Appendix.' 'See section~\ref{sec:missing}.' > chapters/appendix.tex

write_main runaway ''
printf '%s\n' 'Fine text.' '\textbf{bold text that never' '' 'closes.}' > chapters/runaway.tex

# the same undefined control sequence without -file-line-error: TeX prints "! ..." errors
write_main no-file-line-error ''
cp chapters/undefined-cs.tex chapters/no-file-line-error.tex

# without -halt-on-error TeX goes on after an error and prints help text and "Emergency stop"
write_main missing-sty-no-halt '\usepackage{doesnotexist}'
cp chapters/missing-sty.tex chapters/missing-sty-no-halt.tex
write_main undefined-cs-no-halt ''
cp chapters/undefined-cs.tex chapters/undefined-cs-no-halt.tex

# a missing figure: graphicx reports it as a LaTeX Error with file:line
write_main missing-figure '\usepackage{graphicx}'
printf '%s\n' 'Text.' '\includegraphics{figures/nothere.pdf}' > chapters/missing-figure.tex

run() {
    # $1 = name, $2 = log suffix, $3 = passes, remaining = engine flags
    name=$1
    suffix=$2
    passes=$3
    shift 3
    rm -rf "build/$name"
    mkdir -p "build/$name"
    for _ in $(seq "$passes"); do
        pdflatex -interaction=nonstopmode -recorder -no-shell-escape "$@" \
            -output-directory="build/$name" "$name.tex" > /dev/null 2>&1 || true
    done
    cp "build/$name/$name.log" "$HERE/$name$suffix.log"
}

for name in undefined-cs missing-sty references runaway no-file-line-error \
        missing-sty-no-halt undefined-cs-no-halt missing-figure; do
    case $name in
        no-file-line-error) set -- -halt-on-error -no-file-line-error ;;
        *-no-halt) set -- -file-line-error ;;
        *) set -- -halt-on-error -file-line-error ;;
    esac
    passes=1
    # two passes, as latexmk would run: "multiply defined" is only reported from the .aux
    [ "$name" = references ] && passes=2
    max_print_line=10000 error_line=254 half_error_line=238 run "$name" "" "$passes" "$@"
    (unset max_print_line error_line half_error_line; run "$name" -wrapped "$passes" "$@")
done
