"""The repository's own thesis, built end to end from a copy of its sources (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.e2e.conftest import REPO, build, planned_jobs, snakemake
from tests.pdforacle import pdf_text

pytestmark = pytest.mark.slow


def source_files() -> list[str]:
    """The repository's sources: tracked files and new files git does not ignore."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to tell sources from build products")
    target = tmp_path_factory.mktemp("example") / "thesis"
    for name in source_files():
        if name.startswith(("tests/", "bench/", ".ci/")):
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)
    build(target)
    # Previews typeset before the first thesis build carry chapter numbers but not yet the
    # thesis' cross-references; rebuilding them once reaches the state of a working tree.
    result = snakemake(target, "thesis.pdf", "--forcerun", "compile_chapter")
    assert result.returncode == 0, result.stderr[-4000:]
    return target


def declared_outputs(root: Path) -> dict[str, list[str]]:
    """notebook stem -> declared outputs, read through the same parser the build uses."""
    from chapterwise.frontmatter import read_front_matter

    return {
        path.stem: list(read_front_matter(path, root=root).outputs)
        for path in sorted((root / "notebooks").iterdir())
        if path.suffix in (".qmd", ".ipynb", ".py")
    }


def chapters_using(root: Path, notebook: str) -> set[str]:
    """Chapters that read an output of ``notebook`` or a table rendered from one."""
    from chapterwise.config import read_config
    from chapterwise.project import load_project

    project = load_project(root, read_config(root))
    made = set(project.notebook(notebook).outputs)
    made |= {f"tables/{Path(f).stem}.tex" for f in made if f.startswith("results/")}
    return {
        chapter.name
        for chapter in project.chapters
        if made & set(project.chapter_deps[chapter.name].files)
    }


def test_builds_a_complete_thesis(example: Path) -> None:
    reader = PdfReader(example / "thesis.pdf")
    assert len(reader.pages) >= 20
    assert reader.metadata is not None
    assert reader.metadata.title.startswith("Cycles of Hares and Lynxes")
    text = pdf_text(example / "thesis.pdf")
    for heading in ("Contents", "List of Figures", "List of Tables", "Bibliography"):
        assert heading in text
    assert "??" not in text, "every reference and citation resolved"


def test_every_notebook_format_ran_and_wrote_its_outputs(example: Path) -> None:
    outputs = declared_outputs(example)
    suffixes = {path.suffix for path in (example / "notebooks").iterdir()}
    assert {".qmd", ".ipynb", ".py"} <= suffixes
    for name, files in outputs.items():
        executed = json.loads((example / "build" / "notebooks" / f"{name}.ipynb").read_text())
        assert any(cell.get("outputs") is not None for cell in executed["cells"])
        for output in files:
            assert (example / output).is_file(), output


def test_chapter_previews_carry_their_thesis_numbers(example: Path) -> None:
    from chapterwise.config import read_config
    from chapterwise.project import load_project

    project = load_project(example, read_config(example))
    numbered = [c for c in project.chapters if "appendix" not in c.name]
    for number, chapter in enumerate(numbered, start=1):
        text = pdf_text(example / "build" / "chapters" / f"{chapter.name}.pdf")
        assert f"Chapter {number}" in text, chapter.name
        assert "??" not in text, f"{chapter.name}: references to other chapters resolve"


def test_sources_stay_clean(example: Path) -> None:
    tex_junk = [p for p in example.rglob("*") if p.suffix in (".aux", ".log", ".fls", ".toc")]
    outside = [
        p for p in tex_junk if not {"build", ".snakemake"} & set(p.relative_to(example).parts)
    ]
    assert outside == []


def test_nothing_to_do_after_a_build(example: Path) -> None:
    assert planned_jobs(example) == set()


def test_a_notebook_edit_plans_only_what_depends_on_it(example: Path, tmp_path: Path) -> None:
    work = tmp_path / "thesis"
    shutil.copytree(example, work, symlinks=True)
    notebook = work / "notebooks" / "simulate.py"
    notebook.write_text(notebook.read_text() + "\n# %%\nprint('one more cell')\n")
    planned = planned_jobs(work)
    rules = {rule for rule, _ in planned}
    notebooks = {rule for rule in rules if rule.startswith("render_notebook_")}
    assert notebooks == {"render_notebook_simulate"}
    chapters = {output for rule, output in planned if rule == "compile_chapter"}
    users = {f"build/chapters/{name}.pdf" for name in chapters_using(work, "simulate")}
    assert chapters == users and chapters, "exactly the chapters that use its artifacts"
    assert {("compile_thesis", "build/thesis.pdf"), ("publish_thesis", "thesis.pdf")} <= planned


def test_watch_rebuilds_an_edited_chapter_of_this_thesis(example: Path, tmp_path: Path) -> None:
    from tests.test_watch import Watcher, pdf_text, wait_for_pdf_text

    work = tmp_path / "thesis"
    shutil.copytree(example, work, symlinks=True)
    preview = work / "build" / "chapters" / "methods.pdf"
    synctex = preview.with_suffix(".synctex.gz")
    synctex_mtime = synctex.stat().st_mtime_ns
    other = work / "build" / "chapters" / "results.pdf"
    other_bytes = other.read_bytes()
    session = Watcher(work)
    try:
        session.wait_for_line(r"^watching ")
        chapter = work / "chapters" / "methods.tex"
        text = chapter.read_text(encoding="utf-8")
        chapter.write_text(text.replace(" the ", " the platypusword ", 1), encoding="utf-8")
        wait_for_pdf_text(preview, "platypusword", watcher=session)
        wait_for_pdf_text(work / "thesis.pdf", "platypusword", watcher=session)
        session.wait_for_line(r"✓ thesis\.pdf in [\d.]+ s")
    finally:
        session.close()
    assert other.read_bytes() == other_bytes, "an unaffected preview is left alone"
    assert synctex.stat().st_mtime_ns != synctex_mtime, "the preview's SyncTeX follows it"
    assert (work / "thesis.synctex.gz").is_file()
    assert "platypusword" not in pdf_text(other)
