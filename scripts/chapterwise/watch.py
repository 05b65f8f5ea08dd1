"""Watch mode: on every save, rebuild the preview of the chapter being edited, then the thesis.

A watchdog observer feeds changed paths into a debouncer (an editor's save burst is one
change). One builder thread takes each debounced batch and works out what it affects from the
same ``Project`` the Snakefile's input functions use. It then

1. brings the generated files those chapters read up to date through Snakemake (only when a
   notebook, its data or a table template changed, or a generated input is missing);
2. rebuilds each affected preview in this process by running the compile_chapter rule's own
   command line (``chapterwise compile-chapter NAME --pdf ... --log ...``), with no
   interpreter or Snakemake start-up, and records the job's benchmark as the rule would, so
   Snakemake's next run finds the preview up to date;
3. brings ``thesis.pdf`` up to date through Snakemake (``runner``), so the DAG stays the one
   truth about the thesis.

Previews are never built by Snakemake here: Snakemake deletes a job's outputs before it runs
the job and after it fails, while the compile step replaces the preview atomically and leaves
it alone on failure, which is what a PDF viewer that is showing it needs. Changes that arrive
during a build are queued and built next. Ctrl-C stops the observer and stops every process
the session started (the whole tree, frozen first, process groups included).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import BinaryIO, TextIO

import psutil  # type: ignore[import-untyped]
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from chapterwise.config import CONFIG_NAME, read_config
from chapterwise.diagnostics import ChapterwiseError, Diagnostic, Severity, format_diagnostic
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.project import TABLES_DIR, Project, chapter_pdf, load_project
from chapterwise.runner import SnakemakeRun, run_snakemake

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1  # quiet time that ends a save burst
MAX_DELAY_SECONDS = 1.0  # a steady stream of events is still built this often
# The compile_chapter rule's log and benchmark (rules/chapters.smk; a test keeps them equal).
CHAPTER_LOG = "build/logs/compile_chapter/{chapter}.log"
CHAPTER_BENCHMARK = "build/benchmarks/compile_chapter/{chapter}.tsv"
TRANSCRIPT = "build/logs/watch.log"
# Snakemake's benchmark columns; an in-process run measures only the wall time.
BENCHMARK_HEADER = (
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
)
# Where sources conventionally live; watched when present, besides the folders the project uses.
SOURCE_DIRS = ("chapters", "notebooks", "bib", "data", "tables", "figures")
IGNORED_DIRS = frozenset({"build", ".snakemake", ".git", "__pycache__", "results"})
# File events that can change content (not opened/closed-without-write/attrib: TeX reads).
CONTENT_EVENTS = frozenset({"created", "modified", "moved", "deleted", "closed"})
_SCRATCH_SUFFIXES = (
    "~",
    ".swp",
    ".swx",
    ".swo",
    ".tmp",
    ".kate-swp",
    "___jb_tmp___",
    "___jb_old___",
)
# A diagnostic as `chapterwise` prints it: [path:line[:col]: ]severity: message [code]
_DIAGNOSTIC_LINE = re.compile(
    r"^(?:\S[^:]*:(?:\d+:){0,2} )?(?:error|warning|note): .*\[[a-z0-9-]+\]\s*$"
)

StepRunner = Callable[[Sequence[str]], Sequence[Diagnostic]]


# --- what a change affects (pure) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Affected:
    """What a batch of changed paths needs rebuilt."""

    chapters: tuple[str, ...] = ()  # previews, in thesis order
    generated: tuple[str, ...] = ()  # generated files those previews read, to remake first
    sources: tuple[str, ...] = ()  # the changed paths that feed the thesis
    thesis: bool = False

    @property
    def empty(self) -> bool:
        return not self.thesis

    def union(self, other: Affected, order: Sequence[str]) -> Affected:
        """Both sets; chapters in ``order`` (the thesis' chapter order)."""
        chapters = set(self.chapters) | set(other.chapters)
        return Affected(
            chapters=tuple(name for name in order if name in chapters),
            generated=tuple(sorted({*self.generated, *other.generated})),
            sources=tuple(dict.fromkeys([*self.sources, *other.sources])),
            thesis=self.thesis or other.thesis,
        )


def generated_paths(project: Project) -> frozenset[str]:
    """Files the build writes into the source tree: notebook outputs and rendered tables."""
    return project.generated_files()


def derivations(project: Project) -> dict[str, frozenset[str]]:
    """Each file -> the generated files made directly from it (one rule step)."""
    edges: dict[str, set[str]] = {}
    for notebook in project.notebooks:
        for source in (notebook.path, *notebook.inputs):
            edges.setdefault(source, set()).update(notebook.outputs)
    for name in project.tables:
        table = f"{TABLES_DIR}/{name}.tex"
        edges.setdefault(project.table_source(name), set()).add(table)
        edges.setdefault(f"{TABLES_DIR}/{name}.tex.j2", set()).add(table)
    for name in project.values:
        edges.setdefault(project.values_source(name), set()).add(f"{TABLES_DIR}/{name}.tex")
    for pdf, dot in project.diagrams.items():
        edges.setdefault(dot, set()).add(pdf)
    return {source: frozenset(targets) for source, targets in edges.items()}


def affected(project: Project, changed: Iterable[str]) -> Affected:
    """The previews and generated files that the changed paths (relative, POSIX) feed.

    A change to the main file, the config or anything the preamble reads affects every
    chapter; a notebook, its data or a table template affects the chapters that read what
    they generate; any other file affects the chapters whose scanned inputs list it.
    Generated files themselves are ignored: the build writes them.
    """
    generated = generated_paths(project)
    edges = derivations(project)
    sources = [path for path in dict.fromkeys(changed) if path not in generated]
    made: set[str] = set()
    frontier = list(sources)
    while frontier:
        for target in edges.get(frontier.pop(), ()):
            if target not in made:
                made.add(target)
                frontier.append(target)
    touched = {*sources, *made}
    preamble = set(project.preamble.files)
    whole = bool({project.main, CONFIG_NAME} & touched or preamble & touched)
    chapters = tuple(
        chapter.name
        for chapter in project.chapters
        if whole or touched.intersection(project.chapter_deps[chapter.name].files)
    )
    reads = preamble.union(*(project.chapter_deps[name].files for name in chapters))
    feeding = {*project.thesis_inputs(), *edges, CONFIG_NAME}
    return Affected(
        chapters=chapters,
        generated=tuple(sorted(made & reads)),
        sources=tuple(path for path in sources if path in feeding),
        thesis=whole or bool(chapters),
    )


def chapter_reads(project: Project, names: Iterable[str]) -> list[str]:
    """Every file the previews of ``names`` read (the compile_chapter rule's inputs)."""
    files: dict[str, None] = {}
    for name in names:
        for group in project.chapter_inputs(name).values():
            files.update(dict.fromkeys(group))
    return list(files)


def compile_chapter_argv(name: str) -> list[str]:
    """The compile_chapter rule's command line for chapter ``name`` (after ``chapterwise``)."""
    log_path = CHAPTER_LOG.format(chapter=name)
    return ["compile-chapter", name, "--pdf", chapter_pdf(name), "--log", log_path]


def is_candidate(relative: str) -> bool:
    """False for paths no build reads: build outputs, VCS data, editors' scratch files."""
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] in IGNORED_DIRS or any(p.startswith(".") for p in parts):
        return False
    name = parts[-1]
    return name != "4913" and not name.endswith(_SCRATCH_SUFFIXES)  # 4913: vim's probe file


