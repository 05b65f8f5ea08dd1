r"""What a chapter leaves defined for the chapters after it, and who needs it.

``\include`` opens no group, so a ``\newcommand`` or ``\setlength`` at the top level of
``chapters/intro.tex`` is still in force when ``chapters/results.tex`` is typeset. A job that
typesets one chapter with ``\includeonly`` skips the other chapters' sources, and with them
those definitions: a chapter that uses ``\culture`` from an earlier chapter would stop at
"Undefined control sequence" although the whole thesis builds. So a chapter's job also
typesets the earlier chapters whose state it may need (``carried_chapters``): those that leave
a definition the chapter (or a chapter carried for it) mentions by name, and those that leave
any other state (``\setlength``, ``\renewcommand``, ``\def``, ``\pagestyle``, ...), which
may change every later page.

Pure functions; ``texscan.scan_global_state`` finds the definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from chapterwise.texscan import TexCommand

# The project files TeX reads as code (a chapter, an \input file, a package).
TEX_SOURCE_SUFFIXES = (".tex", ".sty", ".cls", ".def", ".cfg", ".ltx")
# Definitions that later chapters can only feel by using the name they define (a \newcommand
# cannot redefine anything): state a chapter leaves behind of any other kind (\setlength,
# \renewcommand, \def, \pagestyle, ...) may change how every later page is typeset.
NAMED_DEFINITIONS = frozenset(
    (
        *("newcommand", "providecommand", "newenvironment", "DeclareMathOperator", "newtheorem"),
        *("newcounter", "newlength", "newif", "newsavebox", "newtoks", "newcount", "newdimen"),
        *("newskip", "newbox"),
    )
)


@dataclass(frozen=True, slots=True)
class LeftState:
    """What one chapter's sources leave defined or assigned for the chapters after it."""

    texts: Mapping[str, str]  # the chapter's TeX files (path -> text)
    named: Mapping[str, str]  # name a definition makes ("\\foo", "theorem") -> its file
    unnamed: tuple[tuple[str, int, str], ...]  # (file, line, command) of any other state


def left_state(
    texts: Mapping[str, str],
    scan: Callable[[str], Sequence[TexCommand]],
    macro_files: Collection[str] = (),
) -> LeftState:
    """The top-level definitions and assignments in one chapter's ``texts`` (path -> text).

    ``scan`` is ``texscan.scan_global_state`` (or a cache of it). A rendered macro file
    (``macro_files``, ``tables/<values>.tex``) counts by its ``\\newcommand`` names only: its
    guard's ``\\def`` is chapterwise's own and makes a second input a no-op.
    """
    named: dict[str, str] = {}
    unnamed: list[tuple[str, int, str]] = []
    for path, text in texts.items():
        for command in scan(text):
            if path in macro_files and command.name != "newcommand":
                continue
            target = command.targets[0] if command.targets else ""
            if command.name in NAMED_DEFINITIONS and target and "#" not in target:
                named.setdefault(target, path)
            else:
                unnamed.append((path, command.line, command.name))
    return LeftState(dict(texts), named, tuple(unnamed))


def uses(texts: Mapping[str, str], name: str) -> bool:
    """Whether any of ``texts`` mentions a defined name (a control word, or an environment or
    counter name in braces)."""
    if name.startswith("\\"):
        pattern = re.escape(name) + r"(?![A-Za-z@])"
    else:
        pattern = r"\{" + re.escape(name) + r"\}|\\the" + re.escape(name) + r"(?![A-Za-z@])"
    return any(re.search(pattern, text) for text in texts.values())


def needs(state: LeftState, users: Mapping[str, str]) -> bool:
    """Whether chapters reading ``users`` (path -> text) may depend on what ``state`` leaves:
    it leaves unnamed state, or a name they mention from a file they do not read themselves."""
    if state.unnamed:
        return True
    return any(path not in users and uses(users, name) for name, path in state.named.items())


def carried_chapters(
    order: Sequence[str], left: Mapping[str, LeftState]
) -> dict[str, tuple[str, ...]]:
    """For each chapter (``order`` is the thesis'), the earlier chapters its job typesets too.

    Walks back from the chapter: an earlier chapter is carried when the chapter or one carried
    so far needs its state, so a macro defined in terms of an even earlier one is carried with
    its definition. In thesis order.
    """
    carried: dict[str, tuple[str, ...]] = {}
    for index, name in enumerate(order):
        users = dict(left[name].texts)
        found: list[str] = []
        for before in reversed(order[:index]):
            if needs(left[before], users):
                found.append(before)
                users.update(left[before].texts)
        carried[name] = tuple(reversed(found))
    return carried
