"""The check command's parts: artifacts, TeX logs, severities and report formats."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chapterwise.check import (
    apply_severities,
    check_artifacts,
    check_logs,
    render,
    run_checks,
    write_report,
)
from chapterwise.config import parse_config
from chapterwise.diagnostics import Diagnostic, Severity, error, warning
from chapterwise.project import load_project
from tests.conftest import DATA

MAIN = r"""\documentclass{report}
\usepackage{graphicx}
\begin{document}
\include{chapters/intro}
\end{document}
"""

NOTEBOOK = """# ---
# outputs:
#   - figures/used.pdf
#   - figures/orphan.pdf
#   - results/stats.csv
# ---

# %%
print("hi")
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def project(root: Path, intro: str):  # type: ignore[no-untyped-def]
    write(
        root,
        {"thesis.tex": MAIN, "notebooks/make.py": NOTEBOOK, "chapters/intro.tex": intro},
    )
    return load_project(root, parse_config({}, root=root))


def test_unused_generated_files_are_warnings_at_their_declaration(tmp_path: Path) -> None:
    found = check_artifacts(
        project(tmp_path, "\\chapter{A}\n\\includegraphics{figures/used}\n\\input{tables/stats}\n")
    )
    assert [(d.severity, d.code, d.path, d.line) for d in found] == [
        (Severity.WARNING, "unused-artifact", "notebooks/make.py", 4)
    ]
    assert "'figures/orphan.pdf' is generated but no chapter uses it" in found[0].message


def test_a_diagram_no_chapter_includes_is_a_warning_at_its_dot_file(tmp_path: Path) -> None:
    write(
        tmp_path, {"figures/flow.dot": "digraph { a -> b }\n", "figures/pipe.dot": "digraph {}\n"}
    )
    found = check_artifacts(
        project(
            tmp_path,
            "\\chapter{A}\n\\includegraphics{figures/used}\n\\includegraphics{figures/orphan}\n"
            "\\input{tables/stats}\n\\includegraphics{figures/flow}\n",
        )
    )
    assert [(d.severity, d.code, d.path, d.line) for d in found] == [
        (Severity.WARNING, "unused-artifact", "figures/pipe.dot", None)
    ]
    assert "'figures/pipe.pdf' is generated but no chapter uses it" in found[0].message


def test_a_file_nothing_provides_is_an_error(tmp_path: Path) -> None:
    found = check_artifacts(
        project(
            tmp_path,
            "\\chapter{A}\n\\includegraphics{figures/used}\n\\includegraphics{figures/orphan}\n"
            "\\input{tables/stats}\n\\input{tables/nowhere}\n",
        )
    )
    assert [(d.severity, d.path, d.line) for d in found] == [
        (Severity.ERROR, "chapters/intro.tex", 5)
    ]
    assert "tables/nowhere" in found[0].message


def test_table_files_nothing_inputs_are_reported(tmp_path: Path) -> None:
    found = check_artifacts(project(tmp_path, "\\chapter{A}\n\\includegraphics{figures/used}\n"))
    assert {d.message.split("'")[1] for d in found} == {"figures/orphan.pdf", "tables/stats.tex"}


def typeset(directory: Path) -> Path:
    """A real pdfTeX log with two overfull boxes and an undefined reference."""
    (directory / "chapters").mkdir()
    (directory / "chapters" / "a.tex").write_text(
        "\\chapter{A}\n"
        "\\hbox to 1cm{Much too long for its box, really}\n\n"
        "\\hbox to 1cm{Also much too long for its box}\n\n"
        "See \\ref{nowhere}.\n"
    )
    (directory / "thesis.tex").write_text(
        "\\documentclass{report}\\begin{document}\\include{chapters/a}\\end{document}\n"
    )
    env = {**os.environ, "max_print_line": "10000"}
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-file-line-error", "thesis.tex"],
        cwd=directory,
        env=env,
        capture_output=True,
        check=False,
    )
    return directory / "thesis.log"


def test_logs_become_lines_with_overfull_boxes_counted_per_file(tmp_path: Path) -> None:
    log = typeset(tmp_path)
    found = check_logs([log, log], root=tmp_path)  # a chapter log and the thesis log agree
    undefined = [d for d in found if d.code == "undefined-reference"]
    assert len(undefined) == 1, "the same problem from two logs is reported once"
    assert (undefined[0].path, undefined[0].line) == ("chapters/a.tex", 6)
    overfull = [d for d in found if d.code == "overfull-box"]
    assert [(d.severity, d.path, d.line, d.message) for d in overfull] == [
        (Severity.NOTE, "chapters/a.tex", 2, "2 overfull boxes")
    ]


def test_a_missing_log_has_nothing_to_say(tmp_path: Path) -> None:
    assert check_logs([tmp_path / "absent.log"], root=tmp_path) == []


DIAGS = [
    error("undefined reference 'x'", "undefined-reference", "chapters/a.tex", 3, 5, "did you?"),
    warning("entry 'b' is never cited", "uncited-entry", "bib/refs.bib", 9),
    Diagnostic(Severity.NOTE, "38 pages", "page-count", "thesis.pdf"),
]


def test_severities_from_the_config_relevel_or_drop() -> None:
    result = apply_severities(DIAGS, {"uncited-entry": "error", "page-count": "off"})
    assert [(d.code, d.severity) for d in result] == [
        ("undefined-reference", Severity.ERROR),
        ("uncited-entry", Severity.ERROR),
    ]


