"""Incremental thesis.pdf: splice the changed chapters' pages into the last good PDF.

After a full build (latexmk in ``build/thesis/``) the thesis has a *state*: its aux files, lists
(.toc/.lof/.lot), .out, .bbl, log and PDF, plus ``chapterwise-state.json`` which records where
each \\include starts and ends, which files each part of the thesis read, and the counters
hyperref keeps outside LaTeX's checkpoints. A chapter job (``compile_chapter``) then typesets
its chapter in a copy of that state with ``\\includeonly`` (the *pass*), and this module decides
whether the pass's pages can replace the chapter's pages in the state's PDF so that the result
cannot be told apart from a full build. When that is not certain it runs latexmk instead.

The decision is exact: every condition below compares what the pass wrote with what the
state holds, and anything not covered is a reason for a full build (see ``check_chapter``):

* only files read inside chapters changed, each chapter's pass is from the current state and
  sources, and it converged without errors;
* the chapter shipped as many pages as before, with the same page labels, the same named
  destinations and the same bookmarks (.out lines), and the same counters at its end
  (LaTeX's checkpoint and hyperref's anchor counter);
* the main .aux is unchanged outside the other chapters' stretches (so citations, biblatex's
  page tracking and everything written at the end of the document are as before);
* in the chapter's own .aux, labels may appear, move or change only where no other part of
  the thesis uses them (new labels: nobody referenced them; changed numbers: nobody refers to
  them; changed pages: nobody prints the page), and ToC/LoF/LoT entries may change when the
  lists are printed only in the front matter, which is then spliced from the pass too;
* the thesis writes no other auxiliary file (index, glossary, ...), loads no package known to
  carry state from chapter to chapter outside the aux files (``STATEFUL_PACKAGES``), and
  biblatex tracks no citations (ibid, first citation) in a chapter that cites.

The splice itself (``chapterwise.splice``) is a PDF incremental update that rewrites the
chapter's page objects in place; superseded objects are swept by a full rewrite once they
make up half of the file. After a splice the state is what a full build would leave: the
chapter's .aux from the pass, the lists a full build would write, and the same main .aux.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from chapterwise.chapterstate import TEX_SOURCE_SUFFIXES, uses
from chapterwise.diagnostics import Diagnostic, Severity
from chapterwise.fls import FileKind, parse_fls, project_inputs
from chapterwise.fsutil import atomic_write_bytes, copy_atomic, write_if_changed
from chapterwise.latex import (
    HOOKS_DIR,
    MARKER_FILES,
    THESIS_JOB,
    CompileResult,
    LatexJob,
    RerunDecision,
    file_digest,
    run_latex,
    run_passes,
)
from chapterwise.process import run_tool
from chapterwise.project import BUILD_DIR, Project
from chapterwise.scancache import cache_for
from chapterwise.synctex import publish_pdf
from chapterwise.texformat import ensure_format, reject_format, system_stamp
from chapterwise.texlog import parse_tex_log
from chapterwise.texscan import CommandKind, TexCommand, scan_tex

if TYPE_CHECKING:  # the splice needs pypdf, which the chapter jobs need not import
    from chapterwise.splice import DestIndex, PageSwap

log = logging.getLogger(__name__)

STATE_FILE = "chapterwise-state.json"
PASS_FILE = "chapterwise-pass.json"
DEST_FILE = "chapterwise-destinations.json"
STATE_VERSION = 1
THESIS_DIR = f"{BUILD_DIR}/thesis"
LIST_EXTENSIONS = ("toc", "lof", "lot")
# What a full build or a pass may write; anything else (an index, a glossary, hyperref's
# backref file, a mini-ToC) is state that splicing cannot keep up to date.
KNOWN_OUTPUTS = frozenset(
    {"aux", "log", "pdf", "out", "bcf", "run.xml", "synctex.gz", *LIST_EXTENSIONS}
)
# Packages that carry state from one chapter to the next outside the aux files (first use of
# an acronym or glossary entry, external documents, per-chapter tables of contents): a chapter
# typeset alone would differ from the same chapter in the whole thesis.
STATEFUL_PACKAGES = frozenset(
    (
        *("acronym", "acro", "glossaries", "glossaries-extra", "glossary", "nomencl"),
        *("xr", "xr-hyper", "minitoc", "titletoc", "etoc", "endnotes", "enotez"),
        *("todonotes", "pagenote", "zref-abspage", "zref-totpages"),
    )
)
# Reference commands (texscan's names, plus autopageref) and those that print a page number.
PAGE_REF_COMMANDS = frozenset(
    (
        *("pageref", "autopageref", "vref", "Vref", "vpageref", "fullref", "cpageref"),
        *("Cpageref", "labelcpageref", "cpagerefrange", "Cpagerefrange", "vrefrange"),
        "vpagerefrange",
    )
)
# Those that print a label's title (hyperref's nameref), which a caption or heading edit changes.
TITLE_REF_COMMANDS = frozenset(("nameref", "Nameref", "titleref"))
REF_COMMANDS = (
    PAGE_REF_COMMANDS
    | TITLE_REF_COMMANDS
    | frozenset(
        (
            *("ref", "eqref", "autoref", "nameref", "subref", "cref", "Cref", "labelcref"),
            *("namecref", "nameCref", "lcnamecref", "crefrange", "Crefrange"),
        )
    )
)
# aux lines that differ between a pass and a full build of the same sources by design: the
# total page count, and biblatex's note that the .bbl was made for other citations (the pass
# cites only its own chapter; the .bbl is the thesis').
_PASS_ONLY_AUX = (
    re.compile(r"^\\gdef ?\\@abspage@last\{"),
    re.compile(r"^\\abx@aux@read@bblrerun"),
)
_EVENT = re.compile(r"^chapterwise:(begin|end|excluded|trackers);(.*)$")
_MISSING_DEST = re.compile(
    r"pdfTeX warning \(dest\): name\{(?P<name>.*)\} has been referenced but does not exist"
)
_COMMAND = re.compile(r"\\([A-Za-z@]+)")
_ESCAPED = re.compile(r"\\.")
_COMMENT = re.compile(r"(?<!\\)%.*")
_SETCOUNTER = re.compile(r"\\setcounter\{([^{}]*)\}\{([^{}]*)\}")
_BOOKMARK_NUMBER = re.compile(r"% (\d+)\s*$")
_HYPERREF_LABEL = re.compile(r"\\hyperref\s*\[([^\]\\#]*)\]")
# A control word that ends in "ref" and is none of the known ones (\zpageref, \fref, \thref,
# a project macro): it may print any label's number or page.
_REF_LIKE = re.compile(r"\\([A-Za-z]*(?:ref|Ref))(?![A-Za-z@])")
_NOT_LABEL_REFS = frozenset(("href", "hyperref"))
_QUOTED_KEY = re.compile(r"'(.*)'")


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Part:
    """One \\include in a run: pages shipped before it and at its end, and hyperref counters."""

    include: str
    before: int  # pages shipped before the chapter's first page
    after: int  # pages shipped when the chapter ended
    bookmarks: tuple[int, int]  # hyperref's bookmark counter at begin and end (-1: none)
    anchors: tuple[int, int]  # hyperref's anchor counter at begin and end (-1: none)

    @property
    def page_count(self) -> int:
        return self.after - self.before

    def pages(self) -> str:
        return f"{self.before + 1}-{self.after}"


@dataclass(frozen=True, slots=True)
class RunLog:
    """What the hooks and pdfTeX wrote into one run's .log."""

    parts: Mapping[str, Part]  # included chapters only
    order: tuple[str, ...]  # every \include met (included or excluded), in order
    front: int | None  # pages shipped before the first \include
    trackers: tuple[str, ...]  # biblatex citation trackers that are on
    missing_destinations: frozenset[str]  # names linked to but not defined in the run


