"""TeX ``.log`` -> Diagnostics: errors, undefined references and citations, duplicate labels.

TeX writes no structured log, so this is a line-based reader with three heuristics:

* wrapping: TeX breaks its output at ``max_print_line`` (79 by default); when no line of the
  log is longer than that, a line of exactly 79 characters is joined with the next one;
* the file stack: ``(path`` opens a file and ``)`` closes the innermost one.  Only text that
  looks like a path is pushed, other parentheses are matched line by line, and lines that
  hold messages, error context or box contents (which quote the document) are not scanned;
* error blocks: an error is the ``path:line: message`` or ``! message`` line plus TeX's context
  (up to ``l.NN``) and help text; the follow-ups ``Emergency stop`` and ``==> Fatal error
  occurred`` only count when no error came before.

Paths are reported POSIX and relative to the project root; files outside it keep their
absolute path.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chapterwise.diagnostics import Diagnostic, Severity, error, warning

# TeX's default max_print_line: a log whose lines are all at most this wide may be wrapped.
WRAP_WIDTH = 79
# How far past an error line to look for its ``l.NN`` context line, and how long help text runs.
_MAX_CONTEXT_LINES = 30
_MAX_HELP_LINES = 20
_MAX_BOX_LINES = 40

_FILE_LINE_ERROR = re.compile(
    r"^(?P<path>(?:[A-Za-z]:)?[^:\s][^:]*?):(?P<line>\d{1,9}): (?P<message>.*)$"
)
_CONTEXT_LINE_NUMBER = re.compile(r"^l\.(?P<line>\d{1,9})(?: |$)")
_MESSAGE_LINE = re.compile(
    r"^(?:(?:LaTeX|LaTeX3|Package|Class|Module)\b[^:]{0,80}?"
    r"(?:Info|Warning|Error|Font Info|Font Warning)):"
)
_WARNING = re.compile(r"^(?:LaTeX|(?:Package|Class) (?P<package>\S+)) Warning: (?P<message>.*)$")
_CONTINUATION = re.compile(r"^\((?P<name>[^()\s/]+)\)\s+(?P<text>.*)$")
_LATEX_ERROR_CONTINUATION = re.compile(r"^ {4,}(?P<text>\S.*)$")
_QUOTED = r"[`'\u2018\"](?P<key>[^`'\u2019\"]*)['\u2019\"]"
_INPUT_LINE = r"(?: on input line (?P<line>\d{1,9}))?"
_UNDEFINED_REFERENCE = re.compile(
    rf"^(?:Hyper )?[Rr]eference {_QUOTED} on page \S+ undefined{_INPUT_LINE}"
)
_UNDEFINED_CITATION = re.compile(rf"^Citation {_QUOTED}(?: on page \S+)? undefined{_INPUT_LINE}")
_DUPLICATE_LABEL = re.compile(rf"^Label {_QUOTED} multiply defined")
_MISSING_FILE_WARNING = re.compile(rf"^File {_QUOTED} not found{_INPUT_LINE}")
_MISSING_FILE = re.compile(rf"File {_QUOTED} not found")
_BOX = re.compile(r"^(?P<kind>Overfull|Underfull) \\[hv]box \(")
_BOX_LINE = re.compile(r"at lines? (?P<line>\d{1,9})")
_BOILERPLATE = re.compile(
    r"\s*(?:See the \S+ (?:manual|package documentation|class documentation|documentation)"
    r".*|Type\s+H <return>.*)$"
)
_CONTROL_SEQUENCE_AT_END = re.compile(r"(\\(?:[A-Za-z@]+|[^\sA-Za-z@]))\s*$")
_FILE_TOKEN = re.compile(r'"(?P<quoted>[^"]+)"|(?P<plain>[^\s()"\[\]{}<>]+)')
_RELATIVE_FILE = re.compile(r"^[\w\-+.~/]*\.[A-Za-z][A-Za-z0-9]{0,7}$")
_FOLLOW_UP = re.compile(r"^(?:Emergency stop|==> Fatal error occurred)")
_NO_LEGAL_END = "*** (job aborted, no legal \\end found)"

_HINTS: tuple[tuple[str, str], ...] = (
    ("Undefined control sequence", "check the spelling, or load the package that defines it"),
    ("Missing $ inserted", "a math-only command or character is used outside math mode"),
    ("Extra }, or forgotten $", "the braces or $ signs in this line do not balance"),
    ("Missing } inserted", "a { or $ is not closed"),
    ("File ended while scanning", "a closing } is probably missing"),
    ("Paragraph ended before", "a closing } is probably missing, or a blank line cuts an argument"),
)


@dataclass(frozen=True, slots=True)
class _ErrorStart:
    """The first line of an error: ``path:line: message`` (path and line known) or ``! message``."""

    path: str | None
    line: int | None
    message: str

    @property
    def follow_up(self) -> bool:
        return _FOLLOW_UP.match(self.message) is not None


def parse_tex_log(text: str, *, root: Path) -> tuple[Diagnostic, ...]:
    """The diagnostics in a pdfTeX/LaTeX log, in log order, without duplicates."""
    parser = _LogParser(_logical_lines(text), root.as_posix())
    return _without_duplicates(parser.run())


def read_tex_log(path: Path, *, root: Path) -> tuple[Diagnostic, ...]:
    """Parse the log at ``path``; a missing log has no diagnostics."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    return parse_tex_log(data.decode("utf-8", errors="replace"), root=root)


