"""Tests for chapterwise.diagrams: dot's messages as diagnostics, reproducible PDFs from dot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from chapterwise.diagnostics import ChapterwiseError, Severity, format_diagnostic
from chapterwise.diagrams import normalise_pdf_dates, parse_dot_messages, pdf_date, render_diagram

from .conftest import tool_env

EPOCH = 1704067200  # the schema's default source_date_epoch
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
PATH = "figures/x.dot"
GOOD = "digraph {\n  data -> notebooks;\n  notebooks -> thesis;\n}\n"
BAD = "digraph {\n  data -> notebooks;\n  notebooks -> ;\n}\n"


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        pytest.param(
            "Error: figures/x.dot: syntax error in line 3 near ';'\n",
            [("error", 3, "syntax error near ';'")],
            id="syntax_error_near_token",
        ),
        pytest.param(
            "$ dot -Tpdf -o build/x.pdf figures/x.dot\n"
            "Error: figures/x.dot: syntax error in line 2 scanning a quoted string "
            '(missing endquote? longer than 16384?)\nString starting:"x];\n}\n',
            [
                (
                    "error",
                    2,
                    "syntax error scanning a quoted string (missing endquote? longer than 16384?)",
                )
            ],
            id="unterminated_string_between_noise",
        ),
        pytest.param(
            "Error: syntax error in line 1 near '->'\n",
            [("error", 1, "syntax error near '->'")],
            id="no_file_name",
        ),
        pytest.param(
            "Error: figures/x.dot: syntax error in line 99 near ''\n",
            [("error", 4, "syntax error near ''")],
            id="end_of_input_clamped_to_last_line",
        ),
        pytest.param(
            "Warning: using box for unknown shape bogus\n",
            [("warning", None, "using box for unknown shape bogus")],
            id="warning_without_line",
        ),
        pytest.param(
            "Warning: figures/x.dot: syntax ambiguity - badly delimited number '1a' in line 2 "
            "of figures/x.dot splits into two tokens\n",
            [
                (
                    "warning",
                    2,
                    "syntax ambiguity - badly delimited number '1a' splits into two tokens",
                )
            ],
            id="warning_with_line",
        ),
        pytest.param(
            "Error: dot: can't open figures/x.dot\n",
            [("error", None, "can't open figures/x.dot")],
            id="error_without_line",
        ),
        pytest.param("layout done\n", [], id="no_messages"),
    ],
)
def test_dot_messages(stderr: str, expected: list[tuple[str, int | None, str]]) -> None:
    found = parse_dot_messages(stderr, path=PATH, n_lines=4)
    assert [(d.severity.value, d.line, d.message) for d in found] == expected
    assert all(d.path == PATH for d in found)
    assert {d.code for d in found} <= {"diagram-error", "diagram-warning"}


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_dot_messages_never_raise_and_lines_are_in_range(text: str, n_lines: int) -> None:
    for diag in parse_dot_messages(text, path=PATH, n_lines=n_lines):
        assert diag.line is None or 1 <= diag.line <= n_lines
        assert len(format_diagnostic(diag).splitlines()) == 1


CHUNK = st.binary(max_size=30).filter(lambda b: b"Date" not in b)
DATE = st.from_regex(r"D:[0-9]{0,14}(Z|[+-][0-9]{2}'[0-9]{2})?", fullmatch=True)


@given(st.lists(st.tuples(CHUNK, DATE), max_size=4), st.integers(min_value=0, max_value=2**32))
def test_normalised_dates_keep_every_offset(parts: list[tuple[bytes, str]], epoch: int) -> None:
    data = b"".join(chunk + b"/CreationDate (" + date.encode() + b")" for chunk, date in parts)
    fixed = normalise_pdf_dates(data, epoch)
    assert len(fixed) == len(data)
    for date in re.findall(rb"/CreationDate \((D:[^)]*)\)", fixed):
        assert pdf_date(epoch).startswith(date)


def render(root: Path, text: str) -> list:
    (root / "figures").mkdir(exist_ok=True)
    (root / PATH).write_text(text)
    return render_diagram(
        root / PATH,
        root / "figures/x.pdf",
        root=root,
        log=root / "build/logs/render_diagram/x.log",
        source_date_epoch=EPOCH,
    )


@needs_dot
def test_two_renders_a_second_apart_are_byte_identical(tmp_path: Path) -> None:
    assert render(tmp_path, GOOD) == []
    first = (tmp_path / "figures/x.pdf").read_bytes()
    time.sleep(1.1)  # cairo's own CreationDate has one-second resolution
    (tmp_path / "figures/x.pdf").unlink()
    render(tmp_path, GOOD)
    second = (tmp_path / "figures/x.pdf").read_bytes()
    assert first == second
    reader = PdfReader(tmp_path / "figures/x.pdf", strict=True)  # offsets still valid
    assert len(reader.pages) == 1
    assert reader.metadata is not None and reader.metadata["/CreationDate"] == "D:20240101000000Z"
    assert list((tmp_path / "build/diagrams").iterdir()) == []  # no temporary left behind


@needs_dot
def test_syntax_error_keeps_the_last_pdf_and_names_the_line(tmp_path: Path) -> None:
    render(tmp_path, GOOD)
    before = (tmp_path / "figures/x.pdf").read_bytes()
    with pytest.raises(ChapterwiseError, match="syntax error") as caught:
        render(tmp_path, BAD)
    (diag,) = caught.value.diagnostics
    assert (
        format_diagnostic(diag) == "figures/x.dot:3: error: syntax error near ';' [diagram-error]"
    )
    assert (tmp_path / "figures/x.pdf").read_bytes() == before


@needs_dot
def test_empty_source_is_an_error_not_an_empty_pdf(tmp_path: Path) -> None:
    with pytest.raises(ChapterwiseError, match="dot wrote no PDF"):
        render(tmp_path, "")
    assert not (tmp_path / "figures/x.pdf").exists()


def run_cli(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chapterwise", "render-diagram", PATH]
    command += ["--output", "figures/x.pdf", "--log", "build/logs/render_diagram/x.log"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)


@needs_dot
def test_cli_reports_file_line_and_fails(project_dir: Path) -> None:
    (project_dir / "thesis.tex").write_text("")
    (project_dir / PATH).write_text(GOOD)
    ok = run_cli(project_dir, tool_env())
    assert ok.returncode == 0, ok.stderr
    before = (project_dir / "figures/x.pdf").read_bytes()
    (project_dir / PATH).write_text(BAD)
    bad = run_cli(project_dir, tool_env())
    assert bad.returncode == 1
    assert re.match(r"^figures/x\.dot:3: error: .*\[diagram-error\]$", bad.stderr.strip())
    assert (project_dir / "figures/x.pdf").read_bytes() == before
    assert "syntax error in line 3" in (project_dir / "build/logs/render_diagram/x.log").read_text()


def test_cli_without_dot_is_a_missing_tool(project_dir: Path) -> None:
    (project_dir / PATH).write_text(GOOD)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no graphviz there
    result = run_cli(project_dir, env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: 'dot' is not installed")
    assert result.stderr.rstrip().endswith("[missing-tool]")
    assert not (project_dir / "figures/x.pdf").exists()


def test_warnings_are_not_errors() -> None:
    (diag,) = parse_dot_messages("Warning: x\n", path=PATH, n_lines=1)
    assert diag.severity is Severity.WARNING
