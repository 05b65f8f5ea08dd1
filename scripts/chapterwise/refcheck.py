r"""Labels and references across the whole thesis: undefined, duplicate, floats.

Works on any thesis: ``thesis_files`` follows ``\include``, ``\input``, ``\subfile`` and
``\import`` from a main file, and the checks take the texts it returns (path -> text, in
reading order). Comments and verbatim text do not count (texscan skips them).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chapterwise.diagnostics import Diagnostic, Severity, error, warning
from chapterwise.texscan import BraceProblem, CommandKind, scan_braces, scan_control_words, scan_tex

SEVERITIES: Mapping[str, Severity] = {
    "undefined-reference": Severity.ERROR,
    "duplicate-label": Severity.ERROR,
    "label-before-caption": Severity.ERROR,
    "unlabelled-float": Severity.WARNING,
    "unreferenced-float": Severity.WARNING,
    "unbalanced-brace": Severity.WARNING,
    "empty-file": Severity.WARNING,
}
FLOATS = frozenset(
    ("figure", "table", "sidewaysfigure", "sidewaystable", "wrapfigure", "wraptable")
)
_FLOAT_WORDS = frozenset(("begin", "end", "caption"))
_TEX_SUFFIXES = (".tex", ".ltx")


@dataclass(frozen=True, slots=True)
class LabelDef:
    name: str
    path: str
    line: int
    column: int
    float_env: str | None  # the float it labels, when inside one


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    path: str
    line: int
    column: int
    command: str


@dataclass(frozen=True, slots=True)
class _Float:
    env: str
    start: int  # offsets of its \\begin and its \\end
    end: int
    line: int
    captions: tuple[int, ...]


def _offset_of(text: str, line: int, column: int) -> int:
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    return starts[min(line, len(starts)) - 1] + column - 1


def _floats(text: str) -> list[_Float]:
    """Float environments with their \\caption offsets, as TeX reads them.

    texscan decides what is read: a float in a comment, a verbatim environment, ``\\verb``
    or an ``\\iffalse`` branch is no float.
    """
    found: list[_Float] = []
    open_floats: list[tuple[str, int, int, list[int]]] = []
    for word in scan_control_words(text, _FLOAT_WORDS):
        if word.name == "caption":
            if open_floats:
                open_floats[-1][3].append(word.offset)
            continue
        env = word.env.removesuffix("*")
        if env not in FLOATS:
            continue
        if word.name == "begin":
            open_floats.append((env, word.offset, word.line, []))
        elif open_floats and open_floats[-1][0] == env:
            _, start, line, captions = open_floats.pop()
            found.append(_Float(env, start, word.offset, line, tuple(captions)))
    return found


def scan_references(
    text: str, path: str
) -> tuple[list[LabelDef], list[Reference], list[Diagnostic]]:
    """Labels and references of one file, and the float problems visible in it alone."""
    floats = _floats(text)
    labels: list[LabelDef] = []
    refs: list[Reference] = []
    problems: list[Diagnostic] = []
    labelled: set[int] = set()
    for command in scan_tex(text):
        if command.kind is CommandKind.REF:
            refs.extend(
                Reference(name, path, command.line, command.column, command.name)
                for name in command.targets
            )
        elif command.kind is CommandKind.LABEL:
            offset = _offset_of(text, command.line, command.column)
            inside = next((f for f in floats if f.start <= offset < f.end), None)
            for name in command.targets:
                labels.append(
                    LabelDef(
                        name,
                        path,
                        command.line,
                        command.column,
                        inside.env if inside else None,
                    )
                )
            if inside is not None:
                labelled.add(id(inside))
                if inside.captions and offset < inside.captions[0]:
                    problems.append(
                        error(
                            f"\\label{{{command.targets[0] if command.targets else ''}}} comes "
                            f"before the \\caption of its {inside.env}, so it takes the "
                            "number of the section instead",
                            "label-before-caption",
                            path,
                            command.line,
                            command.column,
                            hint="put \\label after \\caption",
                        )
                    )
    for item in floats:
        if item.captions and id(item) not in labelled:
            problems.append(
                warning(
                    f"this {item.env} has a caption but no \\label",
                    "unlabelled-float",
                    path,
                    item.line,
                    hint="add \\label{...} after \\caption so the text can refer to it",
                )
            )
    return labels, refs, problems


def check_references(files: Mapping[str, str]) -> list[Diagnostic]:
    """All cross-reference checks over the thesis' files (path -> text)."""
    labels: list[LabelDef] = []
    refs: list[Reference] = []
    found: list[Diagnostic] = []
    for path, text in files.items():
        file_labels, file_refs, problems = scan_references(text, path)
        labels.extend(file_labels)
        refs.extend(file_refs)
        found.extend(problems)
    first: dict[str, LabelDef] = {}
    for label in labels:
        if label.name in first:
            where = first[label.name]
            found.append(
                error(
                    f"label '{label.name}' is already defined at {where.path}:{where.line}",
                    "duplicate-label",
                    label.path,
                    label.line,
                    label.column,
                    hint="rename one of them; a reference takes only one",
                )
            )
        else:
            first[label.name] = label
    referenced = {ref.name for ref in refs}
    for ref in refs:
        if ref.name in first:
            continue
        close = difflib.get_close_matches(ref.name, list(first), n=1)
        found.append(
            error(
                f"\\{ref.command} to undefined label '{ref.name}'",
                "undefined-reference",
                ref.path,
                ref.line,
                ref.column,
                hint=f"did you mean '{close[0]}'?" if close else "define it with \\label",
            )
        )
    for label in first.values():
        if label.float_env is not None and label.name not in referenced:
            found.append(
                warning(
                    f"{label.float_env} '{label.name}' is never referenced",
                    "unreferenced-float",
                    label.path,
                    label.line,
                    label.column,
                    hint="refer to it in the text (\\cref) or drop the label",
                )
            )
    return found


