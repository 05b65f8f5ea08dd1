"""Tests for chapterwise.texlog.

The logs in tests/data/texlog/ are real pdfTeX logs, made by tests/data/texlog/make_fixtures.sh
(pdfTeX 3.141592653-2.6-1.40.24, TeX Live 2022/Debian): tiny documents written into the fixed
directory FIXTURE_ROOT and typeset from there (cwd = that root) with the flags chapterwise
uses, once with max_print_line=10000 (<name>.log) and once with TeX's default 79-column
wrapping (<name>-wrapped.log). The fixed root is what makes the logs reproducible: the only
absolute path inside the root that a log mentions (chapters/appendix.tex, \\input by absolute
path in the references document) is under FIXTURE_ROOT, so the tests pass that path as
``root=``. The parser never touches the file system, so the directory need not exist when the
tests run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise.diagnostics import Diagnostic, Severity
from chapterwise.texlog import WRAP_WIDTH, parse_tex_log, read_tex_log

DATA = Path(__file__).resolve().parent / "data" / "texlog"
FIXTURE_ROOT = Path("/tmp/texlog-fixture-root")
ROOT = Path("/project")

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

# (severity, code, path, line, message prefix) per fixture, in log order
EXPECTED: dict[str, list[tuple[Severity, str, str | None, int | None, str]]] = {
    "undefined-cs": [
        (E, "latex-error", "chapters/undefined-cs.tex", 3,
         "Undefined control sequence \\undefinedmacro"),
    ],
    "undefined-cs-no-halt": [
        (E, "latex-error", "chapters/undefined-cs-no-halt.tex", 3,
         "Undefined control sequence \\undefinedmacro"),
    ],
    "no-file-line-error": [
        (E, "latex-error", "chapters/no-file-line-error.tex", 3,
         "Undefined control sequence \\undefinedmacro"),
    ],
    "missing-sty": [
        (E, "latex-error", "missing-sty.tex", 3,
         "LaTeX Error: File `doesnotexist.sty' not found"),
    ],
    "missing-sty-no-halt": [
        (E, "latex-error", "missing-sty-no-halt.tex", 3,
         "LaTeX Error: File `doesnotexist.sty' not found"),
    ],
    "missing-figure": [
        (E, "missing-file", "chapters/missing-figure.tex", 2,
         "Package pdftex.def Error: File `figures/nothere.pdf' not found"),
    ],
    "references": [
        (W, "duplicate-label", "build/references/references.aux", None,
         "label 'sec:intro' multiply defined"),
        (W, "undefined-reference", "chapters/references.tex", 2,
         "undefined reference 'fig:a-rather-long-label-name-so-that-the-warning-wraps'"),
        (W, "undefined-citation", "chapters/references.tex", 2,
         "undefined citation 'knuth84'"),
        (N, "overfull-box", "chapters/references.tex", 5,
         "Overfull \\hbox (345.0pt too wide) in paragraph at lines 5--6"),
        (W, "undefined-reference", "chapters/appendix.tex", 2,
         "undefined reference 'sec:missing'"),
    ],
    "runaway": [
        (E, "latex-error", "chapters/runaway.tex", 4,
         "Paragraph ended before \\text@command was complete"),
    ],
}  # fmt: skip

FIXTURES = [
    pytest.param(name, suffix, id=f"{name}{suffix}")
    for name in EXPECTED
    for suffix in ("", "-wrapped")
]


def summary(diagnostics):
    return [(d.severity, d.code, d.path, d.line, d.message) for d in diagnostics]


def parse(text: str, root: Path = ROOT) -> tuple[Diagnostic, ...]:
    return parse_tex_log(text, root=root)


def assert_matches(found, expected):
    """``found`` is exactly ``expected``: (severity, code, path, line, message prefix) each."""
    assert len(found) == len(expected), summary(found)
    for diagnostic, (severity, code, where, line, prefix) in zip(found, expected, strict=True):
        location = (diagnostic.severity, diagnostic.code, diagnostic.path, diagnostic.line)
        assert location == (severity, code, where, line), summary(found)
        assert diagnostic.message.startswith(prefix), diagnostic.message


# --- real logs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "suffix"), FIXTURES)
def test_fixture(name, suffix):
    path = DATA / f"{name}{suffix}.log"
    assert path.stat().st_size < 30_000
    found = read_tex_log(path, root=FIXTURE_ROOT)
    assert_matches(found, EXPECTED[name])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_wrapped_and_unwrapped_logs_agree(name):
    plain = read_tex_log(DATA / f"{name}.log", root=FIXTURE_ROOT)
    wrapped = read_tex_log(DATA / f"{name}-wrapped.log", root=FIXTURE_ROOT)
    assert plain == wrapped


def test_fixture_wrapped_log_really_is_wrapped():
    lines = (DATA / "references-wrapped.log").read_text().splitlines()
    assert any(len(line) == WRAP_WIDTH for line in lines)
    assert (
        "LaTeX Warning: Reference `fig:a-rather-long-label-name-so-that-the-warning-wrap" in lines
    )


def test_fixture_hints():
    (undefined,) = read_tex_log(DATA / "undefined-cs.log", root=FIXTURE_ROOT)
    assert undefined.hint == "check the spelling, or load the package that defines it"
    (runaway,) = read_tex_log(DATA / "runaway.log", root=FIXTURE_ROOT)
    assert runaway.hint is not None
    assert "'{bold text that never'" in runaway.hint
    (missing,) = read_tex_log(DATA / "missing-sty.log", root=FIXTURE_ROOT)
    assert missing.message == "LaTeX Error: File `doesnotexist.sty' not found"
    assert missing.hint is not None


def test_fixture_file_inside_root_by_absolute_path_outside_other_root():
    found = read_tex_log(DATA / "references.log", root=Path("/somewhere/else"))
    assert found[-1].path == "/tmp/texlog-fixture-root/chapters/appendix.tex"
    assert found[1].path == "chapters/references.tex"


def test_read_missing_log(tmp_path):
    assert read_tex_log(tmp_path / "absent.log", root=tmp_path) == ()


def test_read_invalid_utf8(tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"(./a.tex\n./a.tex:3: Undefined control sequence.\nl.3 caf\xe9 \\foo\n")
    (found,) = read_tex_log(log, root=tmp_path)
    assert (found.path, found.line, found.message) == (
        "a.tex",
        3,
        "Undefined control sequence \\foo",
    )


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "(./a.tex\n! Undefined control sequence.\nl.7 \\foo\n             bar\n)\n",
            [(E, "latex-error", "a.tex", 7, "Undefined control sequence \\foo")],
            id="bang_error_located_by_file_stack_and_l_line",
        ),
        pytest.param(
            "(./a.tex\n! Undefined control sequence.\n<argument> \\nosuch\n\n"
            "l.4 \\textbf{\\nosuch}\n\n)\n",
            [(E, "latex-error", "a.tex", 4, "Undefined control sequence \\nosuch")],
            id="undefined_command_from_top_context_line",
        ),
        pytest.param(
            "(./a.tex\n./a.tex:5: Missing $ inserted.\n<inserted text>\n  $\nl.5 x_\n  1\n",
            [(E, "latex-error", "a.tex", 5, "Missing $ inserted")],
            id="missing_dollar",
        ),
        pytest.param(
            "! Emergency stop.\n<*> thesis.tex\n\n*** (job aborted, no legal \\end found)\n\n",
            [(E, "latex-error", None, None, "Emergency stop")],
            id="emergency_stop_alone_is_one_error",
        ),
        pytest.param(
            "(./a.tex\n./a.tex:3: Undefined control sequence.\nl.3 \\foo\n\n"
            "./a.tex:3: Emergency stop.\nl.3 \\foo\n\n"
            "./a.tex:3:  ==> Fatal error occurred, no output PDF file produced!\n",
            [(E, "latex-error", "a.tex", 3, "Undefined control sequence \\foo")],
            id="follow_ups_not_reported_again",
        ),
        pytest.param(
            "(./a.tex\n! Undefined control sequence.\nl.3 \\foo\n\n! Emergency stop.\n"
            "l.3 \\foo\n\n!  ==> Fatal error occurred, no output PDF file produced!\n",
            [(E, "latex-error", "a.tex", 3, "Undefined control sequence \\foo")],
            id="follow_ups_without_file_line_error",
        ),
        pytest.param(
            "./a.tex:3: Undefined control sequence.\nl.3 \\foo\n\n"
            "./a.tex:3: Undefined control sequence.\nl.3 \\foo\n\n",
            [(E, "latex-error", "a.tex", 3, "Undefined control sequence \\foo")],
            id="identical_errors_once",
        ),
        pytest.param(
            "./a.tex:9: Package babel Error: Unknown option `klingon'.\n"
            "(babel)                Either you misspelled it\n"
            "(babel)                or the language definition file is missing.\n\n"
            "See the babel package documentation for explanation.\n",
            [(E, "latex-error", "a.tex", 9, "Package babel Error: Unknown option `klingon'")],
            id="package_error_with_continuation",
        ),
        pytest.param(
            "./a.tex:2: LaTeX Error: Environment foo undefined.\n\n"
            "See the LaTeX manual or LaTeX Companion for explanation.\n",
            [(E, "latex-error", "a.tex", 2, "LaTeX Error: Environment foo undefined")],
            id="latex_error_without_boilerplate",
        ),
        pytest.param(
            "./a.tex:0: Something odd.\n",
            [(E, "latex-error", "a.tex", None, "Something odd")],
            id="line_zero_is_unknown",
        ),
    ],
)  # fmt: skip
def test_errors(text, expected):
    assert_matches(parse(text), expected)


def test_package_error_continuation_joined():
    text = (
        "./a.tex:9: Package babel Error: Unknown option `klingon'.\n"
        "(babel)                Either you misspelled it\n"
        "(babel)                or the language definition file is missing.\n\n"
    )
    (found,) = parse(text)
    assert found.message == (
        "Package babel Error: Unknown option `klingon'. Either you misspelled it "
        "or the language definition file is missing"
    )


def test_emergency_stop_without_end_hint():
    (found,) = parse(
        "! Emergency stop.\n<*> thesis.tex\n\n*** (job aborted, no legal \\end found)\n"
    )
    assert found.hint == "the input ended before \\end{document}"


def test_fatal_error_alone_is_one_error():
    (found,) = parse("./a.tex:3:  ==> Fatal error occurred, no output PDF file produced!\n")
    assert (found.path, found.line) == ("a.tex", 3)
    assert found.message == "Fatal error occurred, no output PDF file produced!"


# --- warnings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "(./a.tex\n\nLaTeX Warning: Reference `fig:x' on page 3 undefined on input line 12."
            "\n\n)",
            [(W, "undefined-reference", "a.tex", 12, "undefined reference 'fig:x'")],
            id="reference",
        ),
        pytest.param(
            "(./a.tex\nLaTeX Warning: Hyper reference `x' on page 3 undefined on input line 2.\n",
            [(W, "undefined-reference", "a.tex", 2, "undefined reference 'x'")],
            id="hyper_reference",
        ),
        pytest.param(
            "(./a.tex\nLaTeX Warning: Citation `knuth84' on page 3 undefined on input line 4.\n",
            [(W, "undefined-citation", "a.tex", 4, "undefined citation 'knuth84'")],
            id="latex_citation",
        ),
        pytest.param(
            "(./a.tex\nPackage natbib Warning: Citation `k' on page 1 undefined on input line 5.\n",
            [(W, "undefined-citation", "a.tex", 5, "undefined citation 'k'")],
            id="natbib_citation",
        ),
        pytest.param(
            "(./a.tex\nLaTeX Warning: Citation 'k' on page 1 undefined on input line 6.\n",
            [(W, "undefined-citation", "a.tex", 6, "undefined citation 'k'")],
            id="biblatex_citation_straight_quotes",
        ),
        pytest.param(
            "(./a.tex\nPackage biblatex Warning: Citation 'k' undefined\n"
            "(biblatex)                on input line 8.\n)\n",
            [(W, "undefined-citation", "a.tex", 8, "undefined citation 'k'")],
            id="package_warning_continuation_joined",
        ),
        pytest.param(
            "(build/x/thesis.aux\n\nLaTeX Warning: Label `sec:a' multiply defined.\n\n)\n",
            [(W, "duplicate-label", "build/x/thesis.aux", None, "label 'sec:a' multiply")],
            id="duplicate_label_in_aux",
        ),
        pytest.param(
            "(./a.tex\nLaTeX Warning: File `fig.png' not found on input line 3.\n)\n",
            [(W, "missing-file", "a.tex", 3, "file 'fig.png' not found")],
            id="missing_file_warning",
        ),
        pytest.param(
            "LaTeX Warning: There were undefined references.\n\n"
            "LaTeX Warning: There were multiply-defined labels.\n\n"
            "Package natbib Warning: There were undefined citations.\n\n"
            "LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right.\n",
            [],
            id="summary_lines_ignored",
        ),
        pytest.param(
            "(./a.tex\nOverfull \\hbox (12.3pt too wide) in paragraph at lines 40--42\n"
            "[]\\OT1/cmr/m/n/10 text with ) paren\n []\n\n"
            "Underfull \\hbox (badness 10000) in paragraph at lines 50--51\n[] (\n\n"
            "LaTeX Warning: Reference `r' on page 1 undefined on input line 60.\n",
            [
                (N, "overfull-box", "a.tex", 40, "Overfull \\hbox (12.3pt too wide)"),
                (W, "undefined-reference", "a.tex", 60, "undefined reference 'r'"),
            ],
            id="overfull_note_underfull_ignored_box_text_not_scanned",
        ),
    ],
)  # fmt: skip
def test_warnings(text, expected):
    assert_matches(parse(text), expected)


def test_missing_file_warning_dropped_when_an_error_reports_it():
    text = (
        "(./a.tex\nLaTeX Warning: File `f.pdf' not found on input line 2.\n\n"
        "./a.tex:2: Package pdftex.def Error: File `f.pdf' not found: using draft setting.\n"
    )
    (found,) = parse(text)
    assert (found.severity, found.code) == (Severity.ERROR, "missing-file")


# --- file stack and paths ------------------------------------------------------------------


WARN = "LaTeX Warning: Reference `x' on page 1 undefined on input line 3."


@pytest.mark.parametrize(
    ("log", "root", "path"),
    [
        pytest.param(f"(./chapters/intro.tex\n{WARN}\n", ROOT, "chapters/intro.tex",
                     id="dot_slash_stripped"),
        pytest.param(f"(chapters/intro.tex\n{WARN}\n", ROOT, "chapters/intro.tex",
                     id="plain_relative"),
        pytest.param(f"(/project/chapters/intro.tex\n{WARN}\n", ROOT, "chapters/intro.tex",
                     id="absolute_inside_root"),
        pytest.param(f"(/projectx/intro.tex\n{WARN}\n", ROOT, "/projectx/intro.tex",
                     id="absolute_sibling_of_root"),
        pytest.param(f"(/usr/share/texlive/x.sty\n{WARN}\n", ROOT, "/usr/share/texlive/x.sty",
                     id="absolute_outside_root"),
        pytest.param(f"(../other/intro.tex\n{WARN}\n", ROOT, "/other/intro.tex",
                     id="relative_outside_root"),
        pytest.param(f"(./a/../b/./c.tex\n{WARN}\n", ROOT, "b/c.tex", id="normalized"),
        pytest.param(f'("./my chapter.tex"\n{WARN}\n', ROOT, "my chapter.tex",
                     id="quoted_name_with_space"),
        pytest.param(f"(./a.tex (./b.tex) (./c.tex)\n{WARN}\n", ROOT, "a.tex",
                     id="nested_closed_on_one_line"),
        pytest.param(f"(./a.tex (./b.tex [1] (./c.tex\n{WARN}\n", ROOT, "c.tex",
                     id="nested_open"),
        pytest.param(f"(./a.tex (see the manual) (./b.tex\n{WARN}\n", ROOT, "b.tex",
                     id="non_file_parens_matched"),
        pytest.param(f"(./a.tex\n(./b.tex\n*** (unbalanced\n{WARN}\n", ROOT, "b.tex",
                     id="unmatched_open_paren_dropped_at_end_of_line"),
        pytest.param(f"(./a.tex\nLaTeX Info: Redefining \\) on input line 2.\n"
                     f"Package x Info: a ) b\n{WARN}\n", ROOT, "a.tex",
                     id="parens_in_info_lines_ignored"),
        pytest.param(f"(./a.tex\n! Bad.\nl.2 foo ) ) )\n       bar ) )\n\n{WARN}\n", ROOT,
                     "a.tex", id="parens_in_error_context_ignored"),
        pytest.param(f"(./a.tex)\n)\n)\n{WARN}\n", ROOT, None, id="no_underflow"),
        pytest.param(f"(./a.tex)\n)\n)\n(./b.tex\n{WARN}\n", ROOT, "b.tex",
                     id="push_after_underflow"),
        pytest.param(f"(./chapters/intro.tex\n{WARN}\n", Path("."), "chapters/intro.tex",
                     id="relative_root"),
    ],
)  # fmt: skip
def test_file_stack_and_paths(log, root, path):
    (found,) = [d for d in parse(log, root) if d.code == "undefined-reference"]
    assert found.path == path
    assert found.line == 3


# --- wrapping ------------------------------------------------------------------------------


def wrap(line: str) -> list[str]:
    return [line[i : i + WRAP_WIDTH] for i in range(0, len(line), WRAP_WIDTH)] or [""]


def test_wrapped_warning_and_path_are_joined():
    long_dir = "./chapters/" + "d" * 70
    warning_line = (
        "LaTeX Warning: Reference `fig:" + "x" * 80 + "' on page 1 undefined on input line 14."
    )
    lines = ["This is pdfTeX, banner " + "b" * 100, *wrap(f"({long_dir}/intro.tex"), ""]
    lines += [*wrap(warning_line), "", ")"]
    assert max(len(line) for line in lines[1:]) == WRAP_WIDTH
    (found,) = parse("\n".join(lines))
    assert found.message == "undefined reference 'fig:" + "x" * 80 + "'"
    assert (found.path, found.line) == (f"{long_dir[2:]}/intro.tex", 14)


def test_wrapped_error_message_joined():
    error_line = "./a.tex:3: LaTeX Error: " + "Something long " * 8 + "happened."
    text = "\n".join(["(./a.tex", *wrap(error_line), "", "l.3 x", ""])
    (found,) = parse(text)
    assert found.message == "LaTeX Error: " + "Something long " * 8 + "happened"


def test_exact_width_line_then_blank_line():
    exact = "LaTeX Warning: Reference `" + "y" * 15 + "' on page 1 undefined on input line 7."
    assert len(exact) == WRAP_WIDTH
    (found,) = parse(f"(./a.tex\n{exact}\n\n)\n")
    assert (found.message, found.line) == ("undefined reference '" + "y" * 15 + "'", 7)


def test_unwrapped_log_does_not_join_exact_width_lines():
    exact = "x" * WRAP_WIDTH
    text = "\n".join(["(./a.tex", "long " * 30, exact, "(./b.tex", WARN])
    (found,) = parse(text)
    assert found.path == "b.tex"


def test_wrapped_log_does_not_join_an_error_line():
    text = "\n".join(["(./a.tex", "x" * WRAP_WIDTH, "./a.tex:4: Undefined control sequence.",
                      "l.4 \\foo", ""])  # fmt: skip
    (found,) = parse(text)
    assert (found.path, found.line, found.message) == (
        "a.tex",
        4,
        "Undefined control sequence \\foo",
    )


# --- properties ----------------------------------------------------------------------------

TEX_FRAGMENTS = st.sampled_from(
    [
        "(./a.tex",
        "(/usr/share/x.sty",
        ")",
        "(",
        "",
        "! Undefined control sequence.",
        "./a.tex:3: Emergency stop.",
        "!  ==> Fatal error occurred, no output PDF file produced!",
        "l.0 \\foo",
        "l.12 \\foo",
        "l.99999999999999999999 x",
        "Runaway argument?",
        "{text",
        "LaTeX Warning: Reference `x' on page 1 undefined on input line 0.",
        "LaTeX Warning: Citation `x' on page 1 undefined on input line 5.",
        "Package natbib Warning: Citation `x' on page 1 undefined on input line 5.",
        "(natbib)      continued",
        "Overfull \\hbox (1.0pt too wide) in paragraph at lines 0--1",
        "Underfull \\hbox (badness 10000) in paragraph at lines 3--4",
        "x" * WRAP_WIDTH,
        "y" * (WRAP_WIDTH + 1),
        "Here is how much of TeX's memory you used:",
    ]
)
LINE_TEXT = st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=100)


@given(st.text())
def test_arbitrary_text_never_raises(text):
    found = parse_tex_log(text, root=ROOT)
    assert all(isinstance(d, Diagnostic) for d in found)
    assert all(d.line is None or d.line >= 1 for d in found)


@given(st.lists(st.one_of(TEX_FRAGMENTS, LINE_TEXT), max_size=40))
def test_log_like_text_never_raises_and_lines_are_positive(lines):
    found = parse_tex_log("\n".join(lines), root=ROOT)
    assert all(d.line is None or d.line >= 1 for d in found)
    assert len(set(found)) == len(found)


@given(
    before=st.lists(st.one_of(TEX_FRAGMENTS, LINE_TEXT), max_size=20),
    after=st.lists(st.one_of(TEX_FRAGMENTS, LINE_TEXT), max_size=20),
    number=st.integers(min_value=1, max_value=10**9 - 1),
    message=st.from_regex(r"[A-Za-z][A-Za-z ,]{0,40}\.?", fullmatch=True).filter(
        lambda m: not m.startswith("Emergency stop")
    ),
)
def test_file_line_error_found_among_random_lines(before, after, number, message):
    text = "\n".join([*before, f"./a.tex:{number}: {message}", *after])
    found = parse_tex_log(text, root=ROOT)
    assert any(
        d.severity is Severity.ERROR and d.path == "a.tex" and d.line == number for d in found
    ), summary(found)