@dataclass(frozen=True, slots=True)
class AuxEntry:
    """One entry of an .aux file (a line, or several when braces span lines)."""

    command: str  # control word without backslash ("newlabel", "@writefile"), "" if none
    key: str  # its first brace argument ("" if none)
    text: str


@dataclass(frozen=True, slots=True)
class MainAux:
    """The main .aux cut at the chapters: what comes before, each chapter's stretch, after."""

    head: tuple[AuxEntry, ...]
    stretches: Mapping[str, tuple[AuxEntry, ...]]  # lines written while the chapter ran
    ends: Mapping[str, str]  # the \chapterwise@end value (hyperref's anchor counter)
    glue: Mapping[str, tuple[AuxEntry, ...]]  # lines after the chapter, up to the next one
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class References:
    """Labels a set of sources uses: any reference, page references, and unreadable ones."""

    labels: frozenset[str] = frozenset()
    pages: frozenset[str] = frozenset()
    titles: frozenset[str] = frozenset()  # labels whose title is printed (\\nameref)
    opaque: tuple[str, ...] = ()  # files with reference commands the scanner cannot read


@dataclass(frozen=True, slots=True)
class Reads:
    """Project files a run read, by part (from the .fls cut at the hooks' markers)."""

    main: frozenset[str]
    chapters: Mapping[str, frozenset[str]]
    system: frozenset[str]  # files outside the project (TeX distribution)
    lists_outside_front: tuple[str, ...]  # list files (.toc ...) read after the front matter
    outputs: tuple[str, ...]  # files written
    packages: frozenset[str]  # .sty files read (stems)


@dataclass(frozen=True)
class State:
    """The last good thesis build: enough to check a chapter pass against it."""

    state_id: str
    origin: str  # "full" or "splice"
    main: str
    source_date_epoch: int
    includes: tuple[str, ...]
    pages: int
    front: int
    parts: dict[str, Part]
    inputs: dict[str, str]  # project file -> sha256
    owners: dict[str, list[str]]  # project file -> "main" and/or includes that read it
    system: dict[str, str]  # distribution file -> "size:mtime_ns"
    undefined: list[str]  # labels referenced but undefined somewhere
    blockers: list[str]  # reasons this thesis is never spliced
    trackers: list[str]
    lists_outside_front: list[str]
    pdf_sha256: str
    base_size: int  # bytes of the PDF after the last full build or compaction


@dataclass(frozen=True)
class PassRecord:
    """A chapter pass: the state it started from and the sources it read."""

    state_id: str
    include: str
    passes: int
    converged: bool
    blocker: list[str]  # [code, message] when the pass must not be spliced
    inputs: dict[str, str]  # every project file the pass read -> sha256
    reads: list[str]  # the project files read inside the chapter
    undefined: list[str]  # labels the pass referenced but nothing defined
    carried: list[str] = field(default_factory=list)  # earlier chapters typeset for their state


@dataclass(frozen=True, slots=True)
class Fallback:
    """Why the thesis needs a full build."""

    code: str
    message: str


@dataclass(frozen=True)
class SplicePlan:
    swaps: tuple[PageSwap, ...]
    chapter_aux: dict[str, bytes]  # include -> new .aux of the chapter
    lists: dict[str, bytes]  # extension -> new list file
    reads: dict[str, list[str]]  # include -> project files its pass read
    undefined: list[str]
    # The digests of what the passes typeset, taken before TeX read the files: the new state
    # records these, so an edit made while the build runs is seen by the next one.
    digests: dict[str, str]
    changed: tuple[str, ...] = ()  # the project files whose edits this splice brings in


@dataclass(frozen=True, slots=True)
class Assembly:
    """What assemble_thesis did, for the one-line report."""

    kind: str  # "splice", "full" or "up-to-date"
    message: str
    code: str  # "spliced", "up-to-date", or the reason for the full build
    diagnostics: tuple[Diagnostic, ...] = ()


# --------------------------------------------------------------------------------------------
# Parsers (pure)


def parse_run_log(text: str) -> RunLog:
    """The hooks' include events, biblatex trackers and pdfTeX's missing destinations."""
    parts: dict[str, Part] = {}
    order: list[str] = []
    front: int | None = None
    trackers: tuple[str, ...] = ()
    missing: set[str] = set()
    begun: tuple[str, int, int, int] | None = None
    for line in text.splitlines():
        found = _MISSING_DEST.search(line)
        if found is not None:
            missing.add(found["name"])
            continue
        match = _EVENT.match(line)
        if match is None:
            continue
        kind, rest = match.groups()
        if kind == "trackers":
            trackers = tuple(rest.split())
            continue
        fields = rest.rsplit(";", 3)
        if len(fields) != 4:
            continue
        name = fields[0]
        try:
            pages, bookmarks, anchors = (int(value) for value in fields[1:])
        except ValueError:
            continue
        if front is None:
            front = pages
        if kind == "begin":
            begun = (name, pages, bookmarks, anchors)
            order.append(name)
        elif kind == "excluded":
            order.append(name)
        elif begun is not None and begun[0] == name:
            parts[name] = Part(name, begun[1], pages, (begun[2], bookmarks), (begun[3], anchors))
            begun = None
    return RunLog(parts, tuple(order), front, trackers, frozenset(missing))


def brace_groups(text: str, start: int = 0, limit: int = 99) -> list[str]:
    """The top-level ``{...}`` groups of ``text`` from ``start`` (contents, without braces)."""
    groups: list[str] = []
    depth = 0
    begin = 0
    index = start
    while index < len(text) and len(groups) < limit:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            if depth == 0:
                begin = index + 1
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append(text[begin:index])
        elif depth == 0 and not char.isspace() and groups:
            break
        index += 1
    return groups


def _depth_change(line: str) -> int:
    """How many braces ``line`` leaves open (escaped braces do not count)."""
    if "\\" in line:
        line = _ESCAPED.sub("", line)
    return line.count("{") - line.count("}")


def parse_aux(text: str) -> tuple[AuxEntry, ...]:
    """Split .aux text into entries; an entry runs on while its braces are open."""
    entries: list[AuxEntry] = []
    pending: list[str] = []
    depth = 0
    for line in text.splitlines():
        pending.append(line)
        depth += _depth_change(line)
        if depth > 0:
            continue
        entries.append(_aux_entry("\n".join(pending)))
        pending = []
        depth = 0
    if pending:
        entries.append(_aux_entry("\n".join(pending)))
    return tuple(entries)


def _aux_entry(text: str) -> AuxEntry:
    stripped = text.lstrip()
    match = _COMMAND.match(stripped)
    if match is None:
        return AuxEntry("", "", text)
    groups = brace_groups(stripped, match.end(), limit=1)
    return AuxEntry(match.group(1), groups[0] if groups else "", text)


def split_main_aux(entries: Sequence[AuxEntry], includes: Sequence[str]) -> MainAux | None:
    """Cut the main .aux at each chapter's ``\\@input`` and ``\\chapterwise@end`` lines.

    None when a chapter has no end marker (an aux written without the hooks).
    """
    wanted = set(includes)
    head: list[AuxEntry] = []
    stretches: dict[str, list[AuxEntry]] = {}
    ends: dict[str, str] = {}
    glue: dict[str, list[AuxEntry]] = {}
    order: list[str] = []
    current: list[AuxEntry] = head
    for entry in entries:
        name = entry.key.removesuffix(".aux")
        if entry.command == "@input" and name in wanted:
            order.append(name)
            current = stretches.setdefault(name, [])
        elif entry.command == "chapterwise@end" and order and entry.key == order[-1]:
            groups = brace_groups(entry.text.lstrip(), len("\\chapterwise@end"))
            ends[entry.key] = groups[1] if len(groups) > 1 else ""
            current = glue.setdefault(entry.key, [])
        else:
            current.append(entry)
    if set(order) != set(ends):
        return None
    return MainAux(
        tuple(head),
        {k: tuple(v) for k, v in stretches.items()},
        ends,
        {k: tuple(v) for k, v in glue.items()},
        tuple(order),
    )


