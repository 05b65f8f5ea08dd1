"""Watch mode: the pure parts (debouncer, affected set) and real sessions on the mini thesis.

The sessions run `chapterwise watch` as a subprocess with a real watchdog observer, real
LaTeX and real Snakemake, on a built copy of tests/data/mini_thesis. Waits poll with generous
timeouts; nothing asserts how long a build took.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from pypdf import PdfReader

from chapterwise.cli import build_parser, cmd_compile_chapter
from chapterwise.config import parse_config
from chapterwise.diagnostics import Diagnostic, Severity, error, format_diagnostic, warning
from chapterwise.project import Project, load_project
from chapterwise.watch import (
    BENCHMARK_HEADER,
    CHAPTER_BENCHMARK,
    CHAPTER_LOG,
    Affected,
    ChangeQueue,
    Debouncer,
    affected,
    compile_chapter_argv,
    format_benchmark,
    is_candidate,
    is_diagnostic_line,
    watch_dirs,
)
from tests.conftest import REPO, tool_env
from tests.e2e.conftest import MINI, build, copy_thesis

# --- debouncer ----------------------------------------------------------------------------


def test_debouncer_makes_one_batch_of_a_save_burst() -> None:
    debouncer = Debouncer(quiet=0.1, max_delay=1.0)
    debouncer.add([".intro.tex.swp"], now=10.0)
    debouncer.add(["chapters/intro.tex"], now=10.02)
    debouncer.add(["chapters/intro.tex", "chapters/intro.tex~"], now=10.05)
    assert debouncer.pop_due(10.1) == ()  # 50 ms after the last event: not quiet yet
    assert debouncer.due_at() == pytest.approx(10.15)
    assert debouncer.pop_due(10.15) == (
        ".intro.tex.swp",
        "chapters/intro.tex",
        "chapters/intro.tex~",
    )
    assert not debouncer.pending
    assert debouncer.due_at() is None
    assert debouncer.pop_due(99.0) == ()


def test_debouncer_bounds_the_wait_under_a_steady_stream() -> None:
    debouncer = Debouncer(quiet=0.1, max_delay=0.5)
    for step in range(20):
        debouncer.add(["data/points.csv"], now=step * 0.05)
    # events every 50 ms never leave 100 ms of quiet, yet the batch is due 0.5 s after the first
    assert debouncer.due_at() == pytest.approx(0.5)
    assert debouncer.pop_due(0.5) == ("data/points.csv",)


def test_debouncer_ignores_empty_additions() -> None:
    debouncer = Debouncer(quiet=0.1)
    debouncer.add([], now=1.0)
    assert not debouncer.pending


def test_debouncer_starts_a_new_batch_after_a_pop() -> None:
    debouncer = Debouncer(quiet=0.1, max_delay=0.3)
    debouncer.add(["a.tex"], now=0.0)
    assert debouncer.pop_due(0.2) == ("a.tex",)
    debouncer.add(["b.tex"], now=5.0)
    assert debouncer.due_at() == pytest.approx(5.1)  # max_delay counts from the new first event


def test_change_queue_hands_a_batch_across_threads() -> None:
    queue = ChangeQueue(Debouncer(quiet=0.05))
    got: list[tuple[str, ...]] = []
    consumer = threading.Thread(target=lambda: got.append(queue.get()))
    consumer.start()
    queue.put(["chapters/intro.tex"])
    queue.put(["chapters/intro.tex", "bib/refs.bib"])
    consumer.join(timeout=5)
    assert got == [("chapters/intro.tex", "bib/refs.bib")]
    queue.close()
    assert queue.get() == ()


# --- the affected set ---------------------------------------------------------------------

MAIN = r"""\documentclass{report}
\usepackage{graphicx}
\input{preamble/macros}
\addbibresource{bib/refs.bib}
\begin{document}
\include{chapters/intro}
\include{chapters/methods}
\include{chapters/results}
\end{document}
"""

NOTEBOOK = """# ---
# inputs:
#   - data/points.csv
# outputs:
#   - figures/growth.pdf
#   - results/growth.csv
#   - results/growth_values.json
# ---