def test_formats() -> None:
    text = render(DIAGS, "text").splitlines()
    assert text[0] == (
        "chapters/a.tex:3:5: error: undefined reference 'x'; did you? [undefined-reference]"
    )
    parsed = json.loads(render(DIAGS, "json"))
    assert parsed[1] == {
        "severity": "warning",
        "code": "uncited-entry",
        "message": "entry 'b' is never cited",
        "path": "bib/refs.bib",
        "line": 9,
        "column": None,
        "hint": None,
    }
    github = render(DIAGS, "github").splitlines()
    assert github[0] == (
        "::error file=chapters/a.tex,line=3,col=5,title=undefined-reference::"
        "undefined reference 'x'; did you?"
    )
    assert github[2] == "::notice file=thesis.pdf,title=page-count::38 pages"


def test_report_file_counts_by_severity(tmp_path: Path) -> None:
    report = tmp_path / "build" / "reports" / "crossrefs.json"
    write_report(report, "crossrefs", DIAGS)
    document = json.loads(report.read_text())
    assert (document["check"], document["errors"], document["warnings"]) == ("crossrefs", 1, 1)
    assert len(document["diagnostics"]) == 3


def test_the_main_file_is_found_when_only_one_has_a_documentclass(tmp_path: Path) -> None:
    from chapterwise.check import main_candidates, run_checks

    (tmp_path / "paper.tex").write_text(
        "% \\documentclass{x} in a comment\n\\documentclass{article}\n"
    )
    (tmp_path / "macros.tex").write_text("\\newcommand{\\x}{y} % not \\documentclass\n")
    assert main_candidates(tmp_path) == ["paper.tex"]
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\nSee \\ref{nowhere}.\n\\end{document}\n"
    )
    found = run_checks(tmp_path, parse_config({}, root=tmp_path), ("crossrefs",))
    assert [(d.path, d.line, d.code) for d in found] == [("paper.tex", 3, "undefined-reference")]


def test_several_main_candidates_are_named_in_the_hint(tmp_path: Path) -> None:
    from chapterwise.check import run_checks

    for name in ("a.tex", "b.tex"):
        (tmp_path / name).write_text("\\documentclass{article}\n")
    (found,) = run_checks(tmp_path, parse_config({}, root=tmp_path), ("crossrefs",))
    assert found.code == "missing-main"
    assert found.hint == "name the main .tex (one of a.tex, b.tex)"
    (explicit,) = run_checks(
        tmp_path, parse_config({}, root=tmp_path), ("crossrefs",), main="thesis.tex"
    )
    assert explicit.message == "main file 'thesis.tex' not found"


def laid_out_differently(root: Path, *present: str) -> Path:
    """tests/data/bad/missing-figure.tex as other.tex, with the files ``present`` beside it."""
    shutil.copy2(DATA / "bad" / "missing-figure.tex", root / "other.tex")
    write(root, {name: "x\n" for name in present})
    return root


def run(root: Path, *checks: str, main: str = "other.tex") -> list[Diagnostic]:
    return run_checks(root, parse_config({}, root=root), checks or ("artifacts",), main=main)


def test_missing_figure_and_input_of_another_thesis_are_errors(tmp_path: Path) -> None:
    root = laid_out_differently(tmp_path, "img/plot.png")
    found = run(root)
    assert [(d.severity, d.path, d.line, d.column) for d in found] == [
        (Severity.ERROR, "other.tex", 6, 1),
        (Severity.ERROR, "other.tex", 7, 1),
    ]
    assert [d.message.split("'")[1] for d in found] == ["absent", "sections/intro"]
    assert all(d.code == "missing-file" for d in found)


@pytest.mark.parametrize(
    "figure",
    [
        pytest.param("img/absent.pdf", id="graphicspath_pdf"),
        pytest.param("img/absent.jpeg", id="graphicspath_jpeg"),
        pytest.param("absent.png", id="beside_main"),
    ],
)
def test_figures_found_as_pdftex_finds_them_are_not_reported(tmp_path: Path, figure: str) -> None:
    root = laid_out_differently(tmp_path, "img/plot.png", figure, "sections/intro.tex")
    assert run(root) == []


def test_a_missing_input_is_reported_once_by_all_static_checks(tmp_path: Path) -> None:
    root = laid_out_differently(tmp_path, "img/plot.png", "absent.pdf")
    found = run(root, "bibliography", "crossrefs", "artifacts")
    assert [(d.code, d.line) for d in found] == [("missing-file", 7)]
    (only_crossrefs,) = run(root, "crossrefs")
    assert (only_crossrefs.code, only_crossrefs.line) == ("missing-file", 7)


def test_an_unclosed_label_argument_is_a_warning_with_line_and_column(tmp_path: Path) -> None:
    shutil.copy2(DATA / "bad" / "unbalanced-brace.tex", tmp_path / "paper.tex")
    found = run(tmp_path, "crossrefs", main="paper.tex")
    braces = [d for d in found if d.code == "unbalanced-brace"]
    assert [(d.severity, d.path, d.line, d.column) for d in braces] == [
        (Severity.WARNING, "paper.tex", 3, 16)
    ]
    (tmp_path / "paper.tex").write_text(
        (tmp_path / "paper.tex").read_text().replace("sec:intro\n", "sec:intro}\n")
    )
    assert run(tmp_path, "crossrefs", main="paper.tex") == []
