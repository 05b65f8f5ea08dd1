"""Find the LaTeX commands that read files or name labels, references and citations.

``scan_tex`` walks a ``.tex`` text once with a small cursor (nothing is expanded) and reports
every ``\\input``-like command, ``\\include``, ``\\includegraphics``, ``\\graphicspath``,
bibliography command, ``\\label``, reference and citation, with the line and column of its
backslash. Text that TeX would not read as commands is skipped: ``%`` comments, ``\\verb``,
verbatim-like environments and the false branch of ``\\iffalse``. Which commands exist and
how their arguments look is one table, ``_COMMANDS``.

The scanner never raises. A command whose argument is broken (no closing brace) is not
reported, and scanning goes on right after its name.

Known limitations (a scanner, not TeX):

- macros are not expanded: a command hidden in a user macro is not seen, and a target that
  uses one (``\\input{\\chapterdir/a}``) is reported as written;
- a target holding a macro parameter (``\\label{#1}`` in a ``\\newcommand`` body) is dropped,
  as nothing static can be said about it;
- ``\\iffalse`` nests only over TeX's primitive conditionals (``\\ifx``, ``\\ifnum``, ...): a
  ``\\newif`` conditional inside it is not counted, so its ``\\fi`` ends the skipped text early.
  ``\\iffalse ... \\else ... \\fi`` scans the ``\\else`` branch; ``\\let\\ifdraft\\iffalse`` is
  read as an assignment, other indirect uses of ``\\iffalse`` are not recognised;
- an unterminated verbatim environment or ``\\iffalse`` hides the rest of the text, as in TeX;
  comment environments declared with ``\\excludecomment`` are not known;
- an argument may not contain a blank line (TeX stops with "Runaway argument"); such a
  command is skipped like an unclosed one;
- ``@`` counts as a letter in command names (as after ``\\makeatletter``), so ``\\input@path``
  is not ``\\input``; only ``\\n`` ends a line (``\\r\\n`` works, a lone ``\\r`` does not);
- commands inside a required argument of a reported command are not reported (those inside
  its optional arguments are, e.g. ``\\cite[see \\ref{fig:a}]{key}``).
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

__all__ = ["CommandKind", "TexCommand", "scan_tex"]


class CommandKind(enum.Enum):
    """What a command does with its targets."""

    INPUT = "input"
    INCLUDE = "include"
    GRAPHICS = "graphics"
    GRAPHICSPATH = "graphicspath"
    BIBRESOURCE = "bibresource"
    LABEL = "label"
    REF = "ref"
    CITE = "cite"


@dataclass(frozen=True, slots=True)
class TexCommand:
    """One command of the source; ``line`` and ``column`` (1-based) are its backslash's."""

    kind: CommandKind
    name: str  # without backslash and star, e.g. "includegraphics"
    targets: tuple[str, ...]  # whitespace-stripped, empty ones dropped
    line: int
    column: int


class _Shape(enum.Enum):
    """How the arguments of a command become its targets."""

    ONE = enum.auto()  # [..]{target}
    LIST = enum.auto()  # [..]{a, b}
    RANGE = enum.auto()  # [..]{a}{b}
    PATH = enum.auto()  # {dir/}{file} -> "dir/file"
    GROUPS = enum.auto()  # {{a/}{b/}}
    MULTI = enum.auto()  # (..)(..)[..][..]{a,b}[..]{c} ...
    FILE = enum.auto()  # {file}, or the TeX primitive's bare "\input file"


class _Spec(NamedTuple):
    kind: CommandKind
    shape: _Shape
    optional: int  # how many [..] arguments may come before the first {..}


def _specs(kind: CommandKind, shape: _Shape, optional: int, names: str) -> dict[str, _Spec]:
    """The same spec for each of the space-separated ``names``."""
    return {name: _Spec(kind, shape, optional) for name in names.split()}


