"""Each bad input: a one-line file:line error, a non-zero exit, the last good thesis.pdf kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import snakemake


def assert_fails_with(mini: Path, pattern: str) -> str:
    before = (mini / "thesis.pdf").read_bytes()
    result = snakemake(mini, "thesis.pdf")
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert re.search(pattern, output, re.MULTILINE), output[-3000:]
    assert (mini / "thesis.pdf").read_bytes() == before, "the last good thesis.pdf is kept"
    return output


def replace_line(path: Path, marker: str, new: str) -> int:
    """Insert ``new`` after the first line containing ``marker``; returns the new line's number."""
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if marker in line)
    lines.insert(index + 1, new)
    path.write_text("\n".join(lines) + "\n")
    return index + 2


def test_latex_error_in_a_chapter(mini: Path) -> None:
    line = replace_line(
        mini / "chapters" / "intro.tex", "\\chapter", r"Broken \undefinedmacro here."
    )
    output = assert_fails_with(
        mini, rf"^chapters/intro\.tex:{line}: error: Undefined control sequence"
    )
    assert "! Undefined control sequence" not in output.split("chapters/intro.tex")[0][-200:]


def test_failing_notebook_cell(mini: Path) -> None:
    notebook = mini / "notebooks" / "analysis.py"
    line = replace_line(notebook, "import csv", "1 / 0")
    assert_fails_with(
        mini,
        rf"^notebooks/analysis\.py:{line}: error: cell \d+ failed: "
        r"ZeroDivisionError: division by zero",
    )


def test_missing_figure(mini: Path) -> None:
    line = replace_line(
        mini / "chapters" / "results.tex", "\\chapter", r"\includegraphics{figures/nowhere}"
    )
    assert_fails_with(
        mini,
        rf"^chapters/results\.tex:{line}:1: error: figure 'figures/nowhere' not found "
        r"and no notebook declares it",
    )


def test_output_outside_the_repository(mini: Path) -> None:
    notebook = mini / "notebooks" / "analysis.py"
    text = notebook.read_text()
    assert "#   - results/growth.csv" in text
    notebook.write_text(text.replace("#   - results/growth.csv", "#   - ../growth.csv", 1))
    assert_fails_with(
        mini,
        r"^notebooks/analysis\.py:\d+: error: output '\.\./growth\.csv' is outside the project",
    )


def test_declared_output_not_written(mini: Path) -> None:
    notebook = mini / "notebooks" / "analysis.py"
    text = notebook.read_text()
    notebook.write_text(
        text.replace("# outputs:\n", "# outputs:\n#   - figures/forgotten.pdf\n", 1)
    )
    assert_fails_with(
        mini,
        r"^notebooks/analysis\.py:\d+: error: "
        r"declared output 'figures/forgotten\.pdf' was not written",
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("output: ../out.pdf\n", id="output_outside"),
        pytest.param("thesis: 12\n", id="wrong_type"),
    ],
)
def test_bad_config(mini: Path, text: str) -> None:
    (mini / "config.yaml").write_text(text)
    assert_fails_with(mini, r"^config\.yaml:1: error: ")
