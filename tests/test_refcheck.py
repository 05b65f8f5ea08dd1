"""Cross-reference checks: each defect alone and its clean twin, include chains, fuzzing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapterwise.diagnostics import Severity, format_diagnostic
from chapterwise.refcheck import (
    check_braces,
    check_references,
    scan_references,
    thesis_files,
)
from tests.conftest import write_files as write

FIGURE = (
    "\\begin{figure}\n\\centering\n\\caption{A plot.}\\label{fig:plot}\n\\end{figure}\n"
    "As \\cref{fig:plot} shows.\n"
)


def codes(files: dict[str, str]) -> list[str]:
    return [d.code for d in check_references(files)]


def test_a_labelled_referenced_float_passes() -> None:
    assert codes({"a.tex": FIGURE}) == []


@pytest.mark.parametrize(
    ("old", "new", "code", "severity"),
    [
        ("\\cref{fig:plot}", "\\cref{fig:plots}", "undefined-reference", Severity.ERROR),
        ("\\label{fig:plot}", "", "unlabelled-float", Severity.WARNING),
        ("As \\cref{fig:plot} shows.", "", "unreferenced-float", Severity.WARNING),
        (
            "\\caption{A plot.}\\label{fig:plot}",
            "\\label{fig:plot}\\caption{A plot.}",
            "label-before-caption",
            Severity.ERROR,
        ),
    ],
)
def test_each_defect_alone(old: str, new: str, code: str, severity: Severity) -> None:
    found = check_references({"a.tex": FIGURE.replace(old, new)})
    relevant = [d for d in found if d.code == code]
    assert len(relevant) == 1 and relevant[0].severity is severity
    # a missing label also leaves its reference dangling, and a wrong reference its label
    # unreferenced; nothing else is reported
    assert {d.code for d in found} <= {code, "undefined-reference", "unreferenced-float"}


def test_undefined_reference_location_and_suggestion() -> None:
    found = check_references({"a.tex": FIGURE, "b.tex": "\n  See \\Cref{fig:plott,fig:plot}.\n"})
    (problem,) = found
    assert (problem.path, problem.line, problem.column) == ("b.tex", 2, 7)
    assert problem.message == "\\Cref to undefined label 'fig:plott'"
    assert problem.hint == "did you mean 'fig:plot'?"


def test_duplicate_label_across_files_names_both_places() -> None:
    found = check_references({"a.tex": FIGURE, "b.tex": "\\section{S}\\label{fig:plot}\n"})
    (problem,) = found
    assert (problem.code, problem.path, problem.line) == ("duplicate-label", "b.tex", 1)
    assert "already defined at a.tex:3" in problem.message


def test_commented_text_does_not_count() -> None:
    text = FIGURE + "% \\ref{nowhere}\n% \\label{fig:plot}\n"
    assert codes({"a.tex": text}) == []


def test_eqref_pageref_autoref_nameref_and_ranges() -> None:
    text = (
        "\\section{S}\\label{s}\\begin{equation}x\\label{e}\\end{equation}\n"
        "\\eqref{e} \\pageref{s} \\autoref{s} \\nameref{s} \\crefrange{s}{e} \\vref{t}\n"
    )
    found = check_references({"a.tex": text})
    assert [(d.code, d.message) for d in found] == [
        ("undefined-reference", "\\vref to undefined label 't'")
    ]


def test_starred_and_sideways_floats() -> None:
    text = "\\begin{table*}\\caption{T}\\end{table*}\n"
    _, _, problems = scan_references(text, "a.tex")
    assert [p.code for p in problems] == ["unlabelled-float"]


UNLABELLED = "\\begin{figure}\\caption{A plot.}\\end{figure}\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"\\begin{{verbatim}}\n{UNLABELLED}\\end{{verbatim}}\n", id="verbatim"),
        pytest.param(f"\\begin{{lstlisting}}\n{UNLABELLED}\\end{{lstlisting}}\n", id="listing"),
        pytest.param(f"\\iffalse\n{UNLABELLED}\\fi\n", id="iffalse"),
        pytest.param(f"\\verb|{UNLABELLED.strip()}|\n", id="verb"),
        pytest.param(f"% {UNLABELLED}", id="comment"),
    ],
)
def test_a_float_in_text_tex_does_not_read_is_no_float(text: str) -> None:
    assert codes({"a.tex": text}) == []


def test_an_unlabelled_float_after_a_verbatim_one_is_found_at_its_line() -> None:
    text = f"\\begin{{verbatim}}\n{UNLABELLED}\\end{{verbatim}}\n{UNLABELLED}"
    (problem,) = check_references({"a.tex": text})
    assert (problem.code, problem.line) == ("unlabelled-float", 4)


def test_a_caption_in_a_comment_does_not_make_a_float_captioned() -> None:
    text = "\\begin{figure}\n% \\caption{later}\n\\end{figure}\n"
    assert codes({"a.tex": text}) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "\\ref{a\n\nnext}\n", [(1, 1, "the argument of \\ref is not closed")], id="argument"
        ),
        pytest.param("x\n  {\\bf bold\n", [(2, 3, "this '{' is never closed")], id="open"),
        pytest.param("x}\n", [(1, 2, "this '}' closes no group")], id="stray"),
        pytest.param("{\\bf\n\nbold}\n\\{ \\url{a%b} % }\n", [], id="balanced"),
    ],
)
def test_unbalanced_braces(text: str, expected: list[tuple[int, int, str]]) -> None:
    found = check_braces({"a.tex": text})
    assert [(d.line, d.column, d.message) for d in found] == expected
    assert all(d.code == "unbalanced-brace" and d.severity is Severity.WARNING for d in found)


def test_unbalanced_brace_format() -> None:
    (problem,) = check_braces({"chapters/a.tex": "\n\\cite{smith"})
    assert format_diagnostic(problem) == (
        "chapters/a.tex:2:1: warning: the argument of \\cite is not closed; "
        "add the missing '}' before the next blank line [unbalanced-brace]"
    )


def test_an_empty_included_file_is_a_whole_file_warning(tmp_path: Path) -> None:
    write(tmp_path, {"main.tex": "\\input{a}\n\\input{b}\n", "a.tex": "", "b.tex": "x\n"})
    files, problems = thesis_files(tmp_path / "main.tex", tmp_path)
    assert list(files) == ["main.tex", "a.tex", "b.tex"]
    assert [format_diagnostic(d) for d in problems] == [
        "a.tex: warning: file is empty; write it, or remove what reads it [empty-file]"
    ]


def test_thesis_files_follow_every_include_form(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tex": "\\begin{document}\n\\include{chapters/x}\n\\subfile{extra/s}\n",
            "chapters/x.tex": "\\input{sections/y}\n% \\input{ignored}\n",
            "sections/y.tex": "\\import{parts/}{z}\n",
            "parts/z.tex": "\\label{z}\\ref{z}\n",
            "extra/s.tex": "\\input{chapters/x}\n",  # read already: no cycle
        },
    )
    files, problems = thesis_files(tmp_path / "main.tex", tmp_path)
    assert list(files) == [
        "main.tex",
        "chapters/x.tex",
        "sections/y.tex",
        "parts/z.tex",
        "extra/s.tex",
    ]
    assert problems == []


def test_thesis_files_report_missing_outside_and_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "thesis").mkdir()
    write(
        tmp_path / "thesis",
        {
            "main.tex": (
                "\\input{nothere}\n\\input{../secret}\n\\input{tables/made}\n\\input{latin}\n"
            ),
            "latin.tex": "ok\n\xe9t\xe9\n".encode("latin-1"),
        },
    )
    (tmp_path / "secret.tex").write_text("x\n")
    files, problems = thesis_files(
        tmp_path / "thesis" / "main.tex", tmp_path / "thesis", generated=["tables/made.tex"]
    )
    assert [(d.code, d.path, d.line) for d in problems] == [
        ("missing-file", "main.tex", 1),
        ("outside-repo", "main.tex", 2),
        ("not-utf8", "latin.tex", 2),
    ]
    assert "latin.tex" in files


def test_the_repository_thesis_has_no_reference_problems(repo_root: Path) -> None:
    files, _ = thesis_files(repo_root / "thesis.tex", repo_root)
    assert check_references(files) == []


def lines_of(text: str) -> int:
    return max(1, len(text.split("\n")))


@settings(deadline=timedelta(milliseconds=500))
@given(st.dictionaries(st.sampled_from(["a.tex", "b.tex", "c.tex"]), st.text(max_size=200)))
def test_fuzzed_sources_never_crash(files: dict[str, str]) -> None:
    for diagnostic in check_references(files) + check_braces(files):
        assert diagnostic.path in files
        assert diagnostic.line is not None and 1 <= diagnostic.line <= lines_of(
            files[diagnostic.path]
        )


LATEXISH = st.lists(
    st.sampled_from(
        [
            "\\label{a}",
            "\\ref{a}",
            "\\cref{a,b}",
            "\\begin{figure}",
            "\\end{figure}",
            "\\caption{c}",
            "{",
            "}",
            "%",
            "\n",
            "\\begin{verbatim}",
            "\\end{verbatim}",
            "\\iffalse",
            "\\fi",
            "\\verb|",
            "\\url{",
            "text",
        ]
    ),
    max_size=30,
).map("".join)


@settings(deadline=timedelta(milliseconds=500))
@given(st.dictionaries(st.sampled_from(["a.tex", "b.tex"]), LATEXISH))
def test_fuzzed_latex_like_sources_never_crash(files: dict[str, str]) -> None:
    for diagnostic in check_references(files) + check_braces(files):
        assert diagnostic.path is not None
        assert diagnostic.line is not None and 1 <= diagnostic.line <= lines_of(
            files[diagnostic.path]
        )