# %%
print("hi")
"""


@pytest.fixture
def project(project_dir: Path) -> Project:
    files = {
        "thesis.tex": MAIN,
        "preamble/macros.tex": r"\newcommand{\R}{\mathbb{R}}",
        "bib/refs.bib": "@book{a, title={A}}\n",
        "chapters/intro.tex": "\\chapter{Intro}\n\\input{chapters/intro-motivation}\n",
        "chapters/intro-motivation.tex": "Why.\n",
        "chapters/methods.tex": "\\chapter{Methods}\n\\includegraphics{figures/diagram}\n",
        "figures/diagram.pdf": "%PDF-1.4\n",
        "chapters/results.tex": (
            "\\chapter{Results}\n\\input{tables/growth_values}\n\\input{tables/growth}\n"
            "\\includegraphics{figures/growth}\n"
        ),
        "notebooks/analysis.py": NOTEBOOK,
        "notebooks/scratch.py": "# ---\n# inputs: [data/other.csv]\n# ---\nprint(1)\n",
        "data/points.csv": "hour,count\n0,1\n",
        "tables/growth.tex.j2": r"\BLOCK{for row in rows}\VAR{row}\BLOCK{endfor}",
    }
    for name, text in files.items():
        path = project_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_project(project_dir, parse_config({}, root=project_dir))


@pytest.mark.parametrize(
    ("changed", "chapters", "generated"),
    [
        pytest.param(["chapters/intro.tex"], ("intro",), (), id="chapter_source"),
        pytest.param(["chapters/intro-motivation.tex"], ("intro",), (), id="chapter_input"),
        pytest.param(["figures/diagram.pdf"], ("methods",), (), id="hand_made_figure"),
        pytest.param(
            ["chapters/intro.tex", "chapters/methods.tex"],
            ("intro", "methods"),
            (),
            id="two_chapters_in_thesis_order",
        ),
        pytest.param(
            ["data/points.csv"],
            ("results",),
            ("figures/growth.pdf", "tables/growth.tex", "tables/growth_values.tex"),
            id="notebook_data",
        ),
        pytest.param(
            ["notebooks/analysis.py"],
            ("results",),
            ("figures/growth.pdf", "tables/growth.tex", "tables/growth_values.tex"),
            id="notebook_source",
        ),
        pytest.param(
            ["tables/growth.tex.j2"], ("results",), ("tables/growth.tex",), id="table_template"
        ),
        pytest.param(["bib/refs.bib"], ("intro", "methods", "results"), (), id="bibliography"),
        pytest.param(["preamble/macros.tex"], ("intro", "methods", "results"), (), id="preamble"),
        pytest.param(["thesis.tex"], ("intro", "methods", "results"), (), id="main_file"),
        pytest.param(["config.yaml"], ("intro", "methods", "results"), (), id="config"),
    ],
)
def test_affected_follows_the_project_dependencies(
    project: Project, changed: list[str], chapters: tuple[str, ...], generated: tuple[str, ...]
) -> None:
    found = affected(project, changed)
    assert found.chapters == chapters
    assert found.generated == generated
    assert found.thesis
    assert set(found.sources) == set(changed)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(["tables/growth.tex"], id="generated_table"),
        pytest.param(["figures/growth.pdf", "results/growth.csv"], id="notebook_outputs"),
        pytest.param(["chapters/draft.tex"], id="file_no_chapter_reads"),
        pytest.param(["notebooks/scratch.py", "data/other.csv"], id="notebook_outside_build"),
        pytest.param([], id="nothing"),
    ],
)
def test_affected_is_empty_for_files_the_thesis_does_not_read(
    project: Project, changed: list[str]
) -> None:
    found = affected(project, changed)
    assert found.empty
    assert found.chapters == ()
    assert found.generated == ()


def test_affected_union_keeps_thesis_order(project: Project) -> None:
    first = affected(project, ["chapters/results.tex"])
    second = affected(project, ["chapters/intro.tex"])
    both = first.union(second, project.chapter_names)
    assert both.chapters == ("intro", "results")
    assert both.thesis
    assert Affected().union(Affected(), ()).empty


def test_watch_dirs_are_the_source_folders(project: Project, project_dir: Path) -> None:
    (project_dir / "build").mkdir(exist_ok=True)
    dirs = watch_dirs(project_dir, project)
    assert {"chapters", "notebooks", "bib", "data", "tables", "figures", "preamble"} <= set(dirs)
    assert "build" not in dirs
    assert "results" not in dirs
    assert watch_dirs(project_dir, None) == sorted(
        ["bib", "chapters", "data", "figures", "notebooks", "tables"]
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("chapters/intro.tex", True, id="chapter"),
        pytest.param("thesis.tex", True, id="main"),
        pytest.param("build/chapters/intro.pdf", False, id="build_output"),
        pytest.param(".snakemake/log/x.log", False, id="snakemake_metadata"),
        pytest.param("chapters/.intro.tex.swp", False, id="vim_swap"),
        pytest.param("chapters/intro.tex~", False, id="backup"),
        pytest.param("chapters/4913", False, id="vim_probe"),
        pytest.param("chapters/.#intro.tex", False, id="emacs_lock"),
        pytest.param("chapters/.intro.tex.1a2b3c4d.tmp", False, id="atomic_write_temp"),
        pytest.param("chapters/intro.tex___jb_tmp___", False, id="jetbrains_temp"),
        pytest.param(".git/index", False, id="git"),
        pytest.param("results/growth.csv", False, id="results"),
    ],
)
def test_is_candidate(path: str, expected: bool) -> None:
    assert is_candidate(path) is expected


@pytest.mark.parametrize(
    "diagnostic",
    [
        pytest.param(error("Undefined control sequence", "latex-error", "a.tex", 3), id="line"),
        pytest.param(error("x", "bad-x", "dir/a b.tex", 3, 7, hint="fix"), id="column_hint"),
        pytest.param(warning("read y.tex", "undeclared-input", "chapters/x.tex"), id="file"),
        pytest.param(error("'latexmk' is not installed", "missing-tool"), id="no_path"),
        pytest.param(
            Diagnostic(Severity.NOTE, "latexmk exited with 12", "latex-failed"), id="note"
        ),
    ],
)
def test_diagnostic_lines_are_recognised(diagnostic: Diagnostic) -> None:
    assert is_diagnostic_line(format_diagnostic(diagnostic))


@pytest.mark.parametrize(
    "line",
    [
        "./chapters/intro.tex:5: Undefined control sequence.",
        "Building DAG of jobs...",
        "error: something without a code",
        "",
    ],
)
def test_other_lines_are_not_diagnostics(line: str) -> None:
    assert not is_diagnostic_line(line)


def test_benchmark_record_has_snakemakes_columns() -> None:
    from snakemake.benchmark import BenchmarkRecord

    assert list(BENCHMARK_HEADER) == BenchmarkRecord.get_header()
    header, row, end = format_benchmark(3725.25).split("\n")
    assert header.split("\t") == list(BENCHMARK_HEADER)
    assert row.split("\t")[:3] == ["3725.2500", "1:02:05", "NA"]
    assert len(row.split("\t")) == len(BENCHMARK_HEADER)
    assert end == ""


def test_preview_step_is_the_compile_chapter_rule() -> None:
    rule = (REPO / "rules" / "chapters.smk").read_text(encoding="utf-8")
    assert f'"{CHAPTER_LOG}"' in rule
    assert f'"{CHAPTER_BENCHMARK}"' in rule
    assert 'pdf="build/chapters/{chapter}.pdf"' in rule
    assert "chapterwise compile-chapter {wildcards.chapter} --pdf {output.pdf} --log {log}" in rule
    args = build_parser().parse_args(compile_chapter_argv("intro"))
    assert args.handler is cmd_compile_chapter
    assert (args.chapter, args.pdf, args.log) == (
        "intro",
        "build/chapters/intro.pdf",
        "build/logs/compile_chapter/intro.log",
    )


# --- real sessions ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini thesis, built once by the snakemake CLI; each test watches a copy."""
    directory = copy_thesis(MINI, tmp_path_factory.mktemp("watch-built"))
    build(directory)
    return directory