def check_braces(files: Mapping[str, str]) -> list[Diagnostic]:
    """Unclosed arguments, unclosed ``{`` and stray ``}`` in the thesis' files (path -> text).

    Warnings, not errors: the scanner does not know category-code tricks, and TeX may still
    typeset the file (an unclosed argument makes it read on, often to a "Runaway argument").
    """
    found: list[Diagnostic] = []
    for path, text in files.items():
        for brace in scan_braces(text):
            if brace.problem is BraceProblem.UNCLOSED_ARGUMENT:
                message = f"the argument of \\{brace.command} is not closed"
                hint = "add the missing '}' before the next blank line"
            elif brace.problem is BraceProblem.UNCLOSED_GROUP:
                message = "this '{' is never closed"
                hint = "add the matching '}' or remove this one"
            else:
                message = "this '}' closes no group"
                hint = "remove it or add the '{' it belongs to"
            found.append(
                warning(message, "unbalanced-brace", path, brace.line, brace.column, hint=hint)
            )
    return found


def _resolve(target: str, including: str, root: Path) -> Path | None:
    """The file a \\input-like target names: from the root, then beside the including file."""
    for base in (root, (root / including).parent):
        candidate = base / target
        options = [candidate] if candidate.suffix in _TEX_SUFFIXES else []
        options.append(candidate.with_name(candidate.name + ".tex"))
        for option in options:
            if option.is_file():
                return option
    return None


def thesis_files(
    main: Path, root: Path, generated: Iterable[str] = ()
) -> tuple[dict[str, str], list[Diagnostic]]:
    """Every .tex file the thesis reads from ``main``, in reading order, with problems.

    ``generated`` names files a build makes (absent before it), which are not reported.
    """
    root = root.resolve()
    made = frozenset(generated)
    files: dict[str, str] = {}
    problems: list[Diagnostic] = []

    def visit(path: Path, origin: tuple[str, int] | None) -> None:
        try:
            relative = path.resolve().relative_to(root).as_posix()
        except ValueError:
            where = origin or (str(path), None)
            problems.append(
                error(
                    f"'{path}' is outside the project",
                    "outside-repo",
                    where[0],
                    where[1],
                    hint="keep the thesis' files inside its folder",
                )
            )
            return
        if relative in files:
            return  # read already (or an include cycle)
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(error(f"cannot read '{relative}': {exc.strerror}", "unreadable"))
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", errors="replace")
            problems.append(
                warning(
                    "not UTF-8; undecodable bytes were replaced",
                    "not-utf8",
                    relative,
                    data.count(b"\n", 0, exc.start) + 1,
                    hint="save the file as UTF-8",
                )
            )
        files[relative] = text
        if not text.strip():
            problems.append(
                warning(
                    "file is empty",
                    "empty-file",
                    relative,
                    hint="write it, or remove what reads it",
                )
            )
            return
        for command in scan_tex(text):
            if command.kind not in (CommandKind.INPUT, CommandKind.INCLUDE):
                continue
            for target in command.targets:
                found = _resolve(target, relative, root)
                if found is None:
                    if {target, f"{target}.tex"} & made or "\\" in target:
                        continue  # generated by the build, or a name built by a macro
                    problems.append(
                        error(
                            f"\\{command.name}{{{target}}}: no such file",
                            "missing-file",
                            relative,
                            command.line,
                            command.column,
                            hint="check the path (relative to the main file's folder)",
                        )
                    )
                    continue
                visit(found, (relative, command.line))

    visit(main, None)
    return files, problems
