"""Find the LaTeX commands that read files or name labels, references and citations.

``scan_tex`` walks a ``.tex`` text once with a small cursor (nothing is expanded) and reports
every ``\\input``-like command, ``\\include``, ``\\includegraphics``, ``\\graphicspath``,
bibliography command, ``\\label``, reference and citation, with the line and column of its
backslash. Text that TeX would not read as commands is skipped: ``%`` comments, ``\\verb``,
the argument of ``\\url``, ``\\path`` and ``\\href`` (where ``%`` is a plain character),
verbatim-like environments and the false branch of ``\\iffalse``. Which commands exist and
how their arguments look is one table, ``_COMMANDS``. The same skipping (one cursor method,
``_Cursor.next_token``) serves ``scan_global_state``, the definitions and assignments of a
chapter that outlive it.

The scanner never raises. A command whose argument is broken (no closing brace) is not
reported, and scanning goes on right after its name; ``scan_braces`` reports such arguments,
and braces that do not balance, with their line and column.

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
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

__all__ = [
    "BraceProblem",
    "CommandKind",
    "ControlWord",
    "TexCommand",
    "UnbalancedBrace",
    "scan_braces",
    "scan_control_words",
    "scan_global_state",
    "scan_tex",
]


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
    STATE = "state"  # a definition or assignment that outlives the file (scan_global_state)


@dataclass(frozen=True, slots=True)
class TexCommand:
    """One command of the source; ``line`` and ``column`` (1-based) are its backslash's."""

    kind: CommandKind
    name: str  # without backslash and star, e.g. "includegraphics"
    targets: tuple[str, ...]  # whitespace-stripped, empty ones dropped
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class ControlWord:
    """A control word TeX reads (not in a comment, verbatim text or ``\\iffalse``)."""

    name: str  # without backslash, e.g. "caption"
    env: str  # the environment of \\begin and \\end, as written (e.g. "figure*"); else ""
    offset: int  # of the backslash
    line: int
    column: int


class BraceProblem(enum.Enum):
    """How braces fail to balance."""

    UNCLOSED_ARGUMENT = "unclosed-argument"  # a known command's {argument} never closes
    UNCLOSED_GROUP = "unclosed-group"  # a { still open at the end of the text
    STRAY_CLOSE = "stray-close"  # a } that closes nothing


@dataclass(frozen=True, slots=True)
class UnbalancedBrace:
    """One brace problem; the position is the command's backslash, or the brace's."""

    problem: BraceProblem
    command: str  # the command of an UNCLOSED_ARGUMENT, else ""
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
_BRACE: Final = re.compile(r"[{}]")
_BLANK_LINE: Final = re.compile(r"\n[ \t\r\f\v]*\n")
_GROUPING: Final = re.compile(r"[\\%{}]")
# Commands whose argument is read with other catcodes (hyperref, url): no comments inside.
_URL_COMMANDS: Final = frozenset(("url", "nolinkurl", "path", "href"))
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