_K = CommandKind
_S = _Shape
_COMMANDS: Final[Mapping[str, _Spec]] = {
    **_specs(_K.INPUT, _S.FILE, 0, "input"),
    **_specs(_K.INPUT, _S.ONE, 0, "subfile"),
    **_specs(
        _K.INPUT,
        _S.PATH,
        0,
        "import subimport inputfrom includefrom subinputfrom subincludefrom",
    ),
    **_specs(_K.INCLUDE, _S.ONE, 0, "include"),
    **_specs(_K.GRAPHICS, _S.ONE, 2, "includegraphics"),
    **_specs(_K.GRAPHICSPATH, _S.GROUPS, 0, "graphicspath"),
    **_specs(_K.BIBRESOURCE, _S.ONE, 1, "addbibresource"),
    **_specs(_K.BIBRESOURCE, _S.LIST, 0, "bibliography"),
    **_specs(_K.LABEL, _S.ONE, 1, "label"),  # cleveref: \label[type]{key}
    **_specs(
        _K.REF,
        _S.LIST,
        2,
        "ref eqref pageref autoref nameref vref Vref vpageref fullref subref"
        " cref Cref cpageref Cpageref labelcref labelcpageref namecref nameCref lcnamecref",
    ),
    **_specs(
        _K.REF,
        _S.RANGE,
        2,
        "crefrange Crefrange cpagerefrange Cpagerefrange vrefrange vpagerefrange",
    ),
    **_specs(
        _K.CITE,
        _S.LIST,
        2,
        "cite Cite nocite citep Citep citet Citet citealp Citealp citealt Citealt"
        " citeauthor Citeauthor citefullauthor citeyear citeyearpar citenum citetitle"
        " citedate citeurl parencite Parencite textcite Textcite autocite Autocite"
        " footcite Footcite footcitetext Footcitetext smartcite Smartcite supercite"
        " fullcite footfullcite",
    ),
    **_specs(
        _K.CITE,
        _S.MULTI,
        0,
        "cites Cites parencites Parencites textcites Textcites autocites Autocites"
        " footcites footcitetexts smartcites Smartcites supercites",
    ),
}

_VERBATIM_ENDS: Final[Mapping[str, re.Pattern[str]]] = {
    env: re.compile(r"\\end[ \t]*\{[ \t]*" + re.escape(env) + r"[ \t]*\}")
    for env in (
        "verbatim",
        "verbatim*",
        "Verbatim",
        "Verbatim*",
        "BVerbatim",
        "lstlisting",
        "minted",
        "comment",
    )
}

# TeX's primitive conditionals (with e-TeX, pdfTeX, XeTeX and LuaTeX ones): each opens a
# level that needs its own \fi, also while \iffalse text is being skipped.
_CONDITIONALS: Final = frozenset(
    (
        *("if", "ifcat", "ifnum", "ifdim", "ifodd", "ifx", "ifeof", "iftrue", "iffalse"),
        *("ifvmode", "ifhmode", "ifmmode", "ifinner", "ifvoid", "ifhbox", "ifvbox", "ifcase"),
        *("ifdefined", "ifcsname", "iffontchar", "ifincsname", "ifprimitive", "ifabsnum"),
        *("ifabsdim", "ifpdfprimitive", "ifpdfabsnum", "ifpdfabsdim"),
    )
)

_SPECIAL: Final = re.compile(r"[\\%]")
_ARGUMENT_STOP: Final = re.compile(r"[\\%\n{}\[\]()]")
_WORD: Final = re.compile(r"[A-Za-z@]+")
_FILE_NAME: Final = re.compile(r"[^\s%}\\]+")
_LET_BEFORE: Final = re.compile(r"\\let\s*\\(?:[A-Za-z@]+|[^A-Za-z@])\s*=?\s*\Z")
_SPACE: Final = " \t\r\f\v"
_CLOSER: Final[Mapping[str, str]] = {"{": "}", "[": "]", "(": ")"}