def watch_dirs(root: Path, project: Project | None) -> list[str]:
    """Top-level folders holding sources: the conventional ones and every one the project reads."""
    names: set[str] = {name for name in SOURCE_DIRS if (root / name).is_dir()}
    if project is not None:
        generated = generated_paths(project)
        paths = [*project.thesis_inputs(), *derivations(project)]
        paths += [f"{folder}/x" for folder in project.config.notebook_dirs]
        for path in paths:
            parts = PurePosixPath(path).parts
            if len(parts) > 1 and path not in generated:
                names.add(parts[0])
    return sorted(name for name in names if is_candidate(name) and (root / name).is_dir())


def format_benchmark(seconds: float) -> str:
    """A benchmark file in Snakemake's format, for a job run outside Snakemake."""
    whole = int(seconds)
    clock = f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    row = [f"{seconds:.4f}", clock, *("NA" for _ in BENCHMARK_HEADER[2:])]
    return "\t".join(BENCHMARK_HEADER) + "\n" + "\t".join(row) + "\n"


def is_diagnostic_line(line: str) -> bool:
    """True for a line in chapterwise's diagnostic format (what build steps print)."""
    return bool(_DIAGNOSTIC_LINE.match(line))


# --- debouncing ---------------------------------------------------------------------------


class Debouncer:
    """Collects changed paths until none arrived for ``quiet`` seconds (pure: time is passed in).

    ``max_delay`` bounds the wait when events never stop, so a steady writer is still built.
    """

    def __init__(self, quiet: float = DEBOUNCE_SECONDS, max_delay: float = MAX_DELAY_SECONDS):
        self.quiet = quiet
        self.max_delay = max(max_delay, quiet)
        self._paths: dict[str, None] = {}
        self._first = 0.0
        self._last = 0.0

    @property
    def pending(self) -> bool:
        return bool(self._paths)

    def add(self, paths: Iterable[str], now: float) -> None:
        new = list(paths)
        if not new:
            return
        if not self._paths:
            self._first = now
        self._last = now
        self._paths.update(dict.fromkeys(new))

    def due_at(self) -> float | None:
        """When the pending batch is ready, or None when nothing is pending."""
        if not self._paths:
            return None
        return min(self._last + self.quiet, self._first + self.max_delay)

    def pop_due(self, now: float) -> tuple[str, ...]:
        """The batch, if it is ready at ``now`` (then the debouncer is empty again)."""
        due = self.due_at()
        if due is None or now < due:
            return ()
        batch = tuple(self._paths)
        self._paths.clear()
        return batch