def _comparable(entries: Iterable[AuxEntry]) -> list[str]:
    return [e.text for e in entries if not any(p.match(e.text) for p in _PASS_ONLY_AUX)]


def label_fields(entry: AuxEntry) -> list[str]:
    """The brace groups of a \\newlabel's value."""
    text = entry.text.lstrip()
    groups = brace_groups(text, len("\\newlabel"), limit=2)
    if len(groups) < 2:
        return []
    return brace_groups(groups[1])


def _label_name(key: str) -> str:
    return key.removesuffix("@cref")


def _checkpoint(entries: Sequence[AuxEntry]) -> dict[str, str]:
    for entry in entries:
        if entry.command == "@setckpt":
            return dict(_SETCOUNTER.findall(entry.text))
    return {}


@dataclass(frozen=True, slots=True)
class AuxChanges:
    """How a chapter's .aux differs between the state and a pass."""

    new_labels: tuple[str, ...] = ()
    removed_labels: tuple[str, ...] = ()
    renumbered: tuple[str, ...] = ()  # a label whose number or anchor changed (or two fields)
    moved: tuple[tuple[str, str], ...] = ()  # (label, new page): only the page changed
    retitled: tuple[str, ...] = ()  # only the title changed (hyperref's \\nameref field)
    lists: tuple[str, ...] = ()  # list extensions whose entries changed
    counters: tuple[str, ...] = ()  # counters whose checkpointed value changed
    other: tuple[str, ...] = ()  # any other line that changed


def diff_chapter_aux(old: Sequence[AuxEntry], new: Sequence[AuxEntry]) -> AuxChanges:
    """Classify the differences between two versions of a chapter's .aux."""
    old_labels = {e.key: e for e in old if e.command == "newlabel"}
    new_labels = {e.key: e for e in new if e.command == "newlabel"}
    added: set[str] = set()
    removed: set[str] = set()
    renumbered: set[str] = set()
    moved: dict[str, str] = {}
    retitled: set[str] = set()
    for key in old_labels.keys() | new_labels.keys():
        name = _label_name(key)
        if key not in old_labels:
            added.add(name)
        elif key not in new_labels:
            removed.add(name)
        elif old_labels[key].text != new_labels[key].text:
            before, after = label_fields(old_labels[key]), label_fields(new_labels[key])
            if _same_but(before, after, 1) and not key.endswith("@cref"):
                moved[name] = after[1]
            elif _same_but(before, after, 1):
                moved.setdefault(name, after[1])
            elif _same_but(before, after, 2) and not key.endswith("@cref"):
                retitled.add(name)  # {number}{page}{title}{anchor}{}: a caption or heading edit
            else:
                renumbered.add(name)
    renumbered -= added | removed
    retitled -= added | removed | renumbered | moved.keys()
    lists = sorted(
        {e.key for e in old if e.command == "@writefile"}
        | {e.key for e in new if e.command == "@writefile"}
    )
    changed_lists = tuple(
        ext
        for ext in lists
        if [e.text for e in old if e.command == "@writefile" and e.key == ext]
        != [e.text for e in new if e.command == "@writefile" and e.key == ext]
    )
    before_ckpt, after_ckpt = _checkpoint(old), _checkpoint(new)
    counters = tuple(
        sorted(
            k
            for k in before_ckpt.keys() | after_ckpt.keys()
            if before_ckpt.get(k) != after_ckpt.get(k)
        )
    )
    skip = {"newlabel", "@writefile", "@setckpt"}
    rest_old = [e.text for e in old if e.command not in skip]
    rest_new = [e.text for e in new if e.command not in skip]
    other = tuple(sorted(set(rest_old) ^ set(rest_new))) if rest_old != rest_new else ()
    if rest_old != rest_new and not other:
        other = ("(order of lines)",)
    return AuxChanges(
        new_labels=tuple(sorted(added)),
        removed_labels=tuple(sorted(removed)),
        renumbered=tuple(sorted(renumbered)),
        moved=tuple(sorted((k, v) for k, v in moved.items() if k not in renumbered)),
        retitled=tuple(sorted(retitled)),
        lists=changed_lists,
        counters=counters,
        other=other,
    )


def _same_but(before: Sequence[str], after: Sequence[str], index: int) -> bool:
    """Whether two label values differ at most in field ``index``."""
    return (
        len(before) == len(after)
        and len(before) > index
        and all(a == b for i, (a, b) in enumerate(zip(before, after, strict=True)) if i != index)
    )


def lists_printing_changes(
    old: Sequence[AuxEntry], new: Sequence[AuxEntry], changes: AuxChanges
) -> tuple[str, ...]:
    """The lists (toc, lof, lot) whose entries from a chapter print one of its changed labels.

    TeX writes ``\\ref`` into the list files unexpanded (it is robust), so an entry can stay
    byte-identical while the number it prints in the front matter changes.
    """
    numbers = {*changes.new_labels, *changes.removed_labels, *changes.renumbered}
    numbers |= set(changes.retitled)
    pages = {label for label, _ in changes.moved} | numbers
    if not numbers and not pages:
        return ()
    found: set[str] = set()
    for entry in (*old, *new):
        if entry.command != "@writefile" or entry.key in found:
            continue
        used = scan_references({entry.key: entry.text})
        if used.opaque or used.labels & numbers or used.pages & pages:
            found.add(entry.key)
    return tuple(sorted(found))


def scan_references(
    texts: Mapping[str, str], scan: Callable[[str], tuple[TexCommand, ...]] = scan_tex
) -> References:
    """The labels that ``texts`` (path -> source) reference, and which of them by page.

    A file is opaque when a reference command in it has no literal label (a macro parameter,
    another macro), is hidden from the scanner (``\\let\\myref\\ref``) or is one this module
    does not know (``\\zpageref``, ``\\fref``, a project's ``\\seeref``): it may use any label.
    """
    labels: set[str] = set()
    pages: set[str] = set()
    titles: set[str] = set()
    opaque: list[str] = []
    pattern = re.compile(
        r"\\(" + "|".join(sorted(REF_COMMANDS, key=len, reverse=True)) + r")(?![A-Za-z@])"
    )
    for path, text in sorted(texts.items()):
        readable = 0
        for command in scan(text):
            if command.kind is not CommandKind.REF:
                continue
            literal = bool(command.targets) and not any(
                "\\" in t or "#" in t for t in command.targets
            )
            if not literal:
                continue
            readable += 1
            labels.update(command.targets)
            if command.name in PAGE_REF_COMMANDS:
                pages.update(command.targets)
            if command.name in TITLE_REF_COMMANDS:
                titles.update(command.targets)
        uncommented = "\n".join(_COMMENT.sub("", line) for line in text.splitlines())
        labels.update(m.group(1).strip() for m in _HYPERREF_LABEL.finditer(uncommented))
        unknown = any(
            m.group(1) not in REF_COMMANDS and m.group(1) not in _NOT_LABEL_REFS
            for m in _REF_LIKE.finditer(uncommented)
        )
        if (
            unknown
            or len(pattern.findall(uncommented)) > readable
            or re.search(r"\\hyperref\s*\[[^\]]*[\\#]", uncommented)
        ):
            opaque.append(path)
    return References(frozenset(labels), frozenset(pages), frozenset(titles), tuple(opaque))