@pytest.fixture
def thesis(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "thesis"
    shutil.copytree(built, target, symlinks=True)
    return target


class Watcher:
    """A `chapterwise watch` subprocess whose output lines are collected as they come."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chapterwise", "--root", str(root), "watch", "--cores", "2"],
            cwd=root,
            env=tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        return sum(1 for line in list(self.lines) if re.search(pattern, line))

    def wait_for_line(self, pattern: str, *, after: int = 0, timeout: float = 90) -> str:
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in list(self.lines)[after:] if re.search(pattern, line)]
            return bool(found)

        wait_until(seen, timeout, lambda: f"no line matching {pattern!r} in:\n{self.output}")
        return found[0]

    def interrupt(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s: {describe()}")


@pytest.fixture
def watcher(thesis: Path) -> Iterator[Watcher]:
    session = Watcher(thesis)
    try:
        session.wait_for_line(r"^watching ")
        yield session
    finally:
        session.close()


def pdf_text(path: Path) -> str:
    """The PDF's text with whitespace removed (so line breaks do not split a word)."""
    try:
        reader = PdfReader(path)
        return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in reader.pages))
    except Exception:  # mid-replacement or absent: not there yet
        return ""


def wait_for_pdf_text(path: Path, word: str, timeout: float = 90, watcher: Watcher | None = None):
    wait_until(
        lambda: word in pdf_text(path),
        timeout,
        lambda: f"{word!r} never appeared in {path}" + (f"\n{watcher.output}" if watcher else ""),
    )


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_edit_rebuilds_the_chapter_preview_then_the_thesis(watcher: Watcher, thesis: Path) -> None:
    other = thesis / "build/chapters/results.pdf"
    other_mtime = other.stat().st_mtime_ns
    start = len(watcher.lines)
    append(thesis / "chapters/intro.tex", "\nThe quokkaword sentence.\n")
    wait_for_pdf_text(thesis / "build/chapters/intro.pdf", "quokkaword", watcher=watcher)
    wait_for_pdf_text(thesis / "thesis.pdf", "quokkaword", watcher=watcher)
    preview = watcher.wait_for_line(r"✓ build/chapters/intro\.pdf in [\d.]+ s", after=start)
    done = watcher.wait_for_line(r"✓ thesis\.pdf in [\d.]+ s", after=start)
    assert watcher.lines.index(preview, start) < watcher.lines.index(done, start)
    assert other.stat().st_mtime_ns == other_mtime  # an unaffected preview is left alone
    # The preview was built outside Snakemake, and Snakemake's run then found it up to date.
    transcript = (thesis / "build/logs/watch.log").read_text(encoding="utf-8")
    assert "rule compile_thesis:" in transcript
    assert "rule compile_chapter:" not in transcript
    assert "Building DAG of jobs" not in watcher.output  # Snakemake's chatter stays in the log


