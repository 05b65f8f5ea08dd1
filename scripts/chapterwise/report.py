"""The build's record and its views.

After every build Snakemake's ``onsuccess``/``onerror`` handlers call :func:`report_build`,
which writes

- ``build/reports/build.json``: each job (rule, target, seconds, status), the wall time, the
  sum of job times, the parallel speedup (sum / wall) and the jobs skipped as up to date;
- ``build/reports/provenance.json`` (after a successful build): for every generated figure,
  result, table and macro file, the notebook that made it, the sha256 of that notebook and of
  its inputs, and the chapters that use it;

and prints a short table. ``chapterwise dag`` draws the job graph with each job's last time and
status. Everything comes from Snakemake's public surface: the log file the handlers receive,
the benchmark files the rules write under build/benchmarks/, and ``snakemake --dag``. The
parsers below are pure; the I/O is at the bottom of the module.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from chapterwise.diagnostics import ChapterwiseError, error
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.process import failure_message, run_tool
from chapterwise.project import RESULTS_DIR, TABLES_DIR, Project

REPORT_DIR = "build/reports"
BUILD_REPORT = f"{REPORT_DIR}/build.json"
PROVENANCE = f"{REPORT_DIR}/provenance.json"
REPORT_VERSION = 1
TABLE_ROWS = 12  # the terminal table shows the slowest jobs of the build, no more

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIMESTAMP = re.compile(r"^\[\w{3} (\w{3})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\]\s*$")
_JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) ([\w.-]+):\s*$")
_ERROR_HEADER = re.compile(r"^Error in rule ([\w.-]+):\s*$")
_FIELD = re.compile(r"^ {4}(\w+): ?(.*)$")
_FINISHED = re.compile(r"^Finished job(?:id:)? (\d+)\b")
_RESTART = re.compile(r"^Trying to restart job (\d+)\b")
_DATE = re.compile(r"^\s*Date: (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\s*$")
_COMMAND = re.compile(r"^\s*Command: (.*)$")
_LOG_NAME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d+))?\.snakemake\.log$")


class JobStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # started, never finished (interrupted, or still queued)
    SKIPPED = "skipped"  # not run by this build; its output is there from an earlier one


def job_key(rule: str, wildcards: Iterable[tuple[str, str]] = ()) -> str:
    """The identity of a job across builds: its rule plus its wildcard values."""
    pairs = ",".join(f"{name}={value}" for name, value in sorted(wildcards))
    return f"{rule}[{pairs}]" if pairs else rule


# --------------------------------------------------------------------------- Snakemake's log


@dataclass(frozen=True, slots=True)
class LoggedJob:
    """One job as Snakemake's log tells it (times to the second)."""

    jobid: int
    rule: str
    outputs: tuple[str, ...] = ()
    wildcards: tuple[tuple[str, str], ...] = ()
    benchmark: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    status: JobStatus = JobStatus.INCOMPLETE
    attempts: int = 1

    @property
    def key(self) -> str:
        return job_key(self.rule, self.wildcards)

    @property
    def target(self) -> str:
        return self.outputs[0] if self.outputs else self.rule


@dataclass(frozen=True, slots=True)
class SnakemakeLog:
    started: datetime | None
    command: str | None
    jobs: tuple[LoggedJob, ...]


def _datetime(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
) -> datetime | None:
    """The date, or None when it is impossible (February 30)."""
    try:
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None


def _timestamp(match: re.Match[str]) -> datetime | None:
    """A ``[Mon Nov 23 00:24:27 2026]`` line (time.asctime, English whatever the locale)."""
    month, day, hour, minute, second, year = match.groups()
    if month not in _MONTHS:
        return None
    number = _MONTHS.index(month) + 1
    return _datetime(int(year), number, int(day), int(hour), int(minute), int(second))


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(", ") if item.strip())