def split_recording(
    text: str,
    *,
    root: Path,
    includes: Sequence[str],
    order: Sequence[str],
    jobname: str,
) -> Reads:
    """Cut a .fls at the hooks' marker files: what the main file and each chapter read.

    ``order`` lists the chapters that were typeset, in order (from the log's begin events).
    A chapter's own ``.tex`` counts as the chapter's even where \\include probes it before the
    begin marker.
    """
    markers = {name: event for event, name in MARKER_FILES.items()}
    lines = text.splitlines()
    pwd_line = next((line for line in lines if line.startswith("PWD ")), "")
    # (owner, front matter?, lines): the main file's reads before the first \include are the
    # front matter's.
    segments: list[tuple[str, bool, list[str]]] = [("main", True, [])]
    begun = iter(order)
    for line in lines:
        word, _, path = line.partition(" ")
        marker = markers.get(PurePosixPath(path).name) if word == "INPUT" else None
        if marker == "begin":
            segments.append((next(begun, "?"), False, []))
        elif marker is not None:
            segments.append(("main", False, []))
        elif word in ("INPUT", "OUTPUT"):
            segments[-1][2].append(line)
    chapter_files = {f"{include}.tex": include for include in includes}
    main: set[str] = set()
    chapters: dict[str, set[str]] = {}
    system: set[str] = set()
    outputs: dict[str, None] = {}
    packages: set[str] = set()
    lists_outside: set[str] = set()
    hooks = HOOKS_DIR.resolve()
    real_root = root.resolve()
    base = Path(pwd_line[4:]) if pwd_line else root
    for owner, front, body in segments:
        recording = parse_fls("\n".join([pwd_line, *body]))
        for path in project_inputs(recording, root=root):
            if (root / path).resolve().is_relative_to(hooks):
                continue
            target = chapter_files.get(path, owner)
            (main if target == "main" else chapters.setdefault(target, set())).add(path)
        for raw, kind in recording.files:
            if kind is not FileKind.INPUT:
                outputs[raw] = None
            if kind is FileKind.OUTPUT:
                continue
            name = PurePosixPath(raw).name
            if name.endswith(".sty"):
                packages.add(name.removesuffix(".sty"))
            if not front:
                lists_outside.update(ext for ext in LIST_EXTENSIONS if name == f"{jobname}.{ext}")
            absolute = Path(os.path.normpath(base / raw)).resolve()
            if not absolute.is_relative_to(real_root) and not absolute.is_relative_to(hooks):
                system.add(absolute.as_posix())
    return Reads(
        frozenset(main),
        {k: frozenset(v) for k, v in chapters.items()},
        frozenset(system),
        tuple(sorted(lists_outside)),
        tuple(outputs),
        frozenset(packages),
    )


def unexpected_outputs(outputs: Iterable[str], jobname: str, includes: Iterable[str]) -> list[str]:
    """Written files that are none of TeX's usual ones (aux, lists, .out, biblatex's)."""
    chapter_auxes = {f"{include}.aux" for include in includes}
    found = []
    for raw in outputs:
        name = PurePosixPath(raw).name
        if any(raw.endswith(aux) for aux in chapter_auxes):
            continue
        stem, _, extension = name.partition(".")
        if stem == jobname and extension in KNOWN_OUTPUTS:
            continue
        found.append(name)
    return sorted(set(found))


def bookmark_lines(text: str, first: int, last: int) -> list[str]:
    """The .out lines whose bookmark number is in ``first+1 .. last``."""
    found = []
    for line in text.splitlines():
        match = _BOOKMARK_NUMBER.search(line)
        if match is not None and first < int(match.group(1)) <= last:
            found.append(line)
    return found


# --------------------------------------------------------------------------------------------
# Files of a build directory


def _job_file(directory: Path, jobname: str, ext: str) -> Path:
    return directory / f"{jobname}.{ext}"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _read_aux(path: Path) -> tuple[AuxEntry, ...]:
    return parse_aux(_read_text(path))


def _state_id(directory: Path, includes: Sequence[str], pdf_sha: str) -> str:
    digest = hashlib.sha256(pdf_sha.encode())
    names = [f"{THESIS_JOB}.{ext}" for ext in ("aux", "bbl", "out", *LIST_EXTENSIONS)]
    names += [f"{include}.aux" for include in includes]
    for name in names:
        digest.update(f"{name}:{file_digest(directory / name)}\n".encode())
    return digest.hexdigest()[:24]


def _quoted_keys(diagnostics: Iterable[Diagnostic], code: str) -> list[str]:
    """The quoted keys of texlog's diagnostics with ``code`` (e.g. undefined references)."""
    keys = set()
    for diagnostic in diagnostics:
        if diagnostic.code == code:
            match = _QUOTED_KEY.search(diagnostic.message)
            if match is not None:
                keys.add(match.group(1))
    return sorted(keys)


def _undefined_labels(diagnostics: Iterable[Diagnostic]) -> list[str]:
    return _quoted_keys(diagnostics, "undefined-reference")


