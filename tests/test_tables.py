"""Tests for chapterwise.tables: CSV -> booktabs tables, JSON -> guarded \\newcommand macros."""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapterwise.diagnostics import ChapterwiseError, Severity, format_diagnostic
from chapterwise.tables import (
    Table,
    escape_latex,
    format_column_spec,
    parse_csv_table,
    parse_macro_values,
    parse_macros,
    parse_rendered_table,
    render_macros,
    render_macros_file,
    render_table,
    render_table_file,
    unescape_latex,
)

SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "200")), deadline=None
)
SPECIALS = "\\&%$#_{}~^"
# Printable text with every LaTeX special, plus the look-ahead characters `[` and `*`; no
# control characters, which render_table turns into spaces (tested separately).
TEXT_CHARS = st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(SPECIALS + "[* ")
CELL_TEXT = st.text(alphabet=TEXT_CHARS, max_size=12)
MACRO_NAME = st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True).filter(
    lambda name: not name.startswith("end") and name != "relax"
)
PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not on PATH")


def diagnostics_of(excinfo: pytest.ExceptionInfo[ChapterwiseError]) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in excinfo.value.diagnostics]


def max_line(text: str) -> int:
    return max(1, len(text.splitlines()))


def assert_lines_in_range(exc: ChapterwiseError, text: str) -> None:
    assert exc.diagnostics
    for diag in exc.diagnostics:
        assert diag.severity is Severity.ERROR
        assert diag.line is None or 1 <= diag.line <= max_line(text), format_diagnostic(diag)


# --------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("char", "latex"),
    [
        pytest.param("\\", r"\textbackslash{}", id="backslash"),
        pytest.param("&", r"\&", id="ampersand"),
        pytest.param("%", r"\%", id="percent"),
        pytest.param("$", r"\$", id="dollar"),
        pytest.param("#", r"\#", id="hash"),
        pytest.param("_", r"\_", id="underscore"),
        pytest.param("{", r"\{", id="open_brace"),
        pytest.param("}", r"\}", id="close_brace"),
        pytest.param("~", r"\textasciitilde{}", id="tilde"),
        pytest.param("^", r"\textasciicircum{}", id="caret"),
    ],
)
def test_escape_latex_each_special(char: str, latex: str) -> None:
    assert escape_latex(char) == latex
    assert escape_latex(f"a{char}b") == f"a{latex}b"
    assert unescape_latex(latex) == char


def test_escape_latex_is_single_pass() -> None:
    # The braces that \textbackslash{} brings must not be escaped again.
    assert escape_latex("\\{x}") == r"\textbackslash{}\{x\}"
    assert escape_latex("~^") == r"\textasciitilde{}\textasciicircum{}"


def test_escape_latex_leaves_ordinary_text() -> None:
    assert escape_latex("Résumé: 3 < 4 [a] *b* 'q' \"r\"") == "Résumé: 3 < 4 [a] *b* 'q' \"r\""


@SETTINGS
@given(st.text(alphabet=st.characters() | st.sampled_from(SPECIALS)))
def test_unescape_inverts_escape(text: str) -> None:
    assert unescape_latex(escape_latex(text)) == text


# ------------------------------------------------------------------------------- CSV parsing


def test_parse_csv_table_reads_header_and_rows() -> None:
    text = 'model,score\n"A, with comma",0.9\n\nB,"1.5"\n'
    assert parse_csv_table(text, path="t.csv") == Table(
        ("model", "score"), (("A, with comma", "0.9"), ("B", "1.5"))
    )


def test_parse_csv_table_keeps_quoted_line_breaks() -> None:
    table = parse_csv_table('a,b\n"two\nlines",1\r\n', path="t.csv")
    assert table.rows == (("two\nlines", "1"),)


def test_parse_csv_table_header_only_is_a_table() -> None:
    assert parse_csv_table("a,b\n", path="t.csv") == Table(("a", "b"), ())