def _wildcards(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _split_list(value):
        name, sep, text = item.partition("=")
        if sep:
            pairs.append((name.strip(), text.strip()))
    return tuple(pairs)


def _fields(lines: Sequence[str], start: int) -> tuple[dict[str, str], int]:
    """The ``    key: value`` lines from ``start``; returns them and the index after them."""
    found: dict[str, str] = {}
    index = start
    while index < len(lines):
        line = lines[index]
        match = _FIELD.match(line)
        if match:
            found.setdefault(match.group(1), match.group(2).strip())
        elif not line.startswith("        "):  # deeper lines continue a multi-line field
            break
        index += 1
    return found, index


def parse_snakemake_log(text: str, *, name: str = "") -> SnakemakeLog:
    """Jobs, their times and outcomes from a Snakemake log (tolerates any other lines).

    ``name`` is the log's file name, whose timestamp (to the microsecond) is when the run began.
    """
    lines = text.splitlines()
    started: datetime | None = None
    command: str | None = None
    named = _LOG_NAME.search(name)
    if named:
        year, month, day, hour, minute, second, fraction = named.groups()
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        numbers = (int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
        started = _datetime(*numbers)
    jobs: dict[int, LoggedJob] = {}
    now: datetime | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if match := _TIMESTAMP.match(line):
            now = _timestamp(match) or now
        elif match := _JOB_HEADER.match(line):
            fields, index = _fields(lines, index)
            jobid = _int(fields.get("jobid"))
            if jobid is None:
                continue
            earlier = jobs.get(jobid)
            if earlier is not None:  # a restart (--retries): the same job again
                jobs[jobid] = replace(
                    earlier,
                    status=JobStatus.INCOMPLETE,
                    finished=None,
                    attempts=earlier.attempts + 1,
                )
                continue
            jobs[jobid] = LoggedJob(
                jobid=jobid,
                rule=match.group(1),
                outputs=_split_list(fields.get("output", "")),
                wildcards=_wildcards(fields.get("wildcards", "")),
                benchmark=fields.get("benchmark") or None,
                started=now,
            )
        elif match := _ERROR_HEADER.match(line):
            fields, index = _fields(lines, index)
            jobid = _int(fields.get("jobid"))
            if jobid is not None and jobid in jobs:
                jobs[jobid] = replace(jobs[jobid], status=JobStatus.FAILED, finished=now)
        elif match := _FINISHED.match(line):
            jobid = int(match.group(1))
            if jobid in jobs:
                jobs[jobid] = replace(jobs[jobid], status=JobStatus.OK, finished=now)
        elif (match := _DATE.match(line)) and started is None:
            year, month, day, hour, minute, second = (int(g) for g in match.groups())
            started = _datetime(year, month, day, hour, minute, second)
        elif (match := _COMMAND.match(line)) and command is None:
            command = match.group(1).strip()
    return SnakemakeLog(started, command, tuple(jobs.values()))


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def parse_benchmark(text: str) -> float | None:
    """Seconds from a Snakemake benchmark TSV (the mean over repeats); None if unreadable."""
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    if len(rows) < 2 or "s" not in rows[0]:
        return None
    column = rows[0].index("s")
    values = []
    for row in rows[1:]:
        try:
            values.append(float(row[column]))
        except (IndexError, ValueError):
            continue
    return sum(values) / len(values) if values else None


# --------------------------------------------------------------------------- the build report


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job in build.json; for a skipped job the time and date are those of its last run."""

    key: str
    rule: str
    target: str
    status: JobStatus
    seconds: float | None
    attempts: int = 1
    started: str | None = None  # ISO dates of the job's last run (whole seconds)
    finished: str | None = None
    timed_by: str = "benchmark"  # or "log": whole seconds between the log's timestamps

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "target": self.target,
            "status": self.status.value,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "attempts": self.attempts,
            "started": self.started,
            "finished": self.finished,
            "timed_by": self.timed_by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord | None:
        try:
            seconds = data.get("seconds")
            return cls(
                key=str(data["key"]),
                rule=str(data["rule"]),
                target=str(data["target"]),
                status=JobStatus(data["status"]),
                seconds=float(seconds) if isinstance(seconds, int | float) else None,
                attempts=int(data.get("attempts", 1)),
                started=str(data["started"]) if data.get("started") else None,
                finished=str(data["finished"]) if data.get("finished") else None,
                timed_by=str(data.get("timed_by", "benchmark")),
            )
        except (KeyError, ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class BuildReport:
    ok: bool
    started: datetime | None
    finished: datetime
    jobs: tuple[JobRecord, ...]  # the jobs this build ran
    skipped: tuple[JobRecord, ...] = ()  # jobs of earlier builds it did not need to run
    command: str | None = None
    log: str | None = None

    @property
    def wall_seconds(self) -> float | None:
        if self.started is None:
            return None
        return max((self.finished - self.started).total_seconds(), 0.0)

    @property
    def job_seconds(self) -> float:
        return sum(job.seconds or 0.0 for job in self.jobs)

    @property
    def speedup(self) -> float | None:
        wall = self.wall_seconds
        return self.job_seconds / wall if wall else None

    def count(self, status: JobStatus) -> int:
        return sum(1 for job in self.jobs if job.status is status)

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "version": REPORT_VERSION,
            "status": "ok" if self.ok else "failed",
            "started": self.started.isoformat(timespec="seconds") if self.started else None,
            "finished": self.finished.isoformat(timespec="seconds"),
            "wall_seconds": rounded(self.wall_seconds),
            "job_seconds": rounded(self.job_seconds),
            "speedup": rounded(self.speedup),
            "counts": {
                "run": len(self.jobs),
                "ok": self.count(JobStatus.OK),
                "failed": self.count(JobStatus.FAILED),
                "incomplete": self.count(JobStatus.INCOMPLETE),
                "skipped": len(self.skipped),
            },
            "command": self.command,
            "log": self.log,
            "jobs": [job.to_json() for job in self.jobs],
            "skipped": [job.to_json() for job in self.skipped],
        }


def summarise_build(
    log: SnakemakeLog,
    *,
    ok: bool,
    finished: datetime,
    benchmarks: Mapping[str, float],
    previous: Iterable[JobRecord] = (),
    exists: Callable[[str], bool] = lambda _: True,
    log_name: str | None = None,
) -> BuildReport:
    """The report of one build.

    ``benchmarks`` maps benchmark paths written during this build to their seconds (a job's
    own measurement beats the log's whole-second timestamps). ``previous`` are the records of
    the last report: those this build did not run, and whose target still ``exists``, were up
    to date and are carried over as skipped.
    """
    records: list[JobRecord] = []
    for job in log.jobs:
        if not job.outputs:  # a target rule such as 'all' does no work
            continue
        seconds = benchmarks.get(job.benchmark or "") if job.status is JobStatus.OK else None
        timed_by = "benchmark"
        if seconds is None and job.started is not None and job.finished is not None:
            seconds = (job.finished - job.started).total_seconds()
            timed_by = "log"
        records.append(
            JobRecord(
                key=job.key,
                rule=job.rule,
                target=job.target,
                status=job.status,
                seconds=seconds,
                attempts=job.attempts,
                started=job.started.isoformat(timespec="seconds") if job.started else None,
                finished=job.finished.isoformat(timespec="seconds") if job.finished else None,
                timed_by=timed_by,
            )
        )
    ran = {record.key for record in records}
    skipped = tuple(
        replace(record, status=JobStatus.SKIPPED)
        for record in previous
        if record.key not in ran
        and record.status in (JobStatus.OK, JobStatus.SKIPPED)
        and exists(record.target)
    )
    return BuildReport(
        ok=ok,
        started=log.started,
        finished=finished,
        jobs=tuple(records),
        skipped=skipped,
        command=log.command,
        log=log_name,
    )


def parse_build_report(text: str) -> tuple[JobRecord, ...]:
    """Every job record (run and skipped) of a build.json; nothing if it is unreadable."""
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(data, dict):
        return ()
    entries = [*data.get("jobs", []), *data.get("skipped", [])]
    records = (JobRecord.from_json(e) for e in entries if isinstance(e, dict))
    return tuple(record for record in records if record is not None)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def format_report_table(report: BuildReport, *, rows: int = TABLE_ROWS) -> Any:
    """A rich Table: the slowest jobs of this build, then wall time, job time and speedup."""
    from rich.table import Table

    status = "ok" if report.ok else "FAILED"
    table = Table(title=f"chapterwise build: {status}", title_justify="left", show_edge=False)
    table.add_column("rule")
    table.add_column("target", overflow="fold")
    table.add_column("time", justify="right")
    table.add_column("status")
    styles = {JobStatus.OK: "green", JobStatus.FAILED: "bold red", JobStatus.INCOMPLETE: "yellow"}
    ordered = sorted(report.jobs, key=lambda job: -(job.seconds or 0.0))
    for job in ordered[:rows]:
        retried = f" ({job.attempts} attempts)" if job.attempts > 1 else ""
        table.add_row(
            job.rule,
            job.target,
            _seconds(job.seconds),
            f"[{styles.get(job.status, '')}]{job.status.value}{retried}[/]",
        )
    if len(ordered) > rows:
        table.add_row("...", f"{len(ordered) - rows} more jobs", "", "")
    return table


def format_report_summary(report: BuildReport) -> str:
    """The line under the table: wall time, job time, speedup and what was skipped."""
    speedup = f"{report.speedup:.2f}x" if report.speedup is not None else "-"
    skipped = "skipped as up to date" if report.ok else "not run"
    return (
        f"wall {_seconds(report.wall_seconds)}, jobs {_seconds(report.job_seconds)} "
        f"(speedup {speedup}); {len(report.jobs)} run, {len(report.skipped)} {skipped}; "
        f"details in {BUILD_REPORT}"
    )


# --------------------------------------------------------------------------- provenance


def _kind(path: str) -> str:
    if path.startswith(f"{RESULTS_DIR}/"):
        return "result"
    if path.startswith(f"{TABLES_DIR}/"):
        return "table"
    return "figure"


def build_provenance(project: Project, digest: Callable[[str], str | None]) -> dict[str, Any]:
    """Where every generated file comes from and where it is used.

    ``digest`` gives a project file's sha256 (None when the file is missing).
    """
    notebooks = {notebook.name: notebook for notebook in project.notebooks}
    used_by: dict[str, list[str]] = {}
    for chapter in project.chapters:
        for path in project.chapter_deps[chapter.name].files:
            used_by.setdefault(path, []).append(chapter.name)
    preamble = set(project.preamble.files)

    def rendered(source: str) -> str:
        return f"{TABLES_DIR}/{Path(source).relative_to(RESULTS_DIR).with_suffix('.tex')}"

    # generated file -> (its kind, the result it is rendered from, if any)
    artifacts: dict[str, tuple[str, str | None]] = {p: (_kind(p), None) for p in project.producers}
    for name in project.tables:
        artifacts[f"{TABLES_DIR}/{name}.tex"] = ("table", project.table_source(name))
    for name in project.values:
        artifacts[f"{TABLES_DIR}/{name}.tex"] = ("macros", project.values_source(name))
    entries = []
    for path, (kind, source) in sorted(artifacts.items()):
        notebook = notebooks[project.producers[source or path]]
        where = [path] if kind != "result" else [path, rendered(path)]
        chapters = sorted({c for p in where for c in used_by.get(p, [])})
        entries.append(
            {
                "path": path,
                "kind": kind,
                "sha256": digest(path),
                "rendered_from": source,
                "notebook": notebook.path,
                "notebook_sha256": digest(notebook.path),
                "inputs": {item: digest(item) for item in notebook.inputs},
                "chapters": [c.name for c in project.chapters if c.name in chapters],
                "preamble": any(p in preamble for p in where),
            }
        )
    for path, dot in project.diagrams.items():
        entries.append(
            {
                "path": path,
                "kind": "diagram",
                "sha256": digest(path),
                "rendered_from": dot,
                "notebook": None,
                "notebook_sha256": None,
                "inputs": {dot: digest(dot)},
                "chapters": [c.name for c in project.chapters if c.name in used_by.get(path, [])],
                "preamble": path in preamble,
            }
        )
    entries.sort(key=lambda entry: str(entry["path"]))
    return {"version": REPORT_VERSION, "main": project.main, "artifacts": entries}


# --------------------------------------------------------------------------- the job graph


@dataclass(frozen=True, slots=True)
class DagNode:
    id: str
    rule: str
    wildcards: tuple[tuple[str, str], ...] = ()
    up_to_date: bool = False  # Snakemake draws such jobs dashed

    @property
    def key(self) -> str:
        return job_key(self.rule, self.wildcards)


@dataclass(frozen=True, slots=True)
class Dag:
    nodes: tuple[DagNode, ...]
    edges: tuple[tuple[str, str], ...] = field(default=())


_DOT_NODE = re.compile(r'^\s*(\d+)\s*\[\s*label\s*=\s*"((?:[^"\\]|\\.)*)"(.*)\]\s*;?\s*$')
_DOT_EDGE = re.compile(r"^\s*(\d+)\s*->\s*(\d+)\s*;?\s*$")


def parse_dot_dag(text: str) -> Dag:
    """Jobs and edges of ``snakemake --dag dot`` output (other lines are ignored)."""
    nodes: list[DagNode] = []
    edges: list[tuple[str, str]] = []
    for line in text.splitlines():
        if match := _DOT_NODE.match(line):
            rule, *rest = match.group(2).split("\\n")
            wildcards = []
            for item in rest:
                name, sep, value = item.partition(": ")
                if sep:
                    wildcards.append((name.strip(), value.strip()))
            nodes.append(
                DagNode(match.group(1), rule.strip(), tuple(wildcards), "dashed" in match.group(3))
            )
        elif match := _DOT_EDGE.match(line):
            edges.append((match.group(1), match.group(2)))
    return Dag(tuple(nodes), tuple(edges))


# Fill colours by the job's last status; no record means never built.
STATUS_COLOURS = {
    JobStatus.OK: "#c7e9c0",
    JobStatus.SKIPPED: "#e5f5e0",
    JobStatus.FAILED: "#fcbba1",
    JobStatus.INCOMPLETE: "#fee391",
}
_NEVER_BUILT = "#ffffff"


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_dag_title(report_text: str) -> str:
    """One line about the last build, from its build.json text (empty if there is none)."""
    try:
        data = json.loads(report_text)
    except ValueError:
        return ""
    if not isinstance(data, dict) or not data.get("finished"):
        return ""
    title = f"last build: {data.get('status')}, {str(data['finished']).replace('T', ' ')}"
    wall, speedup = data.get("wall_seconds"), data.get("speedup")
    if isinstance(wall, int | float) and isinstance(speedup, int | float):
        title += f"; wall {wall:.1f} s, speedup {speedup:.2f}x"
    return title + "\nsolid border: would run now; dashed: up to date"


def render_dag_dot(dag: Dag, records: Iterable[JobRecord], *, title: str = "") -> str:
    """A Graphviz graph of ``dag``: each job labelled and coloured by its last record.

    A solid border means Snakemake would run the job now, a dashed one that it is up to date.
    """
    by_key = {record.key: record for record in records}
    lines = [
        "digraph chapterwise_dag {",
        "    graph [rankdir=TB, fontname=sans, fontsize=10, labelloc=t"
        + (f", label={_dot_string(title)}" if title else "")
        + "];",
        '    node [shape=box, style="rounded,filled", fontname=sans, fontsize=10];',
        "    edge [color=grey40];",
    ]
    for node in dag.nodes:
        record = by_key.get(node.key)
        label = [node.rule, *(f"{name}: {value}" for name, value in node.wildcards)]
        if record is None:
            label.append("not built yet")
            colour = _NEVER_BUILT
        else:
            when = f", {record.finished.replace('T', ' ')}" if record.finished else ""
            label.append(f"{_seconds(record.seconds)} · {record.status.value}{when}")
            colour = STATUS_COLOURS[record.status]
        style = "rounded,filled,dashed" if node.up_to_date else "rounded,filled"
        lines.append(
            f"    n{node.id} [label={_dot_string(chr(10).join(label))}, "
            f'fillcolor="{colour}", style="{style}"];'
        )
    lines += [f"    n{source} -> n{target};" for source, target in dag.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- I/O


def sha256_file(path: Path) -> str | None:
    """The file's sha256 in hex, or None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except (FileNotFoundError, IsADirectoryError):
        return None
    return digest.hexdigest()


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _snakemake_log(log: str | Sequence[str] | None) -> Path | None:
    """The one Snakemake log file among what the handlers receive (a list since Snakemake 8)."""
    candidates = [log] if isinstance(log, str) else list(log or [])
    files = [Path(c) for c in candidates if c and Path(c).is_file()]
    return files[0] if files else None


def _fresh_benchmarks(root: Path, log: SnakemakeLog) -> dict[str, float]:
    """Seconds from the benchmark files this build wrote (older ones belong to earlier runs)."""
    found: dict[str, float] = {}
    since = log.started.timestamp() - 1 if log.started else 0.0
    for job in log.jobs:
        if job.benchmark is None:
            continue
        path = root / job.benchmark
        try:
            if path.stat().st_mtime < since:
                continue
            seconds = parse_benchmark(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        if seconds is not None:
            found[job.benchmark] = seconds
    return found


def write_build_report(
    root: Path, log_file: Path, *, ok: bool, finished: datetime | None = None
) -> BuildReport:
    """Write build/reports/build.json for the build that ``log_file`` records."""
    log = parse_snakemake_log(
        log_file.read_text(encoding="utf-8", errors="replace"), name=log_file.name
    )
    report_path = root / BUILD_REPORT
    try:
        previous = parse_build_report(report_path.read_text(encoding="utf-8"))
    except OSError:
        previous = ()
    try:
        shown_log = log_file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown_log = str(log_file)
    report = summarise_build(
        log,
        ok=ok,
        finished=finished or datetime.now(),
        benchmarks=_fresh_benchmarks(root, log),
        previous=previous,
        exists=lambda target: (root / target).exists(),
        log_name=shown_log,
    )
    _write_json(report_path, report.to_json())
    return report


def write_provenance(project: Project) -> Path:
    """Write build/reports/provenance.json from the project inventory and the files on disk."""
    path = project.root / PROVENANCE
    _write_json(path, build_provenance(project, lambda p: sha256_file(project.root / p)))
    return path


def report_build(log: str | Sequence[str] | None, project: Project, *, ok: bool) -> None:
    """The Snakefile's onsuccess/onerror handler: write the reports and print the table.

    A build's outcome is Snakemake's to report; a problem here only costs the report, so it
    is printed as a warning rather than raised into Snakemake.
    """
    from rich.console import Console

    console = Console(stderr=True)
    log_file = _snakemake_log(log)
    if log_file is None:
        console.print("chapterwise: warning: no Snakemake log file; build report not written")
        return
    try:
        report = write_build_report(project.root, log_file, ok=ok)
        if ok:
            write_provenance(project)
    except (OSError, ValueError, ChapterwiseError) as exc:
        console.print(f"chapterwise: warning: build report not written: {exc}", markup=False)
        return
    console.print(format_report_table(report))
    console.print(format_report_summary(report), markup=False, highlight=False, soft_wrap=True)


def draw_dag(root: Path, *, target: str, output: Path, fmt: str) -> Path:
    """Draw the job graph of ``target`` with each job's last time and status into ``output``."""
    logs = root / "build" / "logs" / "dag"
    snakemake_log = logs / "snakemake.log"
    command = (sys.executable, "-m", "snakemake", "--dag", "dot", target, "--quiet", "all")
    result = run_tool(command, cwd=root, log=snakemake_log, append=False)
    shown = snakemake_log.relative_to(root).as_posix()
    if not result.ok:
        raise ChapterwiseError(
            error(f"snakemake --dag exited with {result.returncode}; see {shown}", "dag-failed")
        )
    dag = parse_dot_dag(snakemake_log.read_text(encoding="utf-8", errors="replace"))
    if not dag.nodes:
        raise ChapterwiseError(error(f"snakemake printed no job graph; see {shown}", "dag-failed"))
    try:
        report_text = (root / BUILD_REPORT).read_text(encoding="utf-8")
    except OSError:
        report_text = ""
    title = format_dag_title(report_text)
    dot_file = root / REPORT_DIR / "dag.dot"
    dot_file.parent.mkdir(parents=True, exist_ok=True)
    records = parse_build_report(report_text)
    atomic_write_bytes(dot_file, render_dag_dot(dag, records, title=title).encode("utf-8"))
    output.parent.mkdir(parents=True, exist_ok=True)
    drawing = output.with_name(f".{output.name}.tmp")
    drawn = run_tool(
        ("dot", f"-T{fmt}", "-o", str(drawing), str(dot_file)),
        cwd=root,
        log=logs / "dot.log",
        append=False,
    )
    if not drawn.ok:
        drawing.unlink(missing_ok=True)
        raise ChapterwiseError(error(failure_message(drawn, root=root), "dag-failed"))
    os.replace(drawing, output)
    return output