class _Arg(NamedTuple):
    text: str  # the content, comments removed
    start: int  # offset of the content's first character
    end: int  # offset just after the closing delimiter


_Span = tuple[int, int]


class _Parsed(NamedTuple):
    targets: tuple[str, ...]
    nested: tuple[_Span, ...]  # contents of optional arguments, scanned for commands too
    end: int


class _Hit(NamedTuple):
    offset: int
    kind: CommandKind
    name: str
    targets: tuple[str, ...]


class _Cursor:
    """Reads ``text`` up to ``stop``; every method takes and returns offsets."""

    def __init__(self, text: str, stop: int) -> None:
        self.text = text
        self.stop = stop

    def scan(self, pos: int) -> Iterator[tuple[_Hit, tuple[_Span, ...]]]:
        """Yield the known commands from ``pos`` on, with the spans still to scan inside them."""
        text, stop = self.text, self.stop
        while (match := _SPECIAL.search(text, pos, stop)) is not None:
            here = match.start()
            if text[here] == "%":
                pos = self.skip_comment(here)
                continue
            name, pos = self.read_control(here)
            if name == "verb":
                pos = self.skip_verb(pos)
            elif name == "begin":
                pos = self.skip_verbatim(pos)
            elif name == "iffalse" and not _LET_BEFORE.search(text, max(0, here - 80), here):
                pos = self.skip_false_branch(pos)
            elif (spec := _COMMANDS.get(name)) is not None:
                parsed = self.parse_arguments(pos, spec)
                if parsed is not None:
                    yield _Hit(here, spec.kind, name, parsed.targets), parsed.nested
                    pos = parsed.end

    def skip_comment(self, pos: int) -> int:
        """The end of the line of the ``%`` at ``pos``."""
        end = self.text.find("\n", pos, self.stop)
        return self.stop if end < 0 else end

    def read_control(self, pos: int) -> tuple[str, int]:
        """The control word at backslash ``pos`` ("" for a control symbol) and where it ends."""
        if pos + 1 >= self.stop:
            return "", self.stop
        word = _WORD.match(self.text, pos + 1, self.stop)
        if word is None:
            return "", pos + 2  # \% \\ \{ ...: never a comment or a group
        return word.group(), word.end()

    def skip_space(self, pos: int) -> int:
        """Skip spaces, comments and one line end; stop at the line end of a blank line."""
        text, stop = self.text, self.stop
        new_line = False
        while pos < stop:
            char = text[pos]
            if char in _SPACE:
                pos += 1
            elif char == "\n":
                if new_line:
                    return pos
                new_line = True
                pos += 1
            elif char == "%":
                end = text.find("\n", pos, stop)
                if end < 0:
                    return stop
                pos = end + 1  # a comment eats its line end
                new_line = True
            else:
                return pos
        return pos

    def skip_verb(self, pos: int) -> int:
        """Skip ``\\verb*|...|`` after its name; an unclosed one ends at the line end."""
        text, stop = self.text, self.stop
        if pos < stop and text[pos] == "*":
            pos += 1
        if pos >= stop or text[pos] == "\n":
            return pos
        line_end = text.find("\n", pos + 1, stop)
        if line_end < 0:
            line_end = stop
        close = text.find(text[pos], pos + 1, line_end)
        return line_end if close < 0 else close + 1

    def skip_verbatim(self, pos: int) -> int:
        """After ``\\begin``: skip a verbatim-like environment up to its ``\\end``."""
        start = self.skip_space(pos)
        if start >= self.stop or self.text[start] != "{":
            return pos
        env = self.read_argument(start, "{")
        if env is None:
            return pos
        end_pattern = _VERBATIM_ENDS.get(env.text.strip())
        if end_pattern is None:
            return env.end
        end = end_pattern.search(self.text, env.end, self.stop)
        return self.stop if end is None else end.end()

    def skip_false_branch(self, pos: int) -> int:
        """After ``\\iffalse``: skip to just after its ``\\else`` or ``\\fi``."""
        text, stop = self.text, self.stop
        depth = 0
        while (match := _SPECIAL.search(text, pos, stop)) is not None:
            here = match.start()
            if text[here] == "%":
                pos = self.skip_comment(here)
                continue
            name, pos = self.read_control(here)
            if name in _CONDITIONALS:
                depth += 1
            elif name == "fi":
                if depth == 0:
                    return pos
                depth -= 1
            elif name == "else" and depth == 0:
                return pos
        return stop

    def read_argument(self, pos: int, opener: str) -> _Arg | None:
        """The balanced argument opening at ``pos``; None if it is unclosed or has a blank line.

        Braces always nest; inside ``[..]`` and ``(..)`` the brackets nest too (as in xparse)
        when they are outside braces. Comments are dropped from the content, as TeX does.
        """
        text, stop = self.text, self.stop
        closer = _CLOSER[opener]
        braces = 1 if opener == "{" else 0
        depth = 0 if opener == "{" else 1
        pieces: list[str] = []
        piece_start = pos = pos + 1
        blank_line = False
        while (match := _ARGUMENT_STOP.search(text, pos, stop)) is not None:
            here = match.start()
            char = text[here]
            if blank_line and text[pos:here].strip(_SPACE):
                blank_line = False
            pos = here + 1
            if char == "\n":
                if blank_line:
                    return None
                blank_line = True
                continue
            if char == "%":
                pieces.append(text[piece_start:here])
                line_end = text.find("\n", here, stop)
                if line_end < 0:
                    return None
                pos = line_end + 1
                while pos < stop and text[pos] in " \t":
                    pos += 1
                piece_start = pos
                blank_line = True
                continue
            blank_line = False
            if char == "\\":
                pos = here + 2
            elif char == "{":
                braces += 1
            elif char == "}":
                if braces == 0:
                    return None
                braces -= 1
                if braces == 0 and opener == "{":
                    return _Arg("".join([*pieces, text[piece_start:here]]), piece_start, pos)
            elif braces == 0 and opener != "{" and char in (opener, closer):
                depth += 1 if char == opener else -1
                if depth == 0:
                    return _Arg("".join([*pieces, text[piece_start:here]]), piece_start, pos)
        return None

    def read_required(self, pos: int) -> _Arg | None:
        """The ``{..}`` argument after optional space at ``pos``, if there is one."""
        start = self.skip_space(pos)
        if start >= self.stop or self.text[start] != "{":
            return None
        return self.read_argument(start, "{")

    def read_optionals(
        self, pos: int, limit: int, opener: str
    ) -> tuple[tuple[_Span, ...], int] | None:
        """Up to ``limit`` optional arguments: their content spans and where they end."""
        spans: list[_Span] = []
        for _ in range(limit):
            start = self.skip_space(pos)
            if start >= self.stop or self.text[start] != opener:
                break
            arg = self.read_argument(start, opener)
            if arg is None:
                return None
            spans.append((arg.start, arg.end - 1))
            pos = arg.end
        return tuple(spans), pos

    def read_star(self, pos: int) -> int:
        """Past the ``*`` that may follow a command name (with space before it)."""
        start = self.skip_space(pos)
        return start + 1 if start < self.stop and self.text[start] == "*" else pos

    def parse_arguments(self, pos: int, spec: _Spec) -> _Parsed | None:
        """The targets of a command whose name ends at ``pos``; None if they are malformed."""
        if spec.shape is _Shape.FILE:
            return self.parse_file(pos)
        pos = self.read_star(pos)
        if spec.shape is _Shape.MULTI:
            return self.parse_multicite(pos)
        optionals = self.read_optionals(pos, spec.optional, "[")
        if optionals is None:
            return None
        nested, pos = optionals
        values: list[str] = []
        for _ in range(2 if spec.shape in (_Shape.RANGE, _Shape.PATH) else 1):
            arg = self.read_required(pos)
            if arg is None:
                return None
            values.append(arg.text)
            pos = arg.end
        return _Parsed(_targets(spec.shape, values), nested, pos)

    def parse_file(self, pos: int) -> _Parsed | None:
        """``\\input{file}``, or TeX's ``\\input file`` ended by space, ``%``, ``}`` or ``\\``."""
        start = self.skip_space(pos)
        if start < self.stop and self.text[start] == "{":
            arg = self.read_argument(start, "{")
            if arg is None:
                return None
            return _Parsed(_targets(_Shape.ONE, [arg.text]), (), arg.end)
        name = _FILE_NAME.match(self.text, start, self.stop)
        if name is None:
            return None
        return _Parsed(_targets(_Shape.ONE, [name.group()]), (), name.end())

    def parse_multicite(self, pos: int) -> _Parsed | None:
        """biblatex ``\\cites(pre)(post)[pre][post]{keys}[pre][post]{keys}...``."""
        parens = self.read_optionals(pos, 2, "(")
        if parens is None:
            return None
        nested, pos = parens
        keys: list[str] = []
        while True:
            optionals = self.read_optionals(pos, 2, "[")
            arg = None if optionals is None else self.read_required(optionals[1])
            if optionals is None or arg is None:
                if not keys:
                    return None  # not even one {keys} group
                break
            nested += optionals[0]
            keys.append(arg.text)
            pos = arg.end
            after = self.skip_space(pos)
            if after >= self.stop or self.text[after] not in "[{":
                break
        return _Parsed(_targets(_Shape.LIST, keys), nested, pos)