def test_parse_csv_table_reports_every_ragged_row_with_its_line() -> None:
    text = 'a,b,c\n1,2,3\n1,2\n\n"multi\nline",2,3\n1,2,3,4\n'
    with pytest.raises(ChapterwiseError, match=r"row 2 has 2 cells, header has 3 cells") as excinfo:
        parse_csv_table(text, path="results/t.csv")
    assert diagnostics_of(excinfo) == [("bad-table", 3), ("bad-table", 7)]
    assert format_diagnostic(excinfo.value.diagnostics[1]) == (
        "results/t.csv:7: error: row 4 has 4 cells, header has 3 cells [bad-table]"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("\n\n\r\n", id="blank_lines_only"),
    ],
)
def test_parse_csv_table_empty_file(text: str) -> None:
    with pytest.raises(ChapterwiseError, match="empty table") as excinfo:
        parse_csv_table(text, path="t.csv")
    assert diagnostics_of(excinfo) == [("bad-table", 1)]


def test_parse_csv_table_malformed_quoting() -> None:
    with pytest.raises(ChapterwiseError, match="malformed CSV") as excinfo:
        parse_csv_table('a,b\n1,2\n"x"y,3\n', path="t.csv")
    assert diagnostics_of(excinfo) == [("bad-table", 3)]


@SETTINGS
@given(st.text(alphabet=st.sampled_from(',"ab1.\n\r \x00') | st.characters(), max_size=60))
def test_parse_csv_table_never_raises_anything_else(text: str) -> None:
    try:
        table = parse_csv_table(text, path="t.csv")
    except ChapterwiseError as exc:
        assert_lines_in_range(exc, text)
    else:
        assert all(len(row) == len(table.columns) for row in table.rows)


# -------------------------------------------------------------------------------- alignment


@pytest.mark.parametrize(
    ("cells", "spec"),
    [
        pytest.param(["1", "22", "333"], "r", id="integers"),
        pytest.param(["0.5", "-1.25", "+3", ".5", "7.", "1e-3", "2.5E+10"], "r", id="floats"),
        pytest.param(["1", "", " 2 "], "r", id="empty_and_padded_cells_ignored"),
        pytest.param(["1.5", "nan", "-inf", "Infinity"], "r", id="non_finite"),
        pytest.param(["1", "two"], "l", id="mixed"),
        pytest.param(["12%"], "l", id="percent"),
        pytest.param(["1_000"], "l", id="underscore_digits"),
        pytest.param(["1,5"], "l", id="decimal_comma"),
        pytest.param(["0x1f"], "l", id="hex"),
        pytest.param(["", ""], "l", id="all_empty"),
        pytest.param([], "l", id="no_rows"),
    ],
)
def test_format_column_spec(cells: list[str], spec: str) -> None:
    assert format_column_spec(Table(("h",), tuple((cell,) for cell in cells))) == spec


def test_format_column_spec_per_column() -> None:
    table = parse_csv_table("name,score,n,note\nA,0.5,3,\nB,0.25,4,x\n", path="t.csv")
    assert format_column_spec(table) == "lrrl"


# ---------------------------------------------------------------------------- table render


def test_render_table_default_template() -> None:
    table = parse_csv_table(
        "model_name,R^2,n\nA & B,0.930,10\n[1] ref,-1e-3,\n*star,5%,3\n", path="t.csv"
    )
    assert render_table(table, source="results/fit.csv") == (
        "% Generated by chapterwise from results/fit.csv; do not edit.\n"
        "\\begin{tabular}{llr}\n"
        "\\toprule\n"
        "model\\_name & R\\textasciicircum{}2 & n \\\\\n"
        "\\midrule\n"
        "A \\& B & 0.930 & 10 \\\\\n"
        "{}[1] ref & -1e-3 &  \\\\\n"
        "{}*star & 5\\% & 3 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
    )


def test_render_table_prints_numbers_as_written() -> None:
    table = Table(("x", "y"), (("0.10", "1e-05"), ("3.000", "-0")))
    tex = render_table(table)
    assert "\\begin{tabular}{rr}\n" in tex
    assert "0.10 & 1e-05 \\\\\n3.000 & -0 \\\\\n" in tex
    assert tex.startswith("% Generated by chapterwise; do not edit.\n")


def test_render_table_has_no_float_or_caption() -> None:
    tex = render_table(Table(("a",), (("1",),)))
    for word in ("\\begin{table}", "\\caption", "\\label", "\\centering"):
        assert word not in tex


