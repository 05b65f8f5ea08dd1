"""The precompiled preamble of chapter passes: a pdfTeX format made with mylatexformat.

A chapter pass spends about half its time loading the thesis' class and packages. Dumping the
preamble once into a format (``build/format/``) and starting the pass from it gives the same
pages, aux files and SyncTeX for about half the time. The format is used only while it is
known to hold exactly what the preamble would load now; otherwise the pass runs plain:

* its key covers the preamble's text (the main file up to its ``\\begin{document}`` line), the
  engine binary, TEXINPUTS, the chapterwise hooks and the date (a preamble may store
  ``\\today``); and every file the format's build read (its .fls: classes, packages, fonts'
  metrics, ``pdflatex.fmt``, texmf.cnf, project files) is stamped: distribution files by size
  and mtime, project files by content;
* a format is refused when its build failed, when the build shipped a page or wrote a PDF
  object (those are not dumped: the pass would silently lose them), when the build read a
  file of its own output directory (state that differs between passes), when a project file
  of the preamble mentions ``\\jobname`` (frozen at the format's build), or when the format
  names its own \\jobname anywhere but biblatex's list of .bib files (which the driver maps);
* the preamble must end on a line that starts with ``\\begin{document}``, after a line with
  no comment (mylatexformat finds the end of the preamble line by line, and a comment joins
  two lines).

A refused format is recorded with its key, so it is not remade until something changes.
Several chapter jobs may run at once: the check and the build hold a lock, and the format
is moved into place with ``os.replace``, so no pass reads a half-written format.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from chapterwise.fls import FileKind, parse_fls, project_inputs
from chapterwise.fsutil import write_if_changed
from chapterwise.latex import (
    ENGINE_OPTIONS,
    HOOK_FILE,
    HOOKS_DIR,
    LATEX_FLAGS,
    Format,
    LatexJob,
    file_digest,
    latex_environment,
)
from chapterwise.process import run_tool

log = logging.getLogger(__name__)

FORMAT_DIR = "build/format"
FORMAT_NAME = "chapterwise-preamble"  # the format's file name and its build's \jobname
RECORD_FILE = "chapterwise-format.json"
LOCK_FILE = "chapterwise-format.lock"
# Bump when the way the format is built or used changes: old formats are then remade.
FORMAT_VERSION = 1
# The format build: -ini from LaTeX's own format, mylatexformat dumps at \begin{document}.
BUILD_FLAGS = tuple(flag for flag in LATEX_FLAGS if not flag.startswith("-synctex"))

_BEGIN_DOCUMENT = re.compile(r"^[ \t]*\\begin[ \t]*\{document\}")
_DOCUMENT_LIKE = re.compile(r"\\begin[^%\n]*document|endofdump")
_COMMENT = re.compile(r"(?<!\\)(?:\\\\)*%")
_PDF_OBJECTS = re.compile(r"^\s*(\d+) PDF objects? out of", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Preamble:
    """The part of the main file a format holds, or why it cannot be dumped and skipped."""

    text: str | None
    problem: str | None = None


@dataclass(frozen=True)
class FormatRecord:
    """What a format was made from, and whether passes may use it."""

    key: str
    usable: bool
    reason: str  # why not, when not usable
    system: dict[str, str] = field(default_factory=dict)  # distribution file -> size:mtime
    project: dict[str, str] = field(default_factory=dict)  # project file -> sha256
    version: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class FormatUse:
    """The format for a pass (None: run plain, for ``reason``) and the project files it holds."""

    fmt: Format | None
    reason: str
    project: Mapping[str, str]


def split_preamble(text: str) -> Preamble:
    """The main file's lines before its ``\\begin{document}`` line, when a format can hold them."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if _BEGIN_DOCUMENT.match(line):
            before = lines[:number]
            if before and _COMMENT.search(before[-1]):
                return Preamble(None, f"line {number} (before \\begin{{document}}) has a comment")
            return Preamble("".join(before))
        if _DOCUMENT_LIKE.search(_COMMENT.split(line, 1)[0]):
            return Preamble(None, f"line {number + 1} looks like the end of the preamble")
    return Preamble(None, "no line starts with \\begin{document}")