def read_state(root: Path) -> State | None:
    """The state of the last good thesis build, or None when there is none to trust."""
    directory = root / THESIS_DIR
    try:
        raw = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
        return None
    try:
        parts = {
            k: Part(**{**v, "bookmarks": tuple(v["bookmarks"]), "anchors": tuple(v["anchors"])})
            for k, v in raw["parts"].items()
        }
        state = State(
            state_id=str(raw["state_id"]),
            origin=str(raw["origin"]),
            main=str(raw["main"]),
            source_date_epoch=int(raw["source_date_epoch"]),
            includes=tuple(raw["includes"]),
            pages=int(raw["pages"]),
            front=int(raw["front"]),
            parts=parts,
            inputs=dict(raw["inputs"]),
            owners={k: list(v) for k, v in raw["owners"].items()},
            system=dict(raw["system"]),
            undefined=list(raw["undefined"]),
            blockers=list(raw["blockers"]),
            trackers=list(raw["trackers"]),
            lists_outside_front=list(raw["lists_outside_front"]),
            pdf_sha256=str(raw["pdf_sha256"]),
            base_size=int(raw["base_size"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if file_digest(_job_file(directory, THESIS_JOB, "pdf")) != state.pdf_sha256:
        return None
    return state


def write_state(root: Path, state: State) -> None:
    payload = {"version": STATE_VERSION, **asdict(state)}
    atomic_write_bytes(
        root / THESIS_DIR / STATE_FILE, json.dumps(payload, indent=1, sort_keys=True).encode()
    )


def forget_state(root: Path) -> None:
    """Drop the state (before anything rewrites build/thesis/)."""
    (root / THESIS_DIR / STATE_FILE).unlink(missing_ok=True)


def source_digests(project: Project, previous: State | None) -> dict[str, str]:
    """The digests of every project file the thesis is known to read, before a build reads them."""
    paths = [project.main, *project.preamble.files]
    for chapter in project.chapters:
        paths.extend(project.chapter_deps[chapter.name].files)
    if previous is not None:
        paths.extend(previous.inputs)
    return {path: file_digest(project.root / path) or "missing" for path in dict.fromkeys(paths)}


def build_state(
    root: Path,
    project: Project,
    *,
    base_size: int | None = None,
    digests: Mapping[str, str] | None = None,
) -> State | None:
    """The state of a finished full build in build/thesis/ (None if it cannot be spliced into).

    ``digests`` are the sources' digests from before the build (``source_digests``): a file
    edited while latexmk ran is then recorded as changed, not as built.
    """
    directory = root / THESIS_DIR
    includes = tuple(chapter.include for chapter in project.chapters)
    log_text = _read_text(_job_file(directory, THESIS_JOB, "log"))
    run = parse_run_log(log_text)
    pdf = _job_file(directory, THESIS_JOB, "pdf")
    pdf_sha = file_digest(pdf)
    if not includes or run.front is None or pdf_sha is None:
        return None
    reads = split_recording(
        _read_text(_job_file(directory, THESIS_JOB, "fls")),
        root=root,
        includes=includes,
        order=[name for name in run.order if name in run.parts],
        jobname=THESIS_JOB,
    )
    owners: dict[str, set[str]] = {}
    for path in reads.main:
        owners.setdefault(path, set()).add("main")
    for path in [project.main, *project.preamble.files]:
        owners.setdefault(path, set()).add("main")
    for include, files in reads.chapters.items():
        for path in files:
            owners.setdefault(path, set()).add(include)
    for chapter in project.chapters:
        for path in project.chapter_deps[chapter.name].files:
            owners.setdefault(path, set()).add(chapter.include)
    before = digests or {}
    inputs = {path: before.get(path) or file_digest(root / path) or "missing" for path in owners}
    blockers = [
        f"the thesis writes {name}, which a chapter pass cannot keep up to date"
        for name in unexpected_outputs(reads.outputs, THESIS_JOB, includes)
    ]
    blockers += [
        f"the thesis loads {name}.sty, which carries state from chapter to chapter"
        for name in sorted(reads.packages & STATEFUL_PACKAGES)
    ]
    if not _job_file(directory, THESIS_JOB, "out").is_file():
        blockers.append("the outline is not made from hyperref's .out file")
    missing_parts = [include for include in includes if include not in run.parts]
    if missing_parts:
        blockers.append(f"no page range was logged for {', '.join(missing_parts)}")
    diagnostics = parse_tex_log(log_text, root=root)
    size = pdf.stat().st_size
    from chapterwise.splice import page_count

    pages = page_count(pdf)
    return State(
        state_id=_state_id(directory, includes, pdf_sha),
        origin="full",
        main=project.main,
        source_date_epoch=project.config.source_date_epoch,
        includes=includes,
        pages=pages,
        front=run.front,
        parts=dict(run.parts),
        inputs=inputs,
        owners={k: sorted(v) for k, v in sorted(owners.items())},
        system={path: system_stamp(path) for path in sorted(reads.system)},
        undefined=_undefined_labels(diagnostics),
        blockers=blockers,
        trackers=list(run.trackers),
        lists_outside_front=list(reads.lists_outside_front),
        pdf_sha256=pdf_sha,
        base_size=base_size if base_size is not None else size,
    )


# --------------------------------------------------------------------------------------------
# The chapter pass


def _pass_dir(root: Path, name: str) -> Path:
    return root / BUILD_DIR / "chapters" / name


def read_pass(directory: Path) -> PassRecord | None:
    try:
        raw = json.loads((directory / PASS_FILE).read_text(encoding="utf-8"))
        return PassRecord(**raw)
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _current(inputs: Mapping[str, str], root: Path) -> bool:
    return all(file_digest(root / path) == digest for path, digest in inputs.items())


def _list_counts(entries: Iterable[AuxEntry], ext: str) -> int:
    return sum(1 for e in entries if e.command == "@writefile" and e.key == ext)


def list_offsets(
    main: MainAux, auxes: Mapping[str, Sequence[AuxEntry]], ext: str
) -> dict[str, tuple[int, int]]:
    """Where each chapter's entries sit in the list file: include -> (offset, count)."""
    offsets: dict[str, tuple[int, int]] = {}
    position = _list_counts(main.head, ext)
    for include in main.order:
        own = _list_counts(auxes.get(include, ()), ext)
        offsets[include] = (position, own)
        position += own
        position += _list_counts(main.stretches.get(include, ()), ext)
        position += _list_counts(main.glue.get(include, ()), ext)
    return offsets


def expected_lists(
    state_dir: Path, pass_dir: Path, jobname: str, include: str, includes: Sequence[str]
) -> dict[str, bytes] | None:
    """The list files a full build would write, given the chapter's .aux from the pass.

    The state's lists with the chapter's block replaced by the pass's; None when the state's
    list files do not line up with its aux files.
    """
    main = split_main_aux(_read_aux(_job_file(state_dir, THESIS_JOB, "aux")), includes)
    if main is None:
        return None
    auxes = {i: _read_aux(state_dir / f"{i}.aux") for i in includes}
    new_aux = _read_aux(pass_dir / f"{include}.aux")
    result: dict[str, bytes] = {}
    for ext in LIST_EXTENSIONS:
        state_file = _job_file(state_dir, THESIS_JOB, ext)
        if not state_file.is_file():
            continue
        old_lines = state_file.read_bytes().splitlines(keepends=True)
        offsets = list_offsets(main, auxes, ext)
        total = sum(count for _, count in offsets.values()) + _list_counts(main.head, ext)
        total += sum(_list_counts(s, ext) for s in main.stretches.values())
        total += sum(_list_counts(g, ext) for g in main.glue.values())
        if total != len(old_lines) or include not in offsets:
            return None
        start, old_count = offsets[include]
        new_count = _list_counts(new_aux, ext)
        written = _job_file(pass_dir, jobname, ext)
        pass_lines = written.read_bytes().splitlines(keepends=True) if written.is_file() else []
        block = pass_lines[start : start + new_count]
        if len(block) != new_count:
            return None
        result[ext] = b"".join(old_lines[:start] + block + old_lines[start + old_count :])
    return result


def _seed_pass(
    state_dir: Path,
    job: LatexJob,
    includes: Sequence[str],
    number: int,
) -> None:
    """Lay out the files pass ``number`` reads: the state's, the chapter's own .aux aside."""
    directory = job.directory
    include = job.include_only or ""
    lists: dict[str, bytes] | None = None
    if number > 1:
        lists = expected_lists(state_dir, directory, job.jobname, include, includes)
    copy_atomic(_job_file(state_dir, THESIS_JOB, "aux"), _job_file(directory, job.jobname, "aux"))
    for ext in ("out", "bbl", *LIST_EXTENSIONS):
        source = _job_file(state_dir, THESIS_JOB, ext)
        target = _job_file(directory, job.jobname, ext)
        if lists is not None and ext in lists:
            write_if_changed(target, lists[ext])
        elif source.is_file():
            copy_atomic(source, target)
        else:
            target.unlink(missing_ok=True)
    if number == 1:
        for other in includes:
            source = state_dir / f"{other}.aux"
            target = directory / f"{other}.aux"
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_file():
                copy_atomic(source, target)
            else:
                target.unlink(missing_ok=True)


def chapter_job(project: Project, name: str) -> LatexJob:
    """The LaTeX job of chapter ``name``: it, after the earlier chapters it needs state from."""
    chapter = project.chapter(name)
    by_name = {c.name: c for c in project.chapters}
    return LatexJob(
        project.root,
        project.main,
        name,
        f"{BUILD_DIR}/chapters/{name}",
        chapter.include,
        project.config.source_date_epoch,
        tuple(by_name[other].include for other in project.carried.get(name, ())),
    )


def run_chapter_pass(project: Project, name: str, state: State, *, log_path: Path) -> CompileResult:
    """Typeset chapter ``name`` in a copy of the thesis state, for its preview and the splice.

    Skipped when the last pass started from this state and read the same sources (early
    cutoff: no pdflatex run). Newly cited keys are missing from the thesis' .bbl; the preview
    then gets its own biber run, and the pass is not spliced. The pass starts from the
    precompiled preamble (chapterwise.texformat) when it is current, and counts the project
    files the format read as read by the pass.
    """
    root = project.root
    chapter = project.chapter(name)
    includes = [c.include for c in project.chapters]
    directory = _pass_dir(root, name)
    job = chapter_job(project, name)
    carried = list(job.also_include)
    record = read_pass(directory)
    if (
        record is not None
        and record.state_id == state.state_id
        and record.include == chapter.include
        and record.carried == carried
        and job.pdf.is_file()
        and _current(record.inputs, root)
    ):
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write("up to date: same thesis state and sources as the last pass\n")
        return CompileResult(job.pdf, ())
    (directory / PASS_FILE).unlink(missing_ok=True)
    # Digests taken before TeX reads the files: an edit made while the pass runs makes the
    # pass stale instead of being recorded as typeset.
    declared = {f for files in project.chapter_inputs(name).values() for f in files}
    before = {path: file_digest(root / path) or "missing" for path in sorted(declared)}
    state_dir = root / THESIS_DIR
    preamble = ensure_format(
        root, project.main, source_date_epoch=job.source_date_epoch, log_path=log_path
    )
    watched = [directory / f"{include}.aux" for include in job.typeset]
    result = run_passes(
        job,
        includes=includes,
        log_path=log_path,
        watched=watched,
        prepare=lambda number: _seed_pass(state_dir, job, includes, number),
        fmt=preamble.fmt,
    )
    if result.format_problem is not None:
        reject_format(root, result.format_problem)
    blocker: list[str] = []
    if result.decision is not RerunDecision.DONE:
        blocker = ["pass-not-converged", f"{chapter.include} needs another pass"]
    diagnostics = result.diagnostics
    undefined = _undefined_labels(diagnostics)
    new_keys = _quoted_keys(diagnostics, "undefined-citation")
    if new_keys:
        # The thesis' .bbl lacks these keys, so the thesis needs biber: no splice. The preview
        # gets its own bibliography, as a chapter build before the first thesis build does.
        blocker = [
            "new-citation",
            f"{chapter.include} cites {', '.join(new_keys[:3])}, which the bibliography "
            "does not list yet",
        ]
        run_tool(
            ["biber", _job_file(Path(job.outdir), name, "bcf").as_posix()],
            cwd=root,
            log=log_path,
        )
        again = run_passes(
            job,
            includes=includes,
            log_path=log_path,
            watched=watched,
            prepare=lambda number: None,
            fmt=result.fmt,
        )
        diagnostics = again.diagnostics
    run = parse_run_log(_read_text(job.log_file))
    if chapter.include not in run.parts and not blocker:
        blocker = ["no-page-range", f"no page range was logged for {chapter.include}"]
    reads = split_recording(
        _read_text(_job_file(directory, name, "fls")),
        root=root,
        includes=includes,
        order=job.typeset,
        jobname=name,
    )
    others = {f"{c.include}.tex" for c in project.chapters if c.include not in job.typeset}
    files = set(reads.main).union(*(reads.chapters.get(i, ()) for i in job.typeset)) - others
    inputs = {path: before.get(path) or file_digest(root / path) or "missing" for path in files}
    if result.fmt is not None:  # what the preamble read is in the format, not the pass's .fls
        inputs.update(preamble.project)
    inputs = dict(sorted(inputs.items()))
    write_if_changed(
        directory / PASS_FILE,
        json.dumps(
            asdict(
                PassRecord(
                    state_id=state.state_id,
                    include=chapter.include,
                    passes=result.passes,
                    converged=result.decision is RerunDecision.DONE,
                    blocker=blocker,
                    inputs=inputs,
                    reads=sorted(reads.chapters.get(chapter.include, frozenset())),
                    undefined=undefined,
                    carried=carried,
                )
            ),
            indent=1,
            sort_keys=True,
        ),
    )
    return CompileResult(job.pdf, diagnostics)


# --------------------------------------------------------------------------------------------
# The safety check


def changed_inputs(state: State, root: Path) -> tuple[list[str], list[str]]:
    """(project files whose bytes changed, distribution files whose size or time changed)."""
    changed = [p for p, d in state.inputs.items() if (file_digest(root / p) or "missing") != d]
    system = [p for p, s in state.system.items() if system_stamp(p) != s]
    return sorted(changed), sorted(system)


@dataclass(frozen=True)
class _PassView:
    """A chapter pass, read back for the check."""

    include: str
    name: str
    directory: Path
    record: PassRecord
    run: RunLog
    aux: tuple[AuxEntry, ...]
    main: MainAux | None


def _references_outside(project: Project, state: State, exclude: str) -> References:
    """What every part of the thesis but chapter ``exclude`` references (current sources).

    The sources are what the scan finds and what the last build read (a project package that
    ``\\usepackage`` loads, say, which the scan does not follow).
    """
    texts: dict[str, str] = {}
    sources = [project.main, *project.preamble.files]
    for chapter in project.chapters:
        if chapter.include != exclude:
            sources.extend(project.chapter_deps[chapter.name].files)
    sources += [path for path, owners in state.owners.items() if owners != [exclude]]
    for path in dict.fromkeys(sources):
        if path.endswith(TEX_SOURCE_SUFFIXES):
            texts[path] = _read_text(project.root / path)
    return scan_references(texts, _cached("scan_tex", project))


def check_chapter(
    project: Project,
    state: State,
    view: _PassView,
    state_main: MainAux,
    state_auxes: Mapping[str, tuple[AuxEntry, ...]],
    other_undefined: set[str],
) -> Fallback | AuxChanges:
    """Whether chapter ``view.include``'s pass can replace its pages: the changes, or why not."""
    include = view.include
    record = view.record
    if record.blocker:
        return Fallback(record.blocker[0], record.blocker[-1])
    part = view.run.parts.get(include)
    old = state.parts.get(include)
    if part is None or old is None:
        return Fallback("no-page-range", f"no page range for {include}")
    if part.page_count != old.page_count:
        return Fallback(
            "page-count-changed",
            f"{include} now has {part.page_count} pages (was {old.page_count})",
        )
    if part.bookmarks[0] != old.bookmarks[0] or part.anchors != old.anchors:
        return Fallback(
            "anchors-changed",
            f"{include} changes hyperref's anchor numbering for the chapters after it",
        )
    if view.run.trackers and state_main.stretches.get(include):
        return Fallback(
            "citation-tracking",
            f"biblatex tracks citations ({', '.join(view.run.trackers)}) and {include} cites",
        )
    if view.main is None:
        return Fallback(
            "no-chapter-markers", f"the main .aux of the pass of {include} has no chapter markers"
        )
    if _comparable(view.main.head) != _comparable(state_main.head):
        return Fallback("front-matter-changed", "the front matter's .aux lines changed")
    if _comparable(view.main.stretches.get(include, ())) != _comparable(
        state_main.stretches.get(include, ())
    ):
        return Fallback(
            "citations-changed",
            f"{include} cites differently (its lines in the main .aux changed)",
        )
    for other in state_main.order:
        if _comparable(view.main.glue.get(other, ())) != _comparable(
            state_main.glue.get(other, ())
        ):
            return Fallback("aux-changed", f"the main .aux changed after {other}")
        if view.main.ends.get(other) != state_main.ends.get(other):
            return Fallback("anchors-changed", f"hyperref's anchor counter after {other} changed")
    changes = diff_chapter_aux(state_auxes.get(include, ()), view.aux)
    if changes.counters:
        return Fallback(
            "counters-changed",
            f"{include} ends with different counters ({', '.join(changes.counters[:4])}), "
            "which the chapters after it start from",
        )
    if changes.other:
        return Fallback("aux-changed", f"{include}'s .aux changed: {changes.other[0][:60]}")
    if (
        changes.new_labels
        or changes.removed_labels
        or changes.renumbered
        or changes.moved
        or changes.retitled
    ):
        used = _references_outside(project, state, include)
        if used.opaque:
            return Fallback(
                "opaque-references",
                f"labels of {include} changed and {used.opaque[0]} has references the scanner "
                "cannot read",
            )
        for label in changes.new_labels:
            if label in used.labels or label in state.undefined or label in other_undefined:
                return Fallback(
                    "label-referenced",
                    f"new label {label} in {include} is referenced from elsewhere",
                )
        for label in (*changes.removed_labels, *changes.renumbered):
            if label in used.labels:
                return Fallback(
                    "label-referenced",
                    f"label {label} changed in {include} and is referenced from elsewhere",
                )
        for label in changes.retitled:
            if label in used.titles:
                return Fallback(
                    "label-referenced",
                    f"the title of label {label} changed in {include} and is printed elsewhere",
                )
        for label, page in changes.moved:
            if label in used.pages:
                user = _first_user(project, include, label)
                return Fallback(
                    "label-page-printed",
                    f"label {label} moved to page {page} and {user} prints its page",
                )
    printing = lists_printing_changes(state_auxes.get(include, ()), view.aux, changes)
    if printing:
        # An unchanged ToC/LoF/LoT entry can still print differently (a caption with \\ref to
        # a label that was renumbered): the front matter is then spliced from the pass too.
        changes = replace(changes, lists=tuple(sorted({*changes.lists, *printing})))
    if changes.lists and state.lists_outside_front:
        return Fallback(
            "lists-changed",
            f"{include} changed the {'/'.join(changes.lists)} and a list is printed after "
            "the front matter",
        )
    if changes.lists and view.run.front != state.front:
        return Fallback(
            "front-matter-pages",
            f"the front matter now has {view.run.front} pages (was {state.front})",
        )
    state_out = _read_text(_job_file(project.root / THESIS_DIR, THESIS_JOB, "out"))
    pass_out = _read_text(_job_file(view.directory, view.name, "out"))
    if bookmark_lines(state_out, *old.bookmarks) != bookmark_lines(pass_out, *part.bookmarks):
        return Fallback("outline-changed", f"the bookmarks of {include} changed")
    return changes


def _cached(scanner: str, project: Project) -> Callable[[str], tuple[TexCommand, ...]]:
    """``texscan.<scanner>``, answered from the project's scan cache."""
    return functools.partial(cache_for(project.root).scan, scanner)


def check_left_state(
    project: Project,
    include: str,
    carried: Collection[str],
    spliced: Iterable[str],
    changed: Iterable[str],
) -> Fallback | None:
    """Whether state that chapters leave behind (``\\include`` opens no group) allows splicing
    chapter ``include``, whose pass also typeset the earlier chapters ``carried`` (includes):
    the pass cannot see what other earlier chapters defined, and what this chapter defines
    may be used by later ones that are not retypeset."""
    names = [c.name for c in project.chapters]
    includes = [c.include for c in project.chapters]
    index = includes.index(include)
    left = project.left
    own = left[names[index]]
    hint = "define it in the preamble"
    for before, before_include in zip(names[:index], includes[:index], strict=True):
        if before_include in carried:
            continue
        if left[before].unnamed:
            path, line, command = left[before].unnamed[0]
            return Fallback(
                "chapter-state",
                f"{path}:{line}: \\{command} outlives {before_include}, and a "
                f"pass of {include} cannot see it; {hint}",
            )
        for name, path in left[before].named.items():
            if path not in own.texts and uses(own.texts, name):
                return Fallback(
                    "chapter-state",
                    f"{include} uses {name}, which {path} defines in an earlier chapter; {hint}",
                )
    edited = set(changed)
    for path, line, command in own.unnamed:
        if path in edited:
            return Fallback(
                "chapter-state",
                f"{path}:{line}: \\{command} outlives {include} and the chapters after it "
                f"see it; {hint}",
            )
    retypeset = set(spliced)
    for name, path in own.named.items():
        if path not in edited:
            continue
        for later, later_include in zip(names[index + 1 :], includes[index + 1 :], strict=True):
            texts = left[later].texts
            if later_include not in retypeset and path not in texts and uses(texts, name):
                return Fallback(
                    "chapter-state",
                    f"{later_include} uses {name}, defined in {path}, which changed; {hint}",
                )
    return None


def _first_user(project: Project, include: str, label: str) -> str:
    """The first part of the thesis (a chapter or the main file) printing ``label``'s page."""
    for chapter in project.chapters:
        if chapter.include == include:
            continue
        texts = {
            p: _read_text(project.root / p)
            for p in project.chapter_deps[chapter.name].files
            if p.endswith(TEX_SOURCE_SUFFIXES)
        }
        if label in scan_references(texts, _cached("scan_tex", project)).pages:
            return chapter.include
    return project.main


def plan_splice(
    project: Project, state: State, changed: Sequence[str], changed_files: Sequence[str] = ()
) -> SplicePlan | Fallback:
    """Check the passes of the ``changed`` chapters (includes) against the state.

    ``changed_files`` are the project files whose bytes changed since the state.
    """
    from chapterwise.splice import PageSwap

    root = project.root
    state_dir = root / THESIS_DIR
    includes = list(state.includes)
    state_main = split_main_aux(_read_aux(_job_file(state_dir, THESIS_JOB, "aux")), includes)
    if state_main is None:
        return Fallback("no-chapter-markers", "the thesis' main .aux has no chapter markers")
    state_auxes = {i: _read_aux(state_dir / f"{i}.aux") for i in changed}
    by_include = {c.include: c for c in project.chapters}
    views: list[_PassView] = []
    for include in changed:
        chapter = by_include[include]
        directory = _pass_dir(root, chapter.name)
        record = read_pass(directory)
        if record is None or record.state_id != state.state_id or record.include != include:
            return Fallback("no-chapter-pass", f"no pass of {include} from the current state")
        if not _current(record.inputs, root):
            return Fallback("stale-pass", f"the pass of {include} is older than its sources")
        views.append(
            _PassView(
                include,
                chapter.name,
                directory,
                record,
                parse_run_log(_read_text(_job_file(directory, chapter.name, "log"))),
                _read_aux(directory / f"{include}.aux"),
                split_main_aux(_read_aux(_job_file(directory, chapter.name, "aux")), includes),
            )
        )
    swaps: list[PageSwap] = []
    chapter_aux: dict[str, bytes] = {}
    lists: dict[str, bytes] = {}
    list_owner: str | None = None
    undefined = set(state.undefined)
    for view in views:
        left = check_left_state(project, view.include, view.record.carried, changed, changed_files)
        if left is not None:
            return left
        others = {k for v in views if v is not view for k in v.record.undefined}
        verdict = check_chapter(project, state, view, state_main, state_auxes, others)
        if isinstance(verdict, Fallback):
            return verdict
        part = view.run.parts[view.include]
        old = state.parts[view.include]
        swaps.append(
            PageSwap(
                view.include,
                old.before,
                part.before,
                part.page_count,
                _job_file(view.directory, view.name, "pdf"),
                view.run.missing_destinations,
            )
        )
        chapter_aux[view.include] = (view.directory / f"{view.include}.aux").read_bytes()
        undefined.update(view.record.undefined)
        if verdict.lists:
            if list_owner is not None:
                return Fallback(
                    "lists-changed",
                    f"{list_owner} and {view.include} both changed the lists (ToC/LoF/LoT)",
                )
            list_owner = view.include
            expected = expected_lists(state_dir, view.directory, view.name, view.include, includes)
            if expected is None:
                return Fallback("lists-changed", "the list files do not match the aux files")
            lists = expected
            if view.run.front is None:
                return Fallback("front-matter-pages", "no front matter in the pass")
            swaps.append(
                PageSwap(
                    "the front matter",
                    0,
                    0,
                    view.run.front,
                    _job_file(view.directory, view.name, "pdf"),
                    view.run.missing_destinations,
                )
            )
    reads = {v.include: v.record.reads for v in views}
    digests = {path: d for view in views for path, d in view.record.inputs.items()}
    return SplicePlan(tuple(swaps), chapter_aux, lists, reads, sorted(undefined), digests)


# --------------------------------------------------------------------------------------------
# Orchestration


def _thesis_job(project: Project) -> LatexJob:
    return LatexJob(
        project.root,
        project.main,
        THESIS_JOB,
        THESIS_DIR,
        None,
        project.config.source_date_epoch,
    )


def run_full_build(project: Project, *, log_path: Path) -> CompileResult:
    """latexmk on the whole thesis in build/thesis/, then record its state for later splices."""
    root = project.root
    previous = read_state(root)
    forget_state(root)
    if previous is None or previous.origin != "full":
        # latexmk's database describes its own last run; after a splice (or an unknown past)
        # it must not decide that nothing changed.
        (root / THESIS_DIR / f"{THESIS_JOB}.fdb_latexmk").unlink(missing_ok=True)
    includes = [chapter.include for chapter in project.chapters]
    digests = source_digests(project, previous)
    result = run_latex(_thesis_job(project), includes=includes, log_path=log_path)
    state = build_state(root, project, digests=digests)
    if state is not None:
        # Where each named destination is, once, so that a splice need not parse the PDF.
        from chapterwise.splice import save_destination_index

        save_destination_index(result.pdf, root / THESIS_DIR / DEST_FILE, state.pdf_sha256)
        write_state(root, state)
    return result


def _apply_splice(project: Project, state: State, plan: SplicePlan) -> State:
    """Write the spliced PDF and the state a full build would leave; returns the new state."""
    from chapterwise.splice import (
        compact_pdf,
        read_destinations,
        save_destination_index,
        splice_pdf,
        write_destinations,
    )

    root = project.root
    directory = root / THESIS_DIR
    pdf = _job_file(directory, THESIS_JOB, "pdf")
    spliced = directory / f"{THESIS_JOB}.spliced.pdf"
    index_file = directory / DEST_FILE
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The SyncTeX file is spliced beside the PDF: its (de)compression releases the GIL.
        synctex_data = pool.submit(_spliced_synctex, pdf, plan.swaps)
        try:
            index: DestIndex | None = splice_pdf(
                pdf, plan.swaps, spliced, read_destinations(index_file, state.pdf_sha256)
            )
            base_size = state.base_size
            if spliced.stat().st_size > 2 * base_size:
                # Superseded objects make up half of the file: rewrite it (new object numbers).
                compact_pdf(spliced, spliced)
                index = None
                base_size = spliced.stat().st_size
        except Exception:
            spliced.unlink(missing_ok=True)
            raise
        synctex_gz = synctex_data.result()
    forget_state(root)
    for include, data in plan.chapter_aux.items():
        write_if_changed(directory / f"{include}.aux", data)
    for ext, data in plan.lists.items():
        write_if_changed(_job_file(directory, THESIS_JOB, ext), data)
    os.replace(spliced, pdf)
    _write_synctex(pdf, synctex_gz)
    (directory / f"{THESIS_JOB}.fdb_latexmk").unlink(missing_ok=True)
    inputs = dict(state.inputs)
    owners = {k: list(v) for k, v in state.owners.items()}
    for include, files in plan.reads.items():
        for path in files:  # files the chapter reads now (a new figure, say)
            owners.setdefault(path, [])
            if include not in owners[path]:
                owners[path].append(include)
    for path in [*plan.changed, *(p for files in plan.reads.values() for p in files)]:
        if path in owners:
            inputs[path] = plan.digests.get(path) or file_digest(root / path) or "missing"
    pdf_sha = file_digest(pdf) or ""
    if index is None:
        save_destination_index(pdf, index_file, pdf_sha)
    else:
        write_destinations(index_file, index, pdf_sha)
    new_state = State(
        **{
            **asdict(state),
            "parts": state.parts,
            "state_id": _state_id(directory, state.includes, pdf_sha),
            "origin": "splice",
            "inputs": inputs,
            "owners": owners,
            "undefined": plan.undefined,
            "pdf_sha256": pdf_sha,
            "base_size": base_size,
        }
    )
    write_state(root, new_state)
    return new_state


def _spliced_synctex(pdf: Path, swaps: Sequence[PageSwap]) -> bytes | None:
    """The SyncTeX file beside ``pdf`` spliced as its pages are (compressed), or None if that
    cannot be done."""
    from chapterwise import synctex

    try:
        sources = {swap.pdf: synctex.read(synctex.synctex_path(swap.pdf)) for swap in swaps}
        moves = [
            synctex.SheetSwap(sources[s.pdf], s.old_start, s.new_start, s.count) for s in swaps
        ]
        return synctex.compress(synctex.splice(synctex.read(synctex.synctex_path(pdf)), moves))
    except (OSError, synctex.SyncTexError) as exc:
        log.info("synctex not spliced: %s", exc)
        return None


def _write_synctex(pdf: Path, data: bytes | None) -> None:
    """Put the spliced SyncTeX file beside ``pdf``; without one, drop the old (a stale SyncTeX
    file would send the editor to the wrong line)."""
    from chapterwise.synctex import synctex_path

    target = synctex_path(pdf)
    if data is None:
        target.unlink(missing_ok=True)
    else:
        atomic_write_bytes(target, data)


def _affected(state: State, changed: Sequence[str]) -> tuple[list[str], Fallback | None]:
    """The chapters (includes) the changed files belong to, or why the change is not local."""
    chapters: dict[str, None] = {}
    for path in changed:
        owners = state.owners.get(path, ["main"])
        if "main" in owners:
            return [], Fallback("main-changed", f"{path} changed and is read outside the chapters")
        chapters.update(dict.fromkeys(owners))
    return [i for i in state.includes if i in chapters], None


def decide(project: Project, state: State | None, mode: str) -> SplicePlan | Fallback | None:
    """What the thesis needs: a splice, a full build (and why), or nothing (None)."""
    if mode == "full":
        return Fallback("forced-full", "assembly=full")
    if state is None:
        return Fallback("no-state", "no converged build state yet")
    if state.main != project.main or state.includes != tuple(c.include for c in project.chapters):
        return Fallback("main-changed", "the chapters of the thesis changed")
    if state.source_date_epoch != project.config.source_date_epoch:
        return Fallback("main-changed", "source_date_epoch changed")
    changed, system = changed_inputs(state, project.root)
    if system:
        return Fallback("system-changed", f"{system[0]} changed")
    if not changed:
        return None
    if state.blockers:
        return Fallback("unsupported", state.blockers[0])
    includes, fallback = _affected(state, changed)
    if fallback is not None:
        return fallback
    plan = plan_splice(project, state, includes, changed)
    return plan if isinstance(plan, Fallback) else replace(plan, changed=tuple(changed))


def assemble_thesis(project: Project, *, mode: str, log_path: Path, output: Path) -> Assembly:
    """Bring build/thesis/thesis.pdf up to date (splice or full build) and copy it to ``output``."""
    started = time.monotonic()
    root = project.root
    pdf = root / THESIS_DIR / f"{THESIS_JOB}.pdf"
    state = read_state(root)
    verdict = decide(project, state, mode)
    cache_for(root).save()
    if verdict is None:
        publish_pdf(pdf, output)
        return Assembly(
            "up-to-date", "up to date (no source changed since the last build)", "up-to-date"
        )
    if isinstance(verdict, SplicePlan) and state is not None:
        try:
            _apply_splice(project, state, verdict)
        except Exception as exc:  # a splice that fails is a full build, never an error
            log.info("splice failed: %s", exc)
            verdict = Fallback("splice-failed", f"splice failed: {str(exc)[:120]}")
        else:
            publish_pdf(pdf, output)
            ranges = ", ".join(f"{swap.label} ({_pages(swap)})" for swap in verdict.swaps)
            message = f"spliced {ranges} in {time.monotonic() - started:.1f} s"
            _log_line(log_path, f"{project.config.output}: {message}")
            return Assembly("splice", message, "spliced")
    fallback = verdict if isinstance(verdict, Fallback) else Fallback("no-state", "no state")
    _log_line(log_path, f"{project.config.output}: full build: {fallback.message}")
    result = run_full_build(project, log_path=log_path)
    publish_pdf(result.pdf, output)
    return Assembly(
        "full",
        f"full build: {fallback.message} ({time.monotonic() - started:.1f} s)",
        fallback.code,
        tuple(d for d in result.diagnostics if d.severity is Severity.WARNING),
    )


def _pages(swap: PageSwap) -> str:
    first, last = swap.old_start + 1, swap.old_start + swap.count
    return f"page {first}" if first == last else f"pages {first}-{last}"


def _log_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