def test_quick_successive_edits_end_in_the_final_state(watcher: Watcher, thesis: Path) -> None:
    chapter = thesis / "chapters/intro.tex"
    original = chapter.read_text(encoding="utf-8")
    for word in ("firstwombat", "secondwombat", "thirdwombat"):
        chapter.write_text(f"{original}\nNow {word} here.\n", encoding="utf-8")
        time.sleep(0.03)
    wait_for_pdf_text(thesis / "thesis.pdf", "thirdwombat", watcher=watcher)
    assert "thirdwombat" in pdf_text(thesis / "build/chapters/intro.pdf")
    assert "secondwombat" not in pdf_text(thesis / "build/chapters/intro.pdf")
    # an edit that lands while a build runs is not lost either
    start = len(watcher.lines)
    watcher.wait_for_line(r"✓ thesis\.pdf", after=0)
    chapter.write_text(f"{original}\nThen lateotter here.\n", encoding="utf-8")
    watcher.wait_for_line(r"building build/chapters/intro\.pdf", after=start)
    chapter.write_text(f"{original}\nThen finalotter here.\n", encoding="utf-8")
    wait_for_pdf_text(thesis / "thesis.pdf", "finalotter", watcher=watcher)
    assert "finalotter" in pdf_text(thesis / "build/chapters/intro.pdf")