def format_key(preamble: str, *, engine: str, texinputs: str, hooks: str, date: str) -> str:
    """The digest of what decides a format's content besides the files its build read."""
    fields = [str(FORMAT_VERSION), preamble, engine, texinputs, hooks, date]
    return hashlib.sha256("\0".join(fields).encode("utf-8", "surrogateescape")).hexdigest()


def system_stamp(path: str) -> str:
    """size:mtime_ns of a file outside the project, or "missing"."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def stale_reason(record: FormatRecord | None, key: str, root: Path) -> str | None:
    """Why ``record`` does not describe a format of the current sources (None: it does)."""
    if record is None:
        return "no format yet"
    if record.version != FORMAT_VERSION or record.key != key:
        return "the preamble, engine, TEXINPUTS, hooks or date changed"
    for path, stamp in record.system.items():
        if system_stamp(path) != stamp:
            return f"{path} changed"
    for path, digest in record.project.items():
        if (file_digest(root / path) or "missing") != digest:
            return f"{path} changed"
    return None


def parse_record(text: str) -> FormatRecord | None:
    """A format record from its JSON; None for anything unreadable."""
    try:
        data = json.loads(text)
        return FormatRecord(
            key=str(data["key"]),
            usable=bool(data["usable"]),
            reason=str(data["reason"]),
            system={str(k): str(v) for k, v in data["system"].items()},
            project={str(k): str(v) for k, v in data["project"].items()},
            version=int(data["version"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_record(directory: Path) -> FormatRecord | None:
    try:
        return parse_record((directory / RECORD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_record(directory: Path, record: FormatRecord) -> None:
    write_if_changed(directory / RECORD_FILE, json.dumps(asdict(record), indent=1, sort_keys=True))


def check_build_log(text: str) -> str | None:
    """Why a format build's log shows a format that lost something (None: it is sound)."""
    if "No pages of output." not in text:
        return "the preamble shipped a page"
    objects = _PDF_OBJECTS.search(text)
    if objects is None or int(objects.group(1)) != 0:
        return "the preamble made PDF objects (an image in a box, say), which a format cannot keep"
    return None


def check_jobname(data: bytes, name: str) -> str | None:
    """Why a format's strings show the preamble stored its build's \\jobname (None: they don't).

    The build's own name, its log path and the format's banner hold it, and biblatex's .bib
    list, which the driver maps to the pass's \\jobname; any other name holding it is state
    the pass cannot see.
    """
    needle = name.encode()
    allowed = (b"blx@list@bibfiles@", b"/", b"format=")
    bare = 0
    for match in re.finditer(re.escape(needle), data):
        if any(data[: match.start()].endswith(prefix) for prefix in allowed):
            continue
        bare += 1
    if bare > 1:
        return "the preamble stores \\jobname, which a format freezes"
    return None


def _format_strings(path: Path) -> bytes:
    """A format's bytes, uncompressed (pdfTeX writes formats gzipped)."""
    try:
        with gzip.open(path) as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error):
        return path.read_bytes()


def _engine_stamp() -> str:
    """The pdfTeX binary that makes and loads formats: its path, size and mtime."""
    found = shutil.which("pdflatex")
    if found is None:
        return "missing"
    real = os.path.realpath(found)
    return f"{real}:{system_stamp(real)}"


def _key(root: Path, preamble: str, env: Mapping[str, str]) -> str:
    return format_key(
        preamble,
        engine=_engine_stamp(),
        texinputs=env.get("TEXINPUTS", ""),
        hooks=file_digest(HOOKS_DIR / HOOK_FILE) or "missing",
        date=time.strftime("%Y-%m-%d"),
    )


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log_line(log_path: Path, line: str) -> None:
    log.info("%s", line)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def ensure_format(root: Path, main: str, *, source_date_epoch: int, log_path: Path) -> FormatUse:
    """The current format of ``main``'s preamble, made now when missing or stale."""
    directory = root / FORMAT_DIR
    fmt = Format(directory.resolve(), FORMAT_NAME)
    text = (root / main).read_text(encoding="utf-8", errors="surrogateescape")
    preamble = split_preamble(text)
    if preamble.text is None:
        _log_line(log_path, f"no precompiled preamble: {preamble.problem}")
        return FormatUse(None, str(preamble.problem), {})
    job = LatexJob(root, main, FORMAT_NAME, FORMAT_DIR, None, source_date_epoch)
    env = latex_environment(job, os.environ)
    key = _key(root, preamble.text, env)
    with _locked(directory):
        record = read_record(directory)
        reason = stale_reason(record, key, root)
        if reason is None and record is not None and record.usable and fmt.file.is_file():
            return FormatUse(fmt, "current", record.project)
        if reason is None and record is not None and not record.usable:
            _log_line(log_path, f"no precompiled preamble: {record.reason}")
            return FormatUse(None, record.reason, {})
        _log_line(log_path, f"making the precompiled preamble: {reason or 'no format file'}")
        record = build_format(root, main, key=key, env=env, log_path=log_path)
        _write_record(directory, record)
    if not record.usable:
        _log_line(log_path, f"no precompiled preamble: {record.reason}")
        return FormatUse(None, record.reason, {})
    return FormatUse(fmt, "made", record.project)