def test_render_table_flattens_control_characters() -> None:
    table = Table(("a\nb",), (("x\r\ny\tz\x0c",),))
    assert render_table(table).split("\n")[3:6] == ["a b \\\\", "\\midrule", "x y z  \\\\"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(Table((), ()), "no columns", id="no_columns"),
        pytest.param(
            Table(("a", "b"), (("1",),)), "row 1 has 1 cell, header has 2 cells", id="ragged"
        ),
    ],
)
def test_render_table_rejects_bad_shapes(table: Table, message: str) -> None:
    with pytest.raises(ChapterwiseError, match=message):
        render_table(table)


def test_render_table_custom_template_gets_all_variables() -> None:
    template = (
        "\\begin{tabularx}{\\linewidth}{\\VAR{align}}\n"
        "\\VAR{columns | join(' & ')} \\\\\n"
        "%% for row in raw_rows\n"
        "\\VAR{row[0] | escape} / \\VAR{raw_columns[1]}\n"
        "%% endfor\n"
        "\\VAR{rows[0][0]} from \\VAR{source}\n"
        "\\end{tabularx}\n"
    )
    table = Table(("a_b", "c&d"), (("x%", "1"), ("y", "2")))
    assert render_table(table, template_text=template, source="r.csv") == (
        "\\begin{tabularx}{\\linewidth}{lr}\n"
        "a\\_b & c\\&d \\\\\n"
        "x\\% / c&d\n"
        "y / c&d\n"
        "x\\% from r.csv\n"
        "\\end{tabularx}\n"
    )


@pytest.mark.parametrize(
    ("template", "message", "line"),
    [
        pytest.param("ok\n%% for row in rows\n\\VAR{row}\n", "syntax error", 3, id="unclosed_for"),
        pytest.param("ok\n\\VAR{captions}\n", "'captions' is undefined", 2, id="undefined_name"),
        pytest.param("\\VAR{columns | nosuch}\n", "syntax error", 1, id="unknown_filter"),
        pytest.param("\n\n\\VAR{1 // 0}\n", "ZeroDivisionError", 3, id="runtime_error"),
    ],
)
def test_render_table_bad_custom_template(template: str, message: str, line: int) -> None:
    with pytest.raises(ChapterwiseError, match=message) as excinfo:
        render_table(Table(("a",), ()), template_text=template)
    assert diagnostics_of(excinfo) == [("bad-template", line)]


@SETTINGS
@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.tuples(
            st.tuples(*[CELL_TEXT] * width),
            st.lists(st.tuples(*[CELL_TEXT] * width), max_size=4).map(tuple),
        )
    )
)
def test_render_table_round_trip(
    parts: tuple[tuple[str, ...], tuple[tuple[str, ...], ...]],
) -> None:
    table = Table(*parts)
    assert parse_rendered_table(render_table(table)) == table


RULES = st.sampled_from(["\\toprule", "\\midrule", "\\bottomrule"])


@SETTINGS
@given(
    st.lists(RULES | st.text(alphabet=st.sampled_from("\\&{} [a") | st.characters(), max_size=12))
)
def test_parse_rendered_table_raises_only_chapterwise_error(lines: list[str]) -> None:
    try:
        table = parse_rendered_table("\n".join(lines))
    except ChapterwiseError as exc:
        assert [d.code for d in exc.diagnostics] == ["bad-table"]
    else:
        assert len(table.columns) >= 1


# --------------------------------------------------------------------------- macro values


def test_parse_macro_values_formats() -> None:
    text = json.dumps(
        {
            "bestScore": 0.93123456789,
            "nRuns": 12,
            "big": 123456789.0,
            "tiny": 1.5e-7,
            "modelName": "ResNet_50 & 10% ~ #1 {x} ^ \\",
            "converged": True,
            "diverged": False,
            "accuracy": {"value": 0.91234, "format": ".1%"},
            "loss": {"value": 0.0123456, "format": ".3f"},
            "samples": {"value": 1234567, "format": ","},
            "rate": {"value": 12, "format": ".2e"},
            "padded": {"value": 7, "format": "_^5"},
        },
        indent=1,
    )
    assert parse_macro_values(text, path="v.json") == {
        "bestScore": "0.931235",
        "nRuns": "12",
        "big": "1.23457e+08",
        "tiny": "1.5e-07",
        "modelName": (
            "ResNet\\_50 \\& 10\\% \\textasciitilde{} \\#1 \\{x\\} \\textasciicircum{} "
            "\\textbackslash{}"
        ),
        "converged": "true",
        "diverged": "false",
        "accuracy": "91.2\\%",
        "loss": "0.012",
        "samples": "1,234,567",
        "rate": "1.20e+01",
        "padded": "\\_\\_7\\_\\_",
    }


