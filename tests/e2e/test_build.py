"""Full builds, incremental plans and early cutoff, with real Snakemake and real LaTeX."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pypdf import PdfReader

from tests.e2e.conftest import build, planned_jobs, snakemake
from tests.pdforacle import pdf_text


def test_full_build_produces_thesis_and_chapter_previews(built_mini: Path) -> None:
    thesis = built_mini / "thesis.pdf"
    assert PdfReader(thesis).pages
    text = pdf_text(thesis)
    assert "Introduction" in text and "Results" in text
    assert "??" not in text, "cross-references and citations resolved"
    for chapter in ("intro", "results"):
        preview = built_mini / "build" / "chapters" / f"{chapter}.pdf"
        assert PdfReader(preview).pages
    results = pdf_text(built_mini / "build" / "chapters" / "results.pdf")
    assert "Chapter 2" in results, "a chapter preview keeps its number in the thesis"
    assert "??" not in results, "references to other chapters resolve in a preview"


def test_sources_stay_clean(built_mini: Path) -> None:
    chapters = sorted(p.name for p in (built_mini / "chapters").iterdir())
    assert chapters == ["intro.tex", "results.tex"]
    assert not list(built_mini.glob("*.aux")) and not list(built_mini.glob("*.log"))


def test_nothing_to_do_after_a_build(mini: Path) -> None:
    assert planned_jobs(mini) == set()


def test_notebook_edit_plans_exactly_its_downstream(mini: Path) -> None:
    notebook = mini / "notebooks" / "analysis.py"
    notebook.write_text(notebook.read_text() + "\n# a comment that changes the notebook\n")
    assert planned_jobs(mini) == {
        ("render_notebook_analysis", "figures/growth.pdf"),
        ("render_table", "tables/growth.tex"),
        ("render_macros", "tables/growth_values.tex"),
        ("compile_chapter", "build/chapters/results.pdf"),
        ("compile_thesis", "build/thesis.pdf"),
        ("publish_thesis", "thesis.pdf"),
    }


def test_chapter_edit_plans_that_chapter_and_the_thesis(mini: Path) -> None:
    chapter = mini / "chapters" / "intro.tex"
    chapter.write_text(chapter.read_text() + "\nOne more sentence.\n")
    assert planned_jobs(mini) == {
        ("compile_chapter", "build/chapters/intro.pdf"),
        ("compile_thesis", "build/thesis.pdf"),
        ("publish_thesis", "thesis.pdf"),
    }


def test_identical_regeneration_costs_no_pdflatex_pass(mini: Path) -> None:
    notebook = mini / "notebooks" / "analysis.py"
    notebook.write_text(notebook.read_text() + "\n# changes the source, not the results\n")
    tex_logs = [
        mini / "build" / "chapters" / "results" / "results.log",
        mini / "build" / "thesis" / "thesis.log",
    ]
    before = {p: p.stat().st_mtime_ns for p in tex_logs}
    thesis_before = (mini / "thesis.pdf").read_bytes()
    table = (mini / "tables" / "growth.tex").read_bytes()
    build(mini)
    # Snakemake rewrites every output of a job it reruns, so the table's mtime moves; its
    # bytes do not, and latexmk's content hashes then skip pdflatex (TeX logs untouched).
    assert (mini / "tables" / "growth.tex").read_bytes() == table
    assert {p: p.stat().st_mtime_ns for p in tex_logs} == before, "pdflatex ran"
    assert (mini / "thesis.pdf").read_bytes() == thesis_before
    assert planned_jobs(mini) == set()


def test_changed_results_rebuild_and_show_up(mini: Path) -> None:
    data = mini / "data" / "points.csv"
    lines = data.read_text().splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",999"
    data.write_text("\n".join(lines) + "\n")
    before = (mini / "thesis.pdf").read_bytes()
    result = build(mini)
    assert "compile_chapter" in result.stderr
    assert (mini / "thesis.pdf").read_bytes() != before


def test_dag_renders(mini: Path) -> None:
    # Snakemake 9's --dag and --rulegraph take an optional format: the target goes first,
    # or the format is named.
    for args in (
        ("thesis.pdf", "--dag"),
        ("--dag", "dot", "thesis.pdf"),
        ("thesis.pdf", "--rulegraph"),
    ):
        result = snakemake(mini, *args)
        assert result.returncode == 0, result.stderr
        svg = subprocess.run(
            ["dot", "-Tsvg"], input=result.stdout, capture_output=True, text=True, check=True
        ).stdout
        assert "compile_thesis" in svg and "render_notebook_analysis" in svg