class _Token(NamedTuple):
    offset: int  # of the backslash or brace
    name: str  # the control word ("" for a control symbol), or "{" / "}"
    end: int  # after the name; after ``{env}`` for \\begin and \\end
    env: str = ""  # the environment of \\begin and \\end


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
        while (token := self.next_token(pos, _SPECIAL)) is not None:
            pos = token.end
            if (spec := _COMMANDS.get(token.name)) is not None:
                parsed = self.parse_arguments(pos, spec)
                if parsed is not None:
                    yield _Hit(token.offset, spec.kind, token.name, parsed.targets), parsed.nested
                    pos = parsed.end

    def next_token(self, pos: int, pattern: re.Pattern[str]) -> _Token | None:
        """The next control word (or brace, if ``pattern`` finds them) TeX reads from ``pos``.

        This is the one place that decides what TeX does not read as commands: ``%``
        comments, ``\\verb``, the argument of ``\\url``-like commands, verbatim-like
        environments and the false branch of ``\\iffalse`` are stepped over.
        """
        text, stop = self.text, self.stop
        while (match := pattern.search(text, pos, stop)) is not None:
            here = match.start()
            char = text[here]
            if char == "%":
                pos = self.skip_comment(here)
                continue
            if char != "\\":
                return _Token(here, char, here + 1)
            name, pos = self.read_control(here)
            if name == "verb":
                pos = self.skip_verb(pos)
            elif name in _URL_COMMANDS:
                pos = self.skip_url(pos)
            elif name == "iffalse" and not _LET_BEFORE.search(text, max(0, here - 80), here):
                pos = self.skip_false_branch(pos)
            elif name in ("begin", "end"):
                env = self.read_required(pos)
                if env is None:
                    return _Token(here, name, pos)
                env_name = env.text.strip()
                end_pattern = _VERBATIM_ENDS.get(env_name) if name == "begin" else None
                if end_pattern is None:
                    return _Token(here, name, env.end, env_name)
                end = end_pattern.search(text, env.end, stop)
                pos = stop if end is None else end.end()
            else:
                return _Token(here, name, pos)
        return None

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

    def skip_url(self, pos: int) -> int:
        """Skip the argument of ``\\url`` (read with ``%`` and ``\\`` as plain characters).

        ``{..}`` nests braces, any other delimiter works like ``\\verb``'s; an unclosed
        argument (or one with a blank line) is not skipped.
        """
        text, stop = self.text, self.stop
        start = pos
        while start < stop and text[start] in _SPACE:
            start += 1
        if start >= stop or text[start].isalnum() or text[start] in "\n*[":
            return pos
        if text[start] != "{":
            close = text.find(text[start], start + 1, stop)
            line_end = text.find("\n", start + 1, stop)
            if close < 0 or 0 <= line_end < close:
                return pos
            return close + 1
        depth = 0
        for match in _BRACE.finditer(text, start, stop):
            depth += 1 if match.group() == "{" else -1
            if depth == 0:
                if _BLANK_LINE.search(text, start, match.start()):
                    return pos
                return match.end()
        return pos

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

    def unclosed_argument(self, pos: int, spec: _Spec) -> int | None:
        """The offset of the ``{`` opening a command's first required argument, if it never closes.

        "Never" as ``read_argument`` sees it: no ``}`` before a blank line or the end.
        """
        if spec.shape is not _Shape.FILE:
            pos = self.read_star(pos)
            limit = spec.optional
            if spec.shape is _Shape.MULTI:
                parens = self.read_optionals(pos, 2, "(")
                if parens is None:
                    return None
                pos, limit = parens[1], 2
            optionals = self.read_optionals(pos, limit, "[")
            if optionals is None:
                return None
            pos = optionals[1]
        start = self.skip_space(pos)
        if start < self.stop and self.text[start] == "{" and self.read_argument(start, "{") is None:
            return start
        return None

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


# Definitions and assignments that are local to the group they are made in: they outlive a
# chapter only at group depth 0 (\include opens no group). The first argument names what
# they define: a control sequence ("\\foo") or, for the second set, a name ("theorem").
_LOCAL_DEFINITIONS: Final = frozenset(
    (
        *("newcommand", "renewcommand", "providecommand", "DeclareRobustCommand", "def"),
        *("edef", "let", "futurelet", "chardef", "mathchardef", "countdef", "dimendef"),
        *("skipdef", "toksdef", "setlength", "addtolength", "settowidth", "settoheight"),
        *("settodepth", "newif", "DeclareMathOperator", "NewDocumentCommand"),
        *("RenewDocumentCommand", "ProvideDocumentCommand", "DeclareDocumentCommand"),
    )
)
_LOCAL_NAMED: Final = frozenset(
    (
        *("newenvironment", "renewenvironment", "NewDocumentEnvironment"),
        *("RenewDocumentEnvironment", "newtheorem", "pagestyle", "pagenumbering"),
    )
)
_LOCAL_OTHER: Final = frozenset(
    ("captionsetup", "hypersetup", "graphicspath", "catcode", "makeatletter", "makeatother")
)
# Assignments that are global wherever they are made.
_GLOBAL_DEFINITIONS: Final = frozenset(
    (
        *("gdef", "xdef", "newlength", "newsavebox", "newtoks", "newcount", "newdimen"),
        *("newskip", "newmuskip", "newbox", "newread", "newwrite"),
    )
)
_GLOBAL_NAMED: Final = frozenset(("newcounter",))
_GROUP_OPEN: Final = frozenset(("{", "bgroup", "begingroup"))
_GROUP_CLOSE: Final = frozenset(("}", "egroup", "endgroup"))


def _defined(cursor: _Cursor, pos: int, named: bool) -> tuple[tuple[str, ...], int]:
    """What a definition at ``pos`` defines (``\\foo`` or ``{\\foo}``; ``{name}``), and its end."""
    pos = cursor.read_star(pos)
    start = cursor.skip_space(pos)
    if start >= cursor.stop:
        return (), pos
    if cursor.text[start] == "\\" and not named:
        name, end = cursor.read_control(start)
        return (f"\\{name}" if name else cursor.text[start:end],), end
    if cursor.text[start] != "{":
        return (), pos
    arg = cursor.read_argument(start, "{")
    if arg is None:
        return (), pos
    target = arg.text.strip()
    return ((target,) if target and "#" not in target else ()), arg.end