def test_parse_macro_values_keeps_file_order() -> None:
    values = parse_macro_values('{"zeta": 1, "alpha": 2, "mid": 3}', path="v.json")
    assert list(values) == ["zeta", "alpha", "mid"]


def test_parse_macro_values_flattens_line_breaks_in_strings() -> None:
    assert parse_macro_values('{"note": "a\\nb\\r\\n\\tc"}', path="v.json") == {"note": "a b c"}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("best_r2", id="underscore_digit"),
        pytest.param("bestR2", id="digit"),
        pytest.param("best-score", id="hyphen"),
        pytest.param("", id="empty"),
        pytest.param("größe", id="non_ascii"),
        pytest.param("a b", id="space"),
        pytest.param("endScore", id="end_prefix"),
        pytest.param("relax", id="relax"),
    ],
)
def test_parse_macro_values_bad_name(key: str) -> None:
    text = f'{{\n  "good": 1,\n  {json.dumps(key)}: 2\n}}\n'
    with pytest.raises(ChapterwiseError, match="bad macro name") as excinfo:
        parse_macro_values(text, path="results/v.json")
    (diag,) = excinfo.value.diagnostics
    assert (diag.code, diag.path, diag.line, diag.column) == (
        "bad-macro-name",
        "results/v.json",
        3,
        3,
    )
    assert diag.hint is not None and "e.g." in diag.hint


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("null", "is null", id="null"),
        pytest.param("[1, 2]", "is a list", id="list"),
        pytest.param('{"value": 1}', 'exactly the keys "value" and "format"', id="no_format"),
        pytest.param('{"a": {"b": 1}}', 'exactly the keys "value" and "format"', id="nested"),
        pytest.param(
            '{"value": 1, "format": ".2f", "unit": "s"}', "exactly the keys", id="extra_key"
        ),
        pytest.param('{"value": 1, "format": ".2f", "value": 2}', "exactly the keys", id="dup"),
        pytest.param('{"value": "1", "format": ".2f"}', "non-number value", id="string_value"),
        pytest.param('{"value": true, "format": "d"}', "non-number value", id="bool_value"),
        pytest.param('{"value": 1.5, "format": 2}', "not a string", id="format_not_string"),
        pytest.param('{"value": 1.5, "format": ".3q"}', "Python rejects", id="bad_spec"),
        pytest.param('{"value": 1.5, "format": "{:.2f}"}', "Python rejects", id="braces_spec"),
        pytest.param('{"value": 1.5, "format": "d"}', "Python rejects", id="int_spec_on_float"),
        pytest.param('{"value": 1, "format": "999999999"}', "over 1000", id="huge_width"),
        pytest.param("NaN", "not a finite number", id="nan"),
        pytest.param("-Infinity", "not a finite number", id="infinity"),
        pytest.param('{"value": NaN, "format": ".2f"}', "not a finite number", id="nan_in_object"),
    ],
)
def test_parse_macro_values_bad_value(value: str, message: str) -> None:
    text = f'{{\n  "good": 1,\n\n    "bad": {value}\n}}'
    with pytest.raises(ChapterwiseError, match=message) as excinfo:
        parse_macro_values(text, path="v.json")
    (diag,) = excinfo.value.diagnostics
    assert (diag.code, diag.line, diag.column) == ("bad-macro-value", 4, 5)


