"""Graphviz diagrams: ``figures/<name>.dot`` -> a byte-reproducible ``figures/<name>.pdf``.

``dot -Tpdf`` (cairo) stamps the wall-clock time into the PDF's ``/CreationDate`` and, with
cairo 1.16 (Ubuntu 22.04's), ignores ``SOURCE_DATE_EPOCH``; measured: two renders a second
apart differ in exactly that string. So the date is rewritten to the configured epoch in
place, padded to the same length, which keeps every xref offset valid.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, Severity, error, warning
from chapterwise.fsutil import write_if_changed
from chapterwise.process import failure_message, run_tool

DOT = "dot"
DIAGRAM_ERROR = "diagram-error"
DIAGRAM_WARNING = "diagram-warning"

# "Error: figures/x.dot: syntax error in line 3 near ';'" (graphviz 2.4x and later)
_MESSAGE = re.compile(r"^(?P<level>Error|Warning):\s*(?P<text>.*?)\s*$")
_IN_LINE = re.compile(r"\s*\bin line (?P<line>\d{1,9})\b(?: of \S+)?")
_PDF_DATE = re.compile(rb"/(?:CreationDate|ModDate)\s*\((?P<date>D:[^)\\]*)\)")


def parse_dot_messages(text: str, *, path: str, n_lines: int) -> tuple[Diagnostic, ...]:
    """dot's ``Error:``/``Warning:`` lines as diagnostics located in ``path`` (other lines skipped).

    A line number dot gives past the end (it counts the end of input) is clamped to the last
    line, so every reported line is in ``1..n_lines``; with an empty file there is none.
    """
    return tuple(_dot_messages(text, path=path, n_lines=n_lines))


def _dot_messages(text: str, *, path: str, n_lines: int) -> Iterator[Diagnostic]:
    for raw in text.splitlines():
        match = _MESSAGE.match(raw)
        if match is None:
            continue
        message = match["text"]
        for prefix in (f"{path}:", f"{DOT}:"):
            if message.startswith(prefix):
                message = message[len(prefix) :].lstrip()
        line: int | None = None
        where = _IN_LINE.search(message)
        if where is not None:
            line = min(max(int(where["line"]), 1), n_lines) if n_lines > 0 else None
            message = (message[: where.start()] + message[where.end() :]).strip()
        message = message or "dot reported a problem"
        if match["level"] == "Error":
            yield error(message, DIAGRAM_ERROR, path, line)
        else:
            yield warning(message, DIAGRAM_WARNING, path, line)


def pdf_date(epoch: int) -> bytes:
    """A PDF date string (``D:YYYYMMDDHHmmSSZ``) for a Unix time, in UTC."""
    return time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime(epoch)).encode("ascii")


def normalise_pdf_dates(data: bytes, epoch: int) -> bytes:
    """``data`` with every /CreationDate and /ModDate set to ``epoch``, at the same length.

    The new date is padded with spaces after its ``)`` (or cut to a shorter, still valid PDF
    date such as ``D:2024``) so that no byte offset in the file moves.
    """
    stamp = pdf_date(epoch)

    def fixed(match: re.Match[bytes]) -> bytes:
        width = len(match["date"])
        date = stamp[:width]
        head = match[0][: match.start("date") - match.start()]
        return head + date + b")" + b" " * (width - len(date))

    return _PDF_DATE.sub(fixed, data)


def render_diagram(
    source: Path, output: Path, *, root: Path, log: Path, source_date_epoch: int
) -> list[Diagnostic]:
    """Run ``dot -Tpdf`` on ``source`` into a temporary file, then move it over ``output``.

    On any error ``output`` keeps its previous bytes. Returns dot's warnings; raises
    ChapterwiseError with its errors (syntax errors as ``source:LINE``).
    """
    shown = _relative(source, root)
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ChapterwiseError(
            error(f"cannot read file: {exc.strerror or exc}", "unreadable-file", shown)
        ) from exc
    scratch = root / "build" / "diagrams"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch), "TZ": "UTC"}
    with tempfile.TemporaryDirectory(dir=scratch) as directory:
        rendered = Path(directory) / output.name
        result = run_tool(
            [DOT, "-Tpdf", "-o", str(rendered), shown], cwd=root, log=log, env=env, append=False
        )
        messages = list(
            parse_dot_messages(_read_log(log), path=shown, n_lines=len(text.splitlines()))
        )
        problems = [d for d in messages if d.severity is Severity.ERROR]
        if not result.ok and not problems:
            problems = [error(failure_message(result, root=root), DIAGRAM_ERROR, shown)]
        if not problems and (not rendered.is_file() or rendered.stat().st_size == 0):
            problems = [
                error("dot wrote no PDF", DIAGRAM_ERROR, shown, hint="is there a graph in it?")
            ]
        if problems:
            raise ChapterwiseError([*problems, *(d for d in messages if d not in problems)])
        data = normalise_pdf_dates(rendered.read_bytes(), source_date_epoch)
    write_if_changed(output, data)
    return messages  # no errors: only warnings are left


def _read_log(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