def reject_format(root: Path, reason: str) -> None:
    """Record that passes with the current format fail, so they run plain until it is remade."""
    directory = root / FORMAT_DIR
    with _locked(directory):
        record = read_record(directory)
        if record is not None and record.usable:
            _write_record(
                directory,
                FormatRecord(record.key, False, reason, record.system, record.project),
            )


def build_format(
    root: Path, main: str, *, key: str, env: Mapping[str, str], log_path: Path
) -> FormatRecord:
    """Dump ``main``'s preamble into ``build/format/``; the record says whether to use it."""
    directory = root / FORMAT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="build-", dir=directory))
    try:
        outdir = PurePosixPath(*scratch.relative_to(root).parts).as_posix()
        command = (
            "pdflatex",
            "-ini",
            *BUILD_FLAGS,
            *ENGINE_OPTIONS,
            f"-output-directory={outdir}",
            f"-jobname={FORMAT_NAME}",
            "&pdflatex",
            "mylatexformat.ltx",
            main,
        )
        result = run_tool(command, cwd=root, log=log_path, env=env)
        recording = parse_fls(_read(scratch / f"{FORMAT_NAME}.fls"))
        system: dict[str, str] = {}
        own: list[str] = []
        base = Path(recording.pwd) if recording.pwd else root
        for raw, kind in recording.files:
            if kind is FileKind.OUTPUT:
                continue
            absolute = Path(os.path.normpath(base / raw)).resolve()
            if absolute.is_relative_to(scratch.resolve()):
                if absolute.suffix not in (".fmt", ".log", ".fls"):
                    own.append(absolute.name)
            elif not absolute.is_relative_to(root.resolve()):
                system[absolute.as_posix()] = system_stamp(absolute.as_posix())
        # The main file counts by its preamble, which the key holds: body edits keep the format.
        project = {
            path: file_digest(root / path) or "missing"
            for path in project_inputs(recording, root=root)
            if path != main
        }
        project = dict(sorted(project.items()))
        reason = _refusal(root, main, scratch, result.ok, own, project)
        if reason is None:
            os.replace(scratch / f"{FORMAT_NAME}.fmt", directory / f"{FORMAT_NAME}.fmt")
        for ext in ("log", "fls"):  # kept for whoever wonders what the format holds
            if (scratch / f"{FORMAT_NAME}.{ext}").is_file():
                os.replace(scratch / f"{FORMAT_NAME}.{ext}", directory / f"{FORMAT_NAME}.{ext}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return FormatRecord(key, reason is None, reason or "", dict(sorted(system.items())), project)


def _refusal(
    root: Path, main: str, scratch: Path, ok: bool, own: list[str], project: Mapping[str, str]
) -> str | None:
    """Why the format just built in ``scratch`` must not be used (None: use it)."""
    fmt = scratch / f"{FORMAT_NAME}.fmt"
    if not ok or not fmt.is_file():
        return "making the format failed (see the log)"
    problem = check_build_log(_read(scratch / f"{FORMAT_NAME}.log"))
    if problem is not None:
        return problem
    if own or (scratch / f"{FORMAT_NAME}.pdf").exists():
        return f"the preamble read {', '.join(sorted(own)) or 'its PDF'} of the format's build"
    for path in project:
        text = _read(root / path)
        if path == main:
            text = split_preamble(text).text or ""
        if "\\jobname" in text:
            return f"{path} uses \\jobname, which a format freezes"
    return check_jobname(_format_strings(fmt), FORMAT_NAME)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