class ChangeQueue:
    """A Debouncer shared between the observer's thread (put) and the builder (get)."""

    def __init__(self, debouncer: Debouncer, clock: Callable[[], float] = time.monotonic) -> None:
        self._debouncer = debouncer
        self._clock = clock
        self._condition = threading.Condition()
        self._closed = False

    def put(self, paths: Iterable[str]) -> None:
        with self._condition:
            self._debouncer.add(paths, self._clock())
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def get(self) -> tuple[str, ...]:
        """Block until a debounced batch is ready; () once the queue is closed."""
        with self._condition:
            while not self._closed:
                now = self._clock()
                batch = self._debouncer.pop_due(now)
                if batch:
                    return batch
                due = self._debouncer.due_at()
                self._condition.wait(None if due is None else max(due - now, 0.001))
            return ()


# --- the terminal -------------------------------------------------------------------------


class OutputCapture:
    """Sends this process' stdout and stderr, and so every child's, to a transcript file.

    Snakemake's log and the jobs' own output would scroll through the display; they go to
    ``build/logs/watch.log`` instead, and the diagnostic lines among them are kept for the
    display. ``terminal`` writes to where stdout went before.
    """

    def __init__(self, transcript: Path) -> None:
        self.transcript = transcript
        self.terminal: TextIO = sys.stdout
        self._saved: tuple[int, int] = (-1, -1)
        self._reader: threading.Thread | None = None
        self._condition = threading.Condition()
        self._lines: list[str] = []
        self._marks_seen = 0
        self._marks_sent = 0

    def __enter__(self) -> OutputCapture:
        self.transcript.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        self.terminal = open(
            os.dup(self._saved[0]), "w", encoding="utf-8", errors="replace", buffering=1
        )
        self._reader = threading.Thread(
            target=self._read, args=(read_end,), name="chapterwise-output", daemon=True
        )
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        if self._reader is not None:
            self._reader.join(timeout=2)
        self.terminal.close()

    def _read(self, fd: int) -> None:
        pending = b""
        with self.transcript.open("ab") as transcript:
            while chunk := os.read(fd, 65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._take(raw.decode("utf-8", errors="replace"), transcript)
            os.close(fd)
        with self._condition:
            self._marks_seen = self._marks_sent
            self._condition.notify_all()

    def _take(self, line: str, transcript: BinaryIO) -> None:
        if line.startswith("\x00chapterwise-mark "):
            with self._condition:
                self._marks_seen = int(line.split()[1])
                self._condition.notify_all()
            return
        transcript.write(f"{line}\n".encode())
        transcript.flush()
        if is_diagnostic_line(line):
            with self._condition:
                self._lines.append(line.rstrip())

    def collect(self, timeout: float = 5.0) -> list[str]:
        """Diagnostic lines written since the last call, in order, without repeats."""
        with self._condition:
            self._marks_sent += 1
            mark = self._marks_sent
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(2, f"\x00chapterwise-mark {mark}\n".encode())
        with self._condition:
            self._condition.wait_for(lambda: self._marks_seen >= mark, timeout)
            lines, self._lines = self._lines, []
        return list(dict.fromkeys(lines))


class Display:
    """What the author sees: what is building, each result with its time, errors as file:line."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._spinner = Spinner("dots")

    def building(self, what: str) -> None:
        with self._lock:
            if not self.console.is_terminal:
                self._line(f"… building {what}", "dim")
                return
            self._spinner.update(text=Text(f"building {what}"))
            if self._live is None:
                # Not redirecting sys.stdout/stderr: what Snakemake logs belongs in the transcript.
                self._live = Live(
                    self._spinner,
                    console=self.console,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                    refresh_per_second=12.5,
                )
                self._live.start()

    def idle(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None

    def result(
        self, what: str, ok: bool, seconds: float, lines: Sequence[str] = (), note: str = ""
    ) -> None:
        stamp = time.strftime("%H:%M:%S")
        mark, style = ("✓", "green") if ok else ("✗", "bold red")
        text = Text(f"{stamp} ")
        text.append(f"{mark} {what}", style=style)
        text.append(f" in {seconds:.2f} s" if ok else f" failed after {seconds:.2f} s")
        if note:
            text.append(f"; {note}", style="dim")
        with self._lock:
            self.console.print(text, highlight=False)
            for line in lines:
                self._line(f"  {line}", "red" if ": error: " in line else "yellow")

    def message(self, text: str, style: str = "") -> None:
        with self._lock:
            self._line(text, style)

    def _line(self, text: str, style: str) -> None:
        self.console.print(Text(text, style=style), highlight=False, soft_wrap=True)


# --- processes ----------------------------------------------------------------------------


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _session(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except OSError:
        return None


def stop_descendants(spare_sessions: Collection[int] = (), grace: float = 3.0) -> int:
    """Stop every process this one started, however deep; returns how many there were.

    The tree is frozen first (SIGSTOP), so no process can leave an orphan behind while its
    parent dies; then each gets SIGTERM, and each process group they lead gets it too (a
    Jupyter kernel runs in its own session); SIGKILL after ``grace`` seconds. Children are not
    reaped here: their Popen objects do that and must see the real exit status.
    """
    me = psutil.Process()
    own_group = os.getpgid(0)
    frozen: dict[int, psutil.Process] = {}
    for _ in range(50):
        found = [
            child
            for child in me.children(recursive=True)
            if child.pid not in frozen and _session(child) not in spare_sessions
        ]
        if not found:
            break
        for child in found:
            try:
                child.suspend()
            except psutil.NoSuchProcess:
                continue
            frozen[child.pid] = child
    groups = set()
    for pid in frozen:
        try:
            group = os.getpgid(pid)
        except OSError:
            continue
        if group != own_group and group in frozen:
            groups.add(group)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(OSError):
                os.killpg(group, signum)
        for process in frozen.values():
            try:
                process.send_signal(signum)
                process.resume()
            except psutil.NoSuchProcess:
                pass
        deadline = time.monotonic() + grace
        while any(_alive(p) for p in frozen.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not any(_alive(p) for p in frozen.values()):
            break
    return len(frozen)


def open_viewer(path: Path) -> subprocess.Popen[bytes] | None:
    """Open ``path`` in the desktop's PDF viewer, detached; None when there is no opener."""
    opener = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if opener is None:
        return None
    return subprocess.Popen(
        [opener, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


# --- the session --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchOptions:
    debounce: float = DEBOUNCE_SECONDS
    cores: int = 2
    open_viewer: bool = False


@dataclass
class _State:
    project: Project | None = None
    generated: frozenset[str] = frozenset()
    failing: dict[str, tuple[str, ...]] = field(default_factory=dict)  # chapter -> errors


def load_current_project(root: Path) -> Project:
    """The inventory as the Snakefile would build it now (raises ChapterwiseError)."""
    return load_project(root, read_config(root))


class _EventHandler(FileSystemEventHandler):
    def __init__(self, root: Path, accept: Callable[[str], bool], queue: ChangeQueue) -> None:
        self.root = root
        self.accept = accept
        self.queue = queue

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in CONTENT_EVENTS:
            return
        paths = []
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            try:
                relative = Path(os.fsdecode(raw)).relative_to(self.root).as_posix()
            except ValueError:
                continue
            if self.accept(relative):
                paths.append(relative)
        if paths:
            self.queue.put(paths)


class WatchSession:
    """The observer, the builder thread and what they share."""

    def __init__(
        self,
        root: Path,
        options: WatchOptions,
        run_step: StepRunner,
        display: Display,
        capture: OutputCapture | None,
    ) -> None:
        self.root = root
        self.options = options
        self.run_step = run_step
        self.display = display
        self.capture = capture
        self.stopping = threading.Event()
        self.queue = ChangeQueue(Debouncer(options.debounce))
        self.state = _State()
        self.viewer: subprocess.Popen[bytes] | None = None
        self._observer: BaseObserver = Observer()
        self._watches: dict[str, ObservedWatch] = {}
        self._handler = _EventHandler(root, self.accept, self.queue)
        # A daemon: if a build outlives stop()'s deadline, exiting beats hanging.
        self._builder = threading.Thread(
            target=self._build_loop, name="chapterwise-builder", daemon=True
        )

    # observer side

    def accept(self, relative: str) -> bool:
        """Whether a changed path may matter (cheap; ``affected`` decides)."""
        return is_candidate(relative) and relative not in self.state.generated

    def _sync_watches(self) -> None:
        wanted = {".": False, **dict.fromkeys(watch_dirs(self.root, self.state.project), True)}
        for name, recursive in wanted.items():
            if name not in self._watches:
                path = str(self.root if name == "." else self.root / name)
                self._watches[name] = self._observer.schedule(
                    self._handler, path, recursive=recursive
                )

    def start(self) -> None:
        self._set_project(self._load())
        self._sync_watches()
        self._observer.start()
        self._builder.start()

    def stop(self) -> None:
        """Stop watching, stop the build and every process it started, and wait for both."""
        self.stopping.set()
        self.queue.close()
        self._observer.stop()
        spare = {self.viewer.pid} if self.viewer is not None else set()
        deadline = time.monotonic() + 30
        while self._builder.is_alive() and time.monotonic() < deadline:
            stop_descendants(spare)
            self._builder.join(0.2)
        stop_descendants(spare)
        self._observer.join(timeout=5)
        self.display.idle()
        if self.viewer is not None:
            self.viewer.poll()

    @property
    def alive(self) -> bool:
        return self._builder.is_alive()

    # builder side

    def _load(self) -> Project | None:
        try:
            return load_current_project(self.root)
        except ChapterwiseError as exc:
            lines = [format_diagnostic(d) for d in exc.diagnostics]
            self.display.result("project", False, 0.0, lines, "fix it and save again")
            return None

    def _set_project(self, project: Project | None) -> None:
        if project is None:
            return
        self.state.project = project
        self.state.generated = generated_paths(project)
        for name in list(self.state.failing):
            if name not in project.chapter_names:
                del self.state.failing[name]

    def _build_loop(self) -> None:
        self._guarded(self._initial_build)
        while not self.stopping.is_set():
            batch = self.queue.get()
            if not batch or self.stopping.is_set():
                break
            self._guarded(partial(self.build, batch))

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run one build; a bug is shown and logged, and the session goes on watching."""
        try:
            action()
        except Exception as exc:
            log.exception("watch: build failed")
            message = f"internal error: {exc!r}; the traceback is in {TRANSCRIPT}"
            self.display.result("build", False, 0.0, [message])
        finally:
            self.display.idle()

    def _initial_build(self) -> None:
        project = self.state.project
        if project is not None:
            self._thesis(project, initial=True)
        self.display.idle()
        if self.options.open_viewer and not self.stopping.is_set():
            self._open(project)
        dirs = ", ".join(f"{name}/" for name in sorted(self._watches) if name != ".")
        self.display.message(f"watching {dirs} and the main folder; Ctrl-C to stop", "bold")

    def _open(self, project: Project | None) -> None:
        output = self.root / (project.config.output if project else "thesis.pdf")
        if not output.is_file():
            return
        self.viewer = open_viewer(output)
        if self.viewer is None:
            self.display.message(f"no xdg-open here; open {output.name} in a PDF viewer", "dim")

    def build(self, batch: Sequence[str]) -> None:
        """One rebuild: generated inputs, then the affected previews, then the thesis."""
        old = self.state.project
        project = self._load()
        if project is None:
            return
        self._set_project(project)
        self._sync_watches()
        found = affected(project, batch)
        if old is not None:
            gone = affected(old, batch)
            found = found.union(
                Affected(
                    chapters=tuple(c for c in gone.chapters if c in project.chapter_names),
                    sources=gone.sources,
                    thesis=gone.thesis,
                ),
                project.chapter_names,
            )
        if found.empty:
            log.info("watch: nothing reads %s", ", ".join(batch))
            return
        targets = [*found.generated]
        for path in chapter_reads(project, found.chapters):
            if path in self.state.generated and not (self.root / path).exists():
                targets.append(path)
        if targets and not self._snakemake(list(dict.fromkeys(targets)), "generated files"):
            return
        if self.stopping.is_set():
            return
        self._previews(found.chapters)
        if self.stopping.is_set():
            return
        if self.state.failing:
            names = ", ".join(sorted(self.state.failing))
            self.display.message(
                f"  thesis not rebuilt while {names} has errors; the last good one is kept",
                "dim",
            )
            return
        self._thesis(project)

    def _previews(self, names: Sequence[str]) -> None:
        if not names:
            return
        workers = max(1, min(self.options.cores, len(names)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(self._preview, names):
                pass

    def _preview(self, name: str) -> None:
        target = chapter_pdf(name)
        self.display.building(target)
        started = time.monotonic()
        diagnostics = self._run_step(compile_chapter_argv(name))
        seconds = time.monotonic() - started
        if self.stopping.is_set():
            return
        lines = tuple(format_diagnostic(d) for d in diagnostics)
        self._append_log(CHAPTER_LOG.format(chapter=name), lines)
        if any(d.severity is Severity.ERROR for d in diagnostics):
            self.state.failing[name] = lines
            self.display.result(target, False, seconds, lines, "the last good preview is kept")
            return
        self.state.failing.pop(name, None)
        benchmark = self.root / CHAPTER_BENCHMARK.format(chapter=name)
        atomic_write_bytes(benchmark, format_benchmark(seconds).encode())
        self.display.result(target, True, seconds, lines)

    def _run_step(self, argv: Sequence[str]) -> list[Diagnostic]:
        try:
            return list(self.run_step(argv))
        except ChapterwiseError as exc:
            diagnostics = list(exc.diagnostics)
            if not any(d.severity is Severity.ERROR for d in diagnostics):
                diagnostics.append(Diagnostic(Severity.ERROR, "failed", "failed"))
            return diagnostics
        except (Exception, SystemExit) as exc:  # a bug must not end the session
            log.exception("watch: %s failed", " ".join(argv))
            message = f"internal error in '{' '.join(argv)}': {exc!r}; see {TRANSCRIPT}"
            return [Diagnostic(Severity.ERROR, message, "internal-error")]

    def _append_log(self, relative: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))

    def _thesis(self, project: Project, *, initial: bool = False) -> None:
        self._snakemake([project.config.output], project.config.output, initial=initial)

    def _snakemake(self, targets: list[str], what: str, *, initial: bool = False) -> bool:
        self.display.building(f"{what} (snakemake)")
        if self.capture is not None:
            self.capture.collect()
        run: SnakemakeRun = run_snakemake(self.root, targets, cores=self.options.cores)
        printed = self.capture.collect() if self.capture is not None else []
        if self.stopping.is_set():
            return False
        own = [format_diagnostic(d) for d in run.diagnostics]
        lines = [*printed, *(line for line in own if line not in printed)]
        if not run.ok:
            self.display.result(what, False, run.seconds, lines, "the last good PDF is kept")
            return False
        if initial and not run.updated:
            self.display.result(what, True, run.seconds, lines, "up to date")
        else:
            self.display.result(what, True, run.seconds, lines)
        return True


@contextlib.contextmanager
def _signals_end(stop: threading.Event) -> Iterator[None]:
    """While inside: SIGINT and SIGTERM set ``stop`` instead of raising (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_watch(root: Path, options: WatchOptions, *, run_step: StepRunner) -> None:
    """Watch ``root`` until Ctrl-C (then raise KeyboardInterrupt, after stopping everything).

    ``run_step(argv)`` runs one ``chapterwise`` command in this process and returns its
    diagnostics (the CLI passes its own dispatcher, so previews run the rule's exact step).
    """
    root = root.resolve()
    stop = threading.Event()
    with OutputCapture(root / TRANSCRIPT) as capture:
        console = Console(file=capture.terminal, highlight=False)
        display = Display(console)
        session = WatchSession(root, options, run_step, display, capture)
        with _signals_end(stop):
            try:
                session.start()
                while not stop.wait(0.25):
                    if not session.alive:
                        break
            finally:
                session.stop()
    if not stop.is_set():
        raise ChapterwiseError(
            Diagnostic(Severity.ERROR, "the watch builder stopped", "internal-error", TRANSCRIPT)
        )
    raise KeyboardInterrupt