def test_latex_error_keeps_the_last_good_pdfs_and_recovers(watcher: Watcher, thesis: Path) -> None:
    chapter = thesis / "chapters/intro.tex"
    original = chapter.read_text(encoding="utf-8")
    line = original.count("\n") + 2
    preview = thesis / "build/chapters/intro.pdf"
    good_preview, good_thesis = preview.read_bytes(), (thesis / "thesis.pdf").read_bytes()
    start = len(watcher.lines)
    chapter.write_text(f"{original}\n\\undefinedcommandxyz\n", encoding="utf-8")
    shown = watcher.wait_for_line(r"chapters/intro\.tex:\d+(:\d+)?: error: ", after=start)
    assert re.search(rf"chapters/intro\.tex:{line}(:\d+)?: error: .*undefinedcommandxyz", shown)
    watcher.wait_for_line(r"✗ build/chapters/intro\.pdf failed", after=start)
    watcher.wait_for_line(r"thesis not rebuilt while intro has errors", after=start)
    assert preview.read_bytes() == good_preview
    assert (thesis / "thesis.pdf").read_bytes() == good_thesis
    # fixing it recovers: the preview and the thesis both follow
    start = len(watcher.lines)
    chapter.write_text(f"{original}\nFixed numbat.\n", encoding="utf-8")
    wait_for_pdf_text(preview, "Fixednumbat", watcher=watcher)
    wait_for_pdf_text(thesis / "thesis.pdf", "Fixednumbat", watcher=watcher)
    watcher.wait_for_line(r"✓ thesis\.pdf in", after=start)


def test_data_change_runs_the_notebook_then_the_chapter(watcher: Watcher, thesis: Path) -> None:
    assert "over8counts" in pdf_text(thesis / "build/chapters/results.pdf")
    start = len(watcher.lines)
    append(thesis / "data/points.csv", "8,82\n")
    wait_for_pdf_text(thesis / "build/chapters/results.pdf", "over9counts", watcher=watcher)
    wait_for_pdf_text(thesis / "thesis.pdf", "over9counts", watcher=watcher)
    watcher.wait_for_line(r"✓ generated files in", after=start)
    watcher.wait_for_line(r"✓ build/chapters/results\.pdf in", after=start)
    assert watcher.count(r"building build/chapters/intro\.pdf") == 0


def test_failing_notebook_is_shown_and_the_previews_kept(watcher: Watcher, thesis: Path) -> None:
    preview = thesis / "build/chapters/results.pdf"
    good = preview.read_bytes()
    start = len(watcher.lines)
    append(thesis / "notebooks/analysis.py", "\n# %%\nraise RuntimeError('broken fit')\n")
    shown = watcher.wait_for_line(r"^  notebooks/analysis\.py:\d+: error: .*broken", after=start)
    assert "[cell-failed]" in shown
    watcher.wait_for_line(r"✗ generated files failed", after=start)
    assert preview.read_bytes() == good
    assert watcher.count(r"building build/chapters/results\.pdf") == 0


def _strays(root: Path, pids: set[int]) -> list[str]:
    """Processes still alive that the session started, or that work inside its folder."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
            continue
        cwd = process.info["cwd"] or ""
        if process.pid in pids or cwd.startswith(str(root)):
            found.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])}")
    return found


# Edits that start a process which would run for a minute unless it is stopped.
SPIN = "\n\\newcount\\spin \\loop\\advance\\spin by 1 \\ifnum\\spin<2000000000 \\repeat\n"
SLEEP = "\n# %%\nimport time\n\ntime.sleep(600)\n"


@pytest.mark.parametrize(
    ("source", "text", "process"),
    [
        pytest.param("chapters/intro.tex", SPIN, "pdflatex", id="pdflatex_in_preview"),
        pytest.param("notebooks/analysis.py", SLEEP, "ipykernel", id="notebook_kernel"),
    ],
)
def test_ctrl_c_stops_everything(thesis: Path, source: str, text: str, process: str) -> None:
    session = Watcher(thesis)
    try:
        session.wait_for_line(r"^watching ")
        append(thesis / source, text)
        watch = psutil.Process(session.process.pid)
        started: dict[int, str] = {}

        def running() -> bool:
            for child in watch.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    started[child.pid] = " ".join(child.cmdline())
            return any(process in command for command in started.values())

        wait_until(running, 60, lambda: f"no {process} started: {started}\n{session.output}")
        code = session.interrupt()
    finally:
        session.close()
    assert code == 130
    assert "interrupted" in session.output
    assert not _strays(thesis, set(started)), session.output
    locks = thesis / ".snakemake/locks"
    assert not locks.is_dir() or not any(locks.iterdir())