def _width(line: str) -> int:
    """Line width as TeX counts it (bytes); a replacement character stood for one byte."""
    return len(line.encode("utf-8", errors="replace")) - 2 * line.count("\ufffd")


def _is_wrapped(lines: Sequence[str]) -> bool:
    """True when no line TeX printed through its wrapping routine is longer than 79 columns.

    The banner (first line), the ``**`` command line and the memory statistics are written
    unwrapped even in a wrapped log, so they don't count.
    """
    for line in lines[1:]:
        if line.startswith("Here is how much of TeX's memory you used:"):
            break
        if not line.startswith("**") and _width(line) > WRAP_WIDTH:
            return False
    return True


def _logical_lines(text: str) -> list[str]:
    """Split the log into lines, joining the pieces of lines TeX wrapped at 79 columns."""
    physical = re.split(r"\r?\n", text)
    if not _is_wrapped(physical):
        return physical
    lines: list[str] = []
    current = physical[0]
    last_piece = current
    for line in physical[1:]:
        if _width(last_piece) == WRAP_WIDTH and _error_start(line) is None:
            current += line
        else:
            lines.append(current)
            current = line
        last_piece = line
    lines.append(current)
    return lines


def _error_start(line: str) -> _ErrorStart | None:
    """The error beginning on ``line``, if any."""
    match = _FILE_LINE_ERROR.match(line)
    if match is not None and _looks_like_path(match["path"], strict=False):
        return _ErrorStart(match["path"], _line_number(match["line"]), match["message"].strip())
    if line.startswith("!"):
        return _ErrorStart(None, None, line[1:].strip())
    return None


def _line_number(digits: str | None) -> int | None:
    """A 1-based line number, or None for a missing or zero one."""
    if digits is None:
        return None
    number = int(digits)
    return number if number >= 1 else None


def _looks_like_path(name: str, *, strict: bool = True) -> bool:
    """True for ``./x``, ``../x``, ``/x``, ``C:/x`` and (relative) names with an extension."""
    if name.startswith(("./", "../", "/", "~/")) or re.match(r"^[A-Za-z]:[/\\]", name):
        return True
    if strict:
        return _RELATIVE_FILE.match(name) is not None
    return re.search(r"\.[A-Za-z][A-Za-z0-9]{0,7}$", name) is not None


def _display_path(raw: str, root: str) -> str:
    """``raw`` as reported: POSIX, relative to ``root`` when inside it, without ``./``."""
    name = raw.strip()
    root = posixpath.normpath(root)
    if not posixpath.isabs(name):
        relative = posixpath.normpath(name)
        if relative == ".." or relative.startswith("../"):
            return posixpath.normpath(posixpath.join(root, relative))
        return relative
    absolute = posixpath.normpath(name)
    prefix = root.rstrip("/") + "/"
    if posixpath.isabs(root) and absolute.startswith(prefix) and len(absolute) > len(prefix):
        return absolute[len(prefix) :]
    return absolute


def _clean_message(message: str) -> str:
    """TeX's message without the ``See the manual`` boilerplate and the trailing period."""
    message = _BOILERPLATE.sub("", message).strip()
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    return message


