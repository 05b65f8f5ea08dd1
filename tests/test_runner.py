"""runner: real Snakemake runs through its Python API, in the test process, on the mini thesis."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from chapterwise.diagnostics import Severity
from chapterwise.runner import SnakemakeRun, format_failure, run_snakemake
from tests.conftest import REPO
from tests.e2e.conftest import MINI, copy_thesis


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SnakemakeRun]:
    """A fresh copy of the mini thesis, built from nothing by one in-process run."""
    directory = copy_thesis(MINI, tmp_path_factory.mktemp("runner"))
    cwd = Path.cwd()
    run = run_snakemake(directory, ["thesis.pdf"], cores=2)
    assert Path.cwd() == cwd  # the API's change of directory is undone
    return directory, run


@pytest.fixture
def built(first_run: tuple[Path, SnakemakeRun], tmp_path: Path) -> Path:
    directory, run = first_run
    assert run.ok, run.diagnostics
    target = tmp_path / "thesis"
    shutil.copytree(directory, target, symlinks=True)
    return target


def test_builds_the_thesis_in_process(first_run: tuple[Path, SnakemakeRun]) -> None:
    directory, run = first_run
    assert run.ok, run.diagnostics
    assert run.diagnostics == ()
    assert run.targets == ("thesis.pdf",)
    assert {"thesis.pdf", "build/chapters/intro.pdf", "tables/growth.tex"} <= set(run.updated)
    assert (directory / "thesis.pdf").read_bytes().startswith(b"%PDF")


def test_a_second_run_has_nothing_to_do(built: Path) -> None:
    run = run_snakemake(built, ["thesis.pdf"], cores=2)
    assert run.ok, run.diagnostics
    assert run.updated == ()


def test_runs_repeat_in_one_process_and_see_new_edits(built: Path) -> None:
    chapter = built / "chapters" / "intro.tex"
    for n in range(2):
        chapter.write_text(chapter.read_text(encoding="utf-8") + f"\nEdit {n}.\n", "utf-8")
        run = run_snakemake(built, ["build/chapters/intro.pdf"], cores=1)
        assert run.ok, run.diagnostics
        assert run.updated == ("build/chapters/intro.pdf",)


def test_dry_run_builds_nothing(built: Path) -> None:
    chapter = built / "chapters" / "intro.tex"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nMore.\n", "utf-8")
    before = (built / "thesis.pdf").stat().st_mtime_ns
    run = run_snakemake(built, ["thesis.pdf"], cores=1, dry_run=True)
    assert run.ok, run.diagnostics
    assert (built / "thesis.pdf").stat().st_mtime_ns == before


def test_an_error_in_the_inventory_keeps_its_file_and_line(built: Path) -> None:
    main = built / "thesis.tex"
    text = main.read_text(encoding="utf-8")
    main.write_text(text.replace("\\include{chapters/results}", "\\include{chapters/nope}"))
    line = text.splitlines().index("\\include{chapters/results}") + 1
    run = run_snakemake(built, ["thesis.pdf"], cores=1)
    assert not run.ok
    [diagnostic] = run.diagnostics
    assert (diagnostic.path, diagnostic.line, diagnostic.code) == (
        "thesis.tex",
        line,
        "missing-file",
    )


def test_a_failed_job_is_data_and_the_thesis_is_kept(built: Path) -> None:
    chapter = built / "chapters" / "intro.tex"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n\\undefinedmacro\n", "utf-8")
    good = (built / "thesis.pdf").read_bytes()
    run = run_snakemake(built, ["thesis.pdf"], cores=1)
    assert not run.ok
    [diagnostic] = run.diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert diagnostic.code == "snakemake-failed"
    assert "did not complete" in diagnostic.message
    assert (built / "thesis.pdf").read_bytes() == good


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("one line", "one line", id="plain"),
        pytest.param("\n  first\n\n second  \nthird\nfourth", "first second third", id="lines"),
        pytest.param("", "ValueError", id="empty"),
    ],
)
def test_format_failure(message: str, expected: str) -> None:
    assert format_failure(ValueError(message)) == expected


def test_format_failure_shortens_long_messages() -> None:
    text = format_failure(RuntimeError("x" * 1000))
    assert len(text) == 400
    assert text.endswith("...")


def test_only_the_runner_imports_snakemake() -> None:
    importing = sorted(
        path.name
        for path in (REPO / "scripts" / "chapterwise").glob("*.py")
        if re.search(r"^\s*(from|import) snakemake\b", path.read_text("utf-8"), re.MULTILINE)
    )
    assert importing == ["runner.py"]