def test_parse_macro_values_reports_every_problem() -> None:
    text = (
        "{\n"
        '  "ok": 1,\n'
        '  "best_r2": 0.9,\n'
        '  "nested": {"inner": {"x": null}},\n'
        '  "also_bad": null, "fine": "x",\n'
        '  "ok": 2\n'
        "}\n"
    )
    with pytest.raises(ChapterwiseError) as excinfo:
        parse_macro_values(text, path="v.json")
    assert diagnostics_of(excinfo) == [
        ("bad-macro-name", 3),
        ("bad-macro-value", 4),
        ("bad-macro-name", 5),
        ("bad-macro-value", 5),
        ("duplicate-macro-name", 6),
    ]
    assert "first at line 2" in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        pytest.param('{\n  "a": 1,\n  "b": \n}\n', 4, 1, id="missing_value"),
        pytest.param('{\n  "a": 1\n  "b": 2\n}', 3, 3, id="missing_comma"),
        pytest.param("", 1, 1, id="empty"),
        pytest.param('{\n  "a": 1,\n', 2, None, id="truncated"),
        pytest.param("\ufeff{}", 1, 1, id="bom"),
    ],
)
def test_parse_macro_values_bad_json(text: str, line: int, column: int | None) -> None:
    with pytest.raises(ChapterwiseError, match="invalid JSON") as excinfo:
        parse_macro_values(text, path="v.json")
    (diag,) = excinfo.value.diagnostics
    assert (diag.code, diag.line, diag.column) == ("bad-json", line, column)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("[1, 2]", 1, id="list"),
        pytest.param('\n\n  "text"', 3, id="string"),
        pytest.param("null", 1, id="null"),
    ],
)
def test_parse_macro_values_top_level_must_be_an_object(text: str, line: int) -> None:
    with pytest.raises(ChapterwiseError, match="expected a JSON object") as excinfo:
        parse_macro_values(text, path="v.json")
    assert diagnostics_of(excinfo) == [("bad-json", line)]


def test_parse_macro_values_huge_and_deep_input() -> None:
    with pytest.raises(ChapterwiseError, match="invalid JSON"):
        parse_macro_values('{"n": ' + "9" * 5000 + "}", path="v.json")
    with pytest.raises(ChapterwiseError, match="invalid JSON"):
        parse_macro_values('{"n": ' + "[" * 100_000 + "]" * 100_000 + "}", path="v.json")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["value", "format", "x"]), children, max_size=3)
    ),
    max_leaves=6,
)


@SETTINGS
@given(
    st.one_of(
        st.text(alphabet=st.sampled_from('{}[]":,\n 1a_\\') | st.characters(), max_size=60),
        st.dictionaries(
            st.text(alphabet=string.ascii_letters + "_1 é", max_size=6), JSON_VALUES, max_size=5
        ).map(lambda d: json.dumps(d, indent=1)),
    )
)
def test_parse_macro_values_never_raises_anything_else(text: str) -> None:
    try:
        values = parse_macro_values(text, path="v.json")
    except ChapterwiseError as exc:
        assert_lines_in_range(exc, text)
    else:
        assert all(key.isascii() and key.isalpha() for key in values)


@SETTINGS
@given(st.dictionaries(MACRO_NAME, st.text(alphabet=TEXT_CHARS, max_size=20), max_size=6))
def test_string_values_round_trip(values: dict[str, str]) -> None:
    parsed = parse_macro_values(json.dumps(values), path="v.json")
    tex = render_macros(parsed, name="values")
    assert {k: unescape_latex(v) for k, v in parse_macros(tex).items()} == values


# ------------------------------------------------------------------------------ macro render


def test_render_macros_layout() -> None:
    tex = render_macros(
        {"bestScore": "0.93", "name": "a\\_b"}, name="tables/values", source="r.json"
    )
    assert tex == (
        "% Generated by chapterwise from r.json; do not edit.\n"
        "\\ifcsname chapterwise@values@tables/values\\endcsname\\else\n"
        "\\expandafter\\def\\csname chapterwise@values@tables/values\\endcsname{}%\n"
        "\\newcommand{\\bestScore}{0.93}%\n"
        "\\newcommand{\\name}{a\\_b}%\n"
        "\\fi\n"
    )


def test_render_macros_guard_name_is_csname_safe_and_distinct() -> None:
    guards = set()
    for name in ("a_b", "a-b", "a b", "a~b", "a+5f+b", "a%b"):
        first = render_macros({}, name=name).split("\n")[1]
        guard = first.removeprefix("\\ifcsname chapterwise@values@").removesuffix(
            "\\endcsname\\else"
        )
        assert set(guard) <= set(string.ascii_letters + string.digits + "./-+")
        guards.add(guard)
    assert len(guards) == 6