class _FileStack:
    """The files TeX has open, as pushed by ``(path`` and popped by ``)``."""

    def __init__(self) -> None:
        # None marks a parenthesis that opened no file; it is matched within its own line.
        self._stack: list[str | None] = []

    @property
    def current(self) -> str | None:
        for entry in reversed(self._stack):
            if entry is not None:
                return entry
        return None

    def scan(self, line: str) -> None:
        """Apply the opens and closes on one log line."""
        height = len(self._stack)
        position = 0
        while position < len(line):
            char = line[position]
            escaped = position > 0 and line[position - 1] == "\\"
            if char == "(" and not escaped:
                match = _FILE_TOKEN.match(line, position + 1)
                name = (match["quoted"] or match["plain"]) if match is not None else None
                if match is not None and name and _looks_like_path(name):
                    self._stack.append(name)
                    position = match.end()
                    continue
                self._stack.append(None)
            elif char == ")" and not escaped and self._stack:
                self._stack.pop()
            position += 1
        while len(self._stack) > height and self._stack[-1] is None:
            self._stack.pop()


class _LogParser:
    """One pass over the logical lines of a log."""

    def __init__(self, lines: list[str], root: str) -> None:
        self.lines = lines
        self.root = root
        self.files = _FileStack()
        self.found: list[Diagnostic] = []
        self.error_seen = False
        self.runaway: str | None = None

    def run(self) -> list[Diagnostic]:
        index = 0
        box_lines = 0
        while index < len(self.lines):
            line = self.lines[index]
            start = _error_start(line)
            if start is not None:
                box_lines = 0
                index = self._error(index, start)
                continue
            if box_lines:
                box_lines = 0 if not line.strip() else box_lines - 1
                index += 1
                continue
            if line.startswith("Runaway ") and line.rstrip().endswith("?"):
                index = self._runaway(index)
                continue
            warned = _WARNING.match(line)
            if warned is not None:
                index = self._warning(index, warned)
                continue
            box = _BOX.match(line)
            if box is not None:
                if box["kind"] == "Overfull":
                    self._overfull(line)
                box_lines = _MAX_BOX_LINES
                index += 1
                continue
            if not _MESSAGE_LINE.match(line):
                self.files.scan(line)
            index += 1
        return self.found

    def _path(self, raw: str | None) -> str | None:
        return None if raw is None else _display_path(raw, self.root)

    def _current(self) -> str | None:
        return self._path(self.files.current)

    def _runaway(self, index: int) -> int:
        """Remember a ``Runaway argument?`` and the text after it for the next error's hint."""
        what = self.lines[index].rstrip().rstrip("?").lower()
        following = self.lines[index + 1] if index + 1 < len(self.lines) else ""
        if _error_start(following) is not None:
            self.runaway = what
            return index + 1
        excerpt = following.strip()
        if len(excerpt) > 40:
            excerpt = excerpt[:40] + "..."
        self.runaway = f"{what} '{excerpt}'" if excerpt else what
        return index + 2

    def _error(self, index: int, start: _ErrorStart) -> int:
        """Report the error starting at ``index``; return the index after its block."""
        lines = self.lines
        end = min(len(lines), index + 1 + _MAX_CONTEXT_LINES)
        message = start.message
        path = self._path(start.path) if start.path is not None else self._current()
        line = start.line
        top: str | None = None
        no_legal_end = False
        context_end: int | None = None
        follow_index = index + 1
        # continuation lines of a package or LaTeX error message
        while follow_index < end:
            following = lines[follow_index]
            match = _CONTINUATION.match(following)
            if match is None and message.startswith("LaTeX Error:"):
                match = _LATEX_ERROR_CONTINUATION.match(following)
            if match is None:
                break
            message += " " + match["text"].strip()
            follow_index += 1
        for probe in range(follow_index, end):
            text = lines[probe]
            later = _error_start(text)
            if later is not None:
                if not later.follow_up:
                    break
                if path is None and later.path is not None:
                    path = self._path(later.path)
                if line is None:
                    line = later.line
                continue
            if text.startswith(_NO_LEGAL_END):
                no_legal_end = True
            if top is None and text.strip():
                top = text
            numbered = _CONTEXT_LINE_NUMBER.match(text)
            if numbered is not None:
                if start.line is None:
                    line = _line_number(numbered["line"])
                if top is None:
                    top = text
                context_end = probe + 1
                break
        if context_end is None:
            after = self._first_blank(follow_index, end)
        else:
            after = self._help_end(context_end)
        if not start.follow_up or not self.error_seen:
            self._report_error(message, path, line, top, no_legal_end=no_legal_end)
        self.runaway = None
        return max(after, index + 1)

    def _first_blank(self, index: int, end: int) -> int:
        """The index after the first blank line in ``index..end`` (or where an error starts)."""
        for probe in range(index, end):
            if _error_start(self.lines[probe]) is not None:
                return probe
            if not self.lines[probe].strip():
                return probe + 1
        return end

    def _help_end(self, index: int) -> int:
        """The index after the rest of an ``l.NN`` context line and the help text after it."""
        if index < len(self.lines) and _error_start(self.lines[index]) is None:
            index += 1  # the second context line: the rest of the input line
        end = min(len(self.lines), index + _MAX_HELP_LINES)
        for probe in range(index, end):
            text = self.lines[probe]
            if _error_start(text) is not None:
                return probe
            if not text.strip():
                return probe + 1
            if text.startswith("Here is how much of TeX's memory you used:"):
                return probe
        return index

    def _report_error(
        self,
        raw_message: str,
        path: str | None,
        line: int | None,
        top: str | None,
        *,
        no_legal_end: bool,
    ) -> None:
        message = raw_message.strip()
        if message.startswith("==>"):
            message = message[3:].strip()
        message = _clean_message(message) or "TeX error"
        hint = next((text for prefix, text in _HINTS if message.startswith(prefix)), None)
        code = "latex-error"
        if message.startswith("Undefined control sequence") and top is not None:
            command = _CONTROL_SEQUENCE_AT_END.search(top)
            if command is not None:
                message = f"Undefined control sequence {command[1]}"
        missing = _MISSING_FILE.search(message)
        if missing is not None:
            name = missing["key"]
            if name.endswith((".sty", ".cls")):
                hint = "the package or class is not installed, or its name is misspelled"
            else:
                code = "missing-file"
                hint = "check the file name; paths are relative to the project root"
        if self.runaway is not None:
            hint = f"{self.runaway}: a closing }} is probably missing before this point"
        if no_legal_end:
            hint = "the input ended before \\end{document}"
        self.error_seen = True
        self.found.append(error(message, code, path, line, hint=hint))

    def _warning(self, index: int, match: re.Match[str]) -> int:
        """Report a LaTeX, class or package warning (with its continuation lines)."""
        text = match["message"].strip()
        following = index + 1
        while following < len(self.lines):
            continued = _CONTINUATION.match(self.lines[following])
            if continued is None:
                break
            text += " " + continued["text"].strip()
            following += 1
        diagnostic = self._warning_diagnostic(text)
        if diagnostic is not None:
            self.found.append(diagnostic)
        return following

    def _warning_diagnostic(self, text: str) -> Diagnostic | None:
        path = self._current()
        reference = _UNDEFINED_REFERENCE.match(text)
        if reference is not None:
            return warning(
                f"undefined reference '{reference['key']}'",
                "undefined-reference",
                path,
                _line_number(reference["line"]),
                hint="check that a matching \\label exists",
            )
        citation = _UNDEFINED_CITATION.match(text)
        if citation is not None:
            return warning(
                f"undefined citation '{citation['key']}'",
                "undefined-citation",
                path,
                _line_number(citation["line"]),
                hint="check the key against the .bib files",
            )
        label = _DUPLICATE_LABEL.match(text)
        if label is not None:
            return warning(
                f"label '{label['key']}' multiply defined",
                "duplicate-label",
                path,
                hint="every \\label name must be unique",
            )
        missing = _MISSING_FILE_WARNING.match(text)
        if missing is not None:
            return warning(
                f"file '{missing['key']}' not found",
                "missing-file",
                path,
                _line_number(missing["line"]),
                hint="check the file name; paths are relative to the project root",
            )
        return None

    def _overfull(self, line: str) -> None:
        number = _BOX_LINE.search(line)
        self.found.append(
            Diagnostic(
                Severity.NOTE,
                line.strip(),
                "overfull-box",
                self._current(),
                _line_number(number["line"]) if number is not None else None,
            )
        )


def _without_duplicates(found: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Drop repeated diagnostics, and missing-file warnings that an error already reports."""
    missing_errors = {
        (d.path, d.line) for d in found if d.code == "missing-file" and d.severity is Severity.ERROR
    }
    kept: list[Diagnostic] = []
    seen: set[Diagnostic] = set()
    for diagnostic in found:
        if diagnostic in seen:
            continue
        if (
            diagnostic.code == "missing-file"
            and diagnostic.severity is Severity.WARNING
            and (diagnostic.path, diagnostic.line) in missing_errors
        ):
            continue
        seen.add(diagnostic)
        kept.append(diagnostic)
    return tuple(kept)