def scan_global_state(text: str) -> tuple[TexCommand, ...]:
    r"""The commands of a chapter that change TeX state still visible after it ends.

    ``\include`` opens no group, so a definition or assignment made at group depth 0
    (outside ``{..}``, ``\begingroup..\endgroup``, ``\bgroup..\egroup`` and
    ``\begin{env}..\end{env}``) outlives the chapter: ``\newcommand``, ``\def``,
    ``\let``, ``\setlength``, ``\pagestyle``, ``\captionsetup``, ``\catcode``, ... ;
    ``\gdef``, ``\xdef``, ``\global``, ``\newcounter``, ``\newlength`` and the other
    allocations are global at any depth. Each is a ``CommandKind.STATE`` command named as
    written; its target is the defined control sequence (``\foo``) or name (``theorem``)
    when the first argument gives one, for ``\global`` the command it prefixes
    (``\let``), else empty. Counter changes (``\setcounter``, ``\stepcounter``) are not
    reported: LaTeX's ``\include`` checkpoints carry them. Comments, verbatim text and
    ``\iffalse`` branches are skipped as in ``scan_tex``; a definition inside another
    definition's body is inside braces, so only the global ones are reported. Assignments
    without a command (``\parindent=0pt``, ``\count0=1``) are not seen.
    """
    cursor = _Cursor(text, len(text))
    lines = _LineIndex(text)
    found: list[TexCommand] = []
    depth = 0
    pos = 0
    while (token := cursor.next_token(pos, _GROUPING)) is not None:
        pos = token.end
        name = token.name
        if name in _GROUP_OPEN or (name == "begin" and token.env not in ("", "document")):
            depth += 1
            continue
        if name in _GROUP_CLOSE or (name == "end" and token.env not in ("", "document")):
            depth = max(0, depth - 1)
            continue
        targets: tuple[str, ...] = ()
        if name == "global":
            start = cursor.skip_space(pos)
            if start < cursor.stop and text[start] == "\\":
                prefixed, pos = cursor.read_control(start)
                targets = (f"\\{prefixed}",) if prefixed else ()
        elif name in _GLOBAL_DEFINITIONS or name in _GLOBAL_NAMED:
            targets, pos = _defined(cursor, pos, name in _GLOBAL_NAMED)
        elif depth == 0 and (name in _LOCAL_DEFINITIONS or name in _LOCAL_NAMED):
            targets, pos = _defined(cursor, pos, name in _LOCAL_NAMED)
        elif not (depth == 0 and name in _LOCAL_OTHER):
            continue
        found.append(TexCommand(CommandKind.STATE, name, targets, *lines.position(token.offset)))
    return tuple(found)


def scan_control_words(text: str, names: Collection[str]) -> tuple[ControlWord, ...]:
    """The control words called ``names`` that TeX reads, in order, skipping what scan_tex skips.

    For floats and captions (refcheck): ``\\begin{figure}`` in a verbatim environment, in
    ``\\verb`` or under ``\\iffalse`` is not a figure.
    """
    cursor = _Cursor(text, len(text))
    lines = _LineIndex(text)
    found: list[ControlWord] = []
    pos = 0
    while (token := cursor.next_token(pos, _SPECIAL)) is not None:
        pos = token.end
        if token.name in names:
            found.append(
                ControlWord(token.name, token.env, token.offset, *lines.position(token.offset))
            )
    return tuple(found)


def scan_braces(text: str) -> tuple[UnbalancedBrace, ...]:
    """Braces that do not balance: unclosed command arguments, unclosed ``{``, stray ``}``.

    An argument of a command ``scan_tex`` knows that runs into a blank line or the end of the
    text is an unclosed argument (such commands are not reported by ``scan_tex``); its ``{``
    is then not reported again as an unclosed group. Braces in comments, verbatim text,
    ``\\url`` and ``\\iffalse`` branches and escaped ones (``\\{``) do not count.
    Category-code tricks (``\\iffalse{\\fi``, ``\\catcode`\\{``) are not understood.
    """
    cursor = _Cursor(text, len(text))
    opened: list[int] = []
    arguments: set[int] = set()
    problems: list[tuple[int, BraceProblem, str]] = []
    pos = 0
    while (token := cursor.next_token(pos, _GROUPING)) is not None:
        pos = token.end
        if token.name == "{":
            opened.append(token.offset)
        elif token.name == "}":
            if opened:
                opened.pop()
            else:
                problems.append((token.offset, BraceProblem.STRAY_CLOSE, ""))
        elif (spec := _COMMANDS.get(token.name)) is not None:
            brace = cursor.unclosed_argument(pos, spec)
            if brace is not None:
                arguments.add(brace)
                problems.append((token.offset, BraceProblem.UNCLOSED_ARGUMENT, token.name))
    problems.extend(
        (offset, BraceProblem.UNCLOSED_GROUP, "") for offset in opened if offset not in arguments
    )
    problems.sort(key=lambda problem: problem[0])
    lines = _LineIndex(text)
    return tuple(
        UnbalancedBrace(problem, command, *lines.position(offset))
        for offset, problem, command in problems
    )