def test_render_macros_rejects_bad_names() -> None:
    with pytest.raises(ChapterwiseError, match="bad macro name 'x1'") as excinfo:
        render_macros({"x1": "1", "ok": "2", "endX": "3"}, name="v")
    assert [d.code for d in excinfo.value.diagnostics] == ["bad-macro-name"] * 2


@SETTINGS
@given(st.dictionaries(MACRO_NAME, CELL_TEXT.map(escape_latex), max_size=8))
def test_render_macros_round_trip(values: dict[str, str]) -> None:
    assert parse_macros(render_macros(values, name="values", source="x.json")) == values


# ----------------------------------------------------------------------------- real pdflatex


def run_pdflatex(directory: Path, document: str) -> subprocess.CompletedProcess[str]:
    (directory / "doc.tex").write_text(document, encoding="utf-8")
    assert PDFLATEX is not None
    return subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pdf_text(directory: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return " ".join(page.extract_text() for page in pypdf.PdfReader(directory / "doc.pdf").pages)


PREAMBLE = "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"


@needs_pdflatex
def test_macros_file_can_be_input_twice(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "values.json").write_text(
        json.dumps({"bestScore": {"value": 0.9312, "format": ".1%"}, "modelName": "Net_A & B"}),
        encoding="utf-8",
    )
    assert render_macros_file(
        tmp_path / "results" / "values.json", tmp_path / "tables" / "values.tex", root=tmp_path
    )
    result = run_pdflatex(
        tmp_path,
        PREAMBLE + "\\input{tables/values}\n\\input{tables/values}\n\\begin{document}\n"
        "\\input{tables/values}\nScore \\bestScore{} by \\modelName.\n\\end{document}\n",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Score 93.1% by Net_A & B." in pdf_text(tmp_path)


@needs_pdflatex
def test_macros_clash_with_latex_command_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "values.tex").write_text(render_macros({"section": "x"}, name="values"))
    result = run_pdflatex(
        tmp_path, PREAMBLE + "\\input{values}\n\\begin{document}\nx\n\\end{document}\n"
    )
    assert result.returncode != 0
    assert "Command \\section already defined" in result.stdout


@needs_pdflatex
def test_rendered_table_compiles_in_a_table_float(tmp_path: Path) -> None:
    table = Table(
        ("[h] name" + SPECIALS, "*value", "n"),
        (
            ("[1] first " + SPECIALS, "0.25", "3"),
            ("*second", "-1e-3", ""),
            (" [third", "", "12"),
            ("fourth\nline", "nan", "1"),
        ),
    )
    (tmp_path / "table.tex").write_text(render_table(table, source="results/t.csv"))
    result = run_pdflatex(
        tmp_path,
        PREAMBLE + "\\usepackage{booktabs}\n\\begin{document}\n"
        "\\begin{table}\n\\centering\n\\input{table}\n\\caption{Results.}\\label{tab:r}\n"
        "\\end{table}\n\\end{document}\n",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    text = pdf_text(tmp_path)
    for fragment in ("[h] name", "[1] first", "*second", "[third", "fourth line", "0.25"):
        assert fragment in text


# --------------------------------------------------------------------------------- file edge


def make_project(tmp_path: Path, csv_text: str) -> Path:
    (tmp_path / "results").mkdir()
    csv_path = tmp_path / "results" / "fit.csv"
    csv_path.write_text(csv_text, encoding="utf-8")
    return csv_path


def test_render_table_file_writes_only_on_change(tmp_path: Path) -> None:
    csv_path = make_project(tmp_path, "a,b\nx,1\n")
    out = tmp_path / "tables" / "fit.tex"
    assert render_table_file(csv_path, out, template_path=None, root=tmp_path) is True
    assert out.read_text().startswith("% Generated by chapterwise from results/fit.csv;")
    assert render_table_file(csv_path, out, template_path=None, root=tmp_path) is False
    csv_path.write_text("a,b\nx,2\n", encoding="utf-8")
    assert render_table_file(csv_path, out, template_path=None, root=tmp_path) is True
    assert "x & 2 \\\\" in out.read_text()


def test_render_table_file_user_template(tmp_path: Path) -> None:
    csv_path = make_project(tmp_path, "a,b\nx,1\n")
    template = tmp_path / "tables" / "fit.tex.j2"
    template.parent.mkdir()
    template.write_text("\\VAR{align}: \\VAR{rows[0] | join('|')}\n", encoding="utf-8")
    out = tmp_path / "tables" / "fit.tex"
    assert render_table_file(csv_path, out, template_path=template, root=tmp_path)
    assert out.read_text() == "lr: x|1\n"


def test_render_table_file_diagnostic_paths_are_relative(tmp_path: Path) -> None:
    csv_path = make_project(tmp_path, "a,b\nx\n")
    out = tmp_path / "tables" / "fit.tex"
    with pytest.raises(ChapterwiseError) as excinfo:
        render_table_file(csv_path, out, template_path=None, root=tmp_path)
    assert format_diagnostic(excinfo.value.diagnostics[0]).startswith("results/fit.csv:2: error:")
    csv_path.write_text("a,b\nx,1\n", encoding="utf-8")
    template = tmp_path / "fit.tex.j2"
    template.write_text("\n\\VAR{nope}\n", encoding="utf-8")
    with pytest.raises(ChapterwiseError) as excinfo:
        render_table_file(csv_path, out, template_path=template, root=tmp_path)
    assert format_diagnostic(excinfo.value.diagnostics[0]).startswith("fit.tex.j2:2: error:")
    assert not out.exists()


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        pytest.param(b"a,b\n1,2\n\xff\xfe,3\n", "bad-encoding", 3, id="latin1"),
        pytest.param(None, "unreadable-file", None, id="missing"),
    ],
)
def test_render_table_file_read_errors(
    tmp_path: Path, data: bytes | None, code: str, line: int | None
) -> None:
    csv_path = tmp_path / "results" / "fit.csv"
    if data is not None:
        csv_path.parent.mkdir()
        csv_path.write_bytes(data)
    with pytest.raises(ChapterwiseError) as excinfo:
        render_table_file(csv_path, tmp_path / "t.tex", template_path=None, root=tmp_path)
    (diag,) = excinfo.value.diagnostics
    assert (diag.code, diag.path, diag.line) == (code, "results/fit.csv", line)