def _join_path(directory: str, file: str) -> str:
    """``\\import{dir}{file}``'s path: dir and file with one "/" between them."""
    directory, file = directory.strip(), file.strip()
    if not file:
        return ""
    if directory and not directory.endswith("/"):
        directory += "/"
    return directory + file


def _read_groups(text: str) -> list[str]:
    """The contents of the ``{..}`` groups in ``text``, as in ``\\graphicspath{{a/}{b/}}``."""
    cursor = _Cursor(text, len(text))
    groups: list[str] = []
    pos = 0
    while (start := cursor.skip_space(pos)) < len(text):
        if text[start] != "{":
            pos = start + 1
            continue
        group = cursor.read_argument(start, "{")
        if group is None:
            break
        groups.append(group.text)
        pos = group.end
    return groups


def _targets(shape: _Shape, values: list[str]) -> tuple[str, ...]:
    """Turn argument texts into targets: split, join, strip, drop empty and ``#1`` ones."""
    if shape in (_Shape.LIST, _Shape.MULTI):
        raw = [part for value in values for part in value.split(",")]
    elif shape is _Shape.PATH:
        raw = [_join_path(*values)]
    elif shape is _Shape.GROUPS:
        raw = _read_groups(values[0])
    else:
        raw = values
    stripped = (item.strip() for item in raw)
    return tuple(item for item in stripped if item and "#" not in item)


class _LineIndex:
    """Maps offsets of a text to 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def position(self, offset: int) -> tuple[int, int]:
        """The line and column of ``offset``."""
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def scan_tex(text: str) -> tuple[TexCommand, ...]:
    """Every file, graphics, bibliography, label, reference and citation command, in order."""
    hits: list[_Hit] = []
    spans: list[_Span] = [(0, len(text))]
    while spans:  # a work list, not recursion: nesting depth is up to the text
        start, stop = spans.pop()
        for hit, nested in _Cursor(text, stop).scan(start):
            hits.append(hit)
            spans.extend(nested)
    hits.sort(key=lambda hit: hit.offset)
    lines = _LineIndex(text)
    return tuple(
        TexCommand(hit.kind, hit.name, hit.targets, *lines.position(hit.offset)) for hit in hits
    )