def test_render_table_file_write_error(tmp_path: Path) -> None:
    csv_path = make_project(tmp_path, "a\n1\n")
    (tmp_path / "tables").write_text("a file where a directory should be")
    with pytest.raises(ChapterwiseError, match="cannot write file") as excinfo:
        render_table_file(
            csv_path, tmp_path / "tables" / "t.tex", template_path=None, root=tmp_path
        )
    assert [(d.code, d.path) for d in excinfo.value.diagnostics] == [
        ("unwritable-file", "tables/t.tex")
    ]


def test_render_table_file_accepts_utf8_bom(tmp_path: Path) -> None:
    csv_path = tmp_path / "fit.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfa,b\nx,1\n")
    out = tmp_path / "fit.tex"
    render_table_file(csv_path, out, template_path=None, root=tmp_path)
    assert "a & b \\\\" in out.read_text()


def test_render_macros_file(tmp_path: Path) -> None:
    json_path = tmp_path / "results" / "values.json"
    json_path.parent.mkdir()
    json_path.write_text('{"nRuns": 3}', encoding="utf-8")
    out = tmp_path / "tables" / "values.tex"
    assert render_macros_file(json_path, out, root=tmp_path) is True
    tex = out.read_text()
    assert tex.startswith(
        "% Generated by chapterwise from results/values.json; do not edit.\n"
        "\\ifcsname chapterwise@values@tables/values\\endcsname\\else\n"
    )
    assert parse_macros(tex) == {"nRuns": "3"}
    assert render_macros_file(json_path, out, root=tmp_path) is False
    json_path.write_text('{\n"n_runs": 3}', encoding="utf-8")
    with pytest.raises(ChapterwiseError) as excinfo:
        render_macros_file(json_path, out, root=tmp_path)
    assert format_diagnostic(excinfo.value.diagnostics[0]).startswith(
        "results/values.json:2:1: error: bad macro name 'n_runs'"
    )
    assert parse_macros(out.read_text()) == {"nRuns": "3"}
