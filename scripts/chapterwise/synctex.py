"""SyncTeX files: kept beside every published PDF, and spliced along with the thesis pages.

A viewer finds ``<name>.synctex.gz`` next to ``<name>.pdf`` and uses it to jump between a
point on a page and a line of source. pdfTeX writes it (``-synctex=1``) with absolute input
paths, so a copy next to the published PDF works as it is.

A spliced thesis.pdf needs a spliced SyncTeX file: the sheets (one ``{n ... }n`` block per
page) of the replaced pages come from the chapter pass's file, renumbered to their place in
the thesis, and the pass's input tags are moved past the thesis' own so the records still
name the right files. The format (version 1, as pdfTeX writes it):

    SyncTeX Version:1
    Input:<tag>:<path>          (also between records, wherever TeX opened the file)
    Output:pdf / Magnification / Unit / X Offset / Y Offset
    Content:
    !<bytes since the previous anchor>
    {<page>  records: [ ( h v x k g $ r <tag>,<line>...  and ] )  }<page>
    Postamble:
    Count:<records>
    Post scriptum:

The parsing is pure (text in, text out); the I/O edge reads and writes the gzip files.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chapterwise.fsutil import atomic_write_bytes, copy_atomic

SUFFIX = ".synctex.gz"
_RECORD = re.compile(r"([\[(hvxkg$r])(\d+)(,.*)")
_CLOSERS = ("]", ")")


class SyncTexError(Exception):
    """A SyncTeX file this module cannot read or splice (a structure it does not know)."""


@dataclass(frozen=True, slots=True)
class SyncTex:
    """A parsed SyncTeX file: header, inputs by tag, sheets by page, trailer."""

    header: tuple[str, ...]  # before Content:, without the Input lines; the version line first
    inputs: dict[int, str]
    sheets: dict[int, tuple[str, ...]]  # page (1-based) -> the records between {page and }page
    count: int
    trailer: tuple[str, ...] = field(default=())  # the lines after "Post scriptum:"


@dataclass(frozen=True, slots=True)
class SheetSwap:
    """Replace ``count`` sheets from page ``old_start + 1`` by those from ``new_start + 1``."""

    source: SyncTex
    old_start: int
    new_start: int
    count: int


def synctex_path(pdf: Path) -> Path:
    """Where a viewer looks for the SyncTeX file of ``pdf``."""
    return pdf.with_name(pdf.stem + SUFFIX)


def _input(line: str, where: str) -> tuple[int, str]:
    _, tag, path = line.split(":", 2)
    if not tag.isdigit():
        raise SyncTexError(f"{where}: bad input line {line[:60]!r}")
    return int(tag), path


def parse(text: str, where: str = "synctex") -> SyncTex:
    """Read the text of a SyncTeX file; raises SyncTexError for anything unexpected."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("SyncTeX Version:1"):
        raise SyncTexError(f"{where}: not a SyncTeX version 1 file")
    if "Content:" not in lines:
        raise SyncTexError(f"{where}: no Content: section")
    position = lines.index("Content:")
    header: list[str] = []
    inputs: dict[int, str] = {}
    for line in lines[:position]:
        if line.startswith("Input:"):
            tag, path = _input(line, where)
            inputs[tag] = path
        else:
            header.append(line)
    sheets: dict[int, tuple[str, ...]] = {}
    page: int | None = None
    records: list[str] = []
    count: int | None = None
    trailer: tuple[str, ...] = ()
    index = position + 1
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line or line.startswith("!"):
            continue
        if line.startswith("Input:"):
            tag, path = _input(line, where)
            inputs[tag] = path
        elif page is not None:
            if line == f"}}{page}":
                sheets[page] = tuple(records)
                page, records = None, []
            else:
                records.append(line)
        elif line.startswith("{") and line[1:].isdigit():
            page = int(line[1:])
        elif line == "Postamble:":
            continue
        elif line.startswith("Count:") and line[6:].isdigit():
            count = int(line[6:])
        elif line == "Post scriptum:":
            trailer = tuple(rest for rest in lines[index:] if rest and not rest.startswith("!"))
            break
        else:
            raise SyncTexError(f"{where}: unexpected line {line[:60]!r} between pages")
    if page is not None:
        raise SyncTexError(f"{where}: page {page} has no end")
    return SyncTex(tuple(header), inputs, sheets, count or 0, trailer)


def _size(line: str) -> int:
    return len(line.encode("utf-8", errors="surrogateescape")) + 1


def render(doc: SyncTex) -> str:
    """The text of ``doc`` as pdfTeX lays it out, with the anchors (byte offsets) recomputed."""
    out: list[str] = [doc.header[0]]
    out += [f"Input:{tag}:{doc.inputs[tag]}" for tag in sorted(doc.inputs)]
    out += [*doc.header[1:], "Content:"]
    size = sum(_size(line) for line in out)
    last_anchor = 0

    def anchor() -> None:
        nonlocal size, last_anchor
        line = f"!{size - last_anchor}"
        last_anchor = size
        out.append(line)
        size += len(line) + 1

    def emit(line: str) -> None:
        nonlocal size
        out.append(line)
        size += _size(line)

    for page in sorted(doc.sheets):
        anchor()
        emit(f"{{{page}")
        for record in doc.sheets[page]:
            emit(record)
        anchor()
        emit(f"}}{page}")
    anchor()
    emit("Postamble:")
    emit(f"Count:{doc.count}")
    anchor()
    emit("Post scriptum:")
    for line in doc.trailer:
        emit(line)
    return "\n".join(out) + "\n"


def _retag(records: Iterable[str], offset: int) -> list[str]:
    moved = []
    for record in records:
        match = _RECORD.fullmatch(record)
        if match:
            moved.append(f"{match[1]}{int(match[2]) + offset}{match[3]}")
        elif record in _CLOSERS:
            moved.append(record)
        else:
            raise SyncTexError(f"unexpected record {record[:60]!r}")
    return moved


def _used_tags(sheets: Iterable[Sequence[str]]) -> set[int]:
    return {
        int(match[2])
        for records in sheets
        for record in records
        if (match := _RECORD.match(record))
    }


def splice(base: SyncTex, swaps: Sequence[SheetSwap]) -> SyncTex:
    """``base`` with the sheets of each swap replaced; inputs no record uses are dropped."""
    sheets = dict(base.sheets)
    inputs = dict(base.inputs)
    count = base.count
    offsets: dict[int, int] = {}
    for swap in swaps:
        key = id(swap.source)
        if key not in offsets:  # one renumbering per pass file, shared by its swaps
            offsets[key] = max(inputs, default=0)
            inputs.update({tag + offsets[key]: path for tag, path in swap.source.inputs.items()})
        for index in range(swap.count):
            old, new = swap.old_start + 1 + index, swap.new_start + 1 + index
            if old not in sheets or new not in swap.source.sheets:
                raise SyncTexError(f"no page {old if old not in sheets else new} to swap")
            count += len(swap.source.sheets[new]) - len(sheets[old])
            sheets[old] = tuple(_retag(swap.source.sheets[new], offsets[key]))
    used = _used_tags(sheets.values())
    inputs = {tag: path for tag, path in inputs.items() if tag in used}
    return SyncTex(base.header, inputs, sheets, count, base.trailer)


# The I/O edge.


def read(path: Path) -> SyncTex:
    """Parse a ``.synctex.gz`` file."""
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="surrogateescape")
    except (OSError, EOFError) as exc:
        raise SyncTexError(f"{path.name}: {exc}") from exc
    return parse(text, path.name)


def write(path: Path, doc: SyncTex) -> None:
    """Write ``doc`` to ``path`` (gzip, atomically; reproducible: no name or time in the header)."""
    data = render(doc).encode("utf-8", errors="surrogateescape")
    atomic_write_bytes(path, gzip.compress(data, mtime=0))


def publish_pdf(source: Path, target: Path) -> None:
    """Copy a PDF and its SyncTeX file, the SyncTeX first, so a viewer that reloads the new
    PDF finds its SyncTeX; a PDF without one takes a stale copy away."""
    if source.resolve() == target.resolve():
        return
    source_synctex, target_synctex = synctex_path(source), synctex_path(target)
    if source_synctex.is_file():
        copy_atomic(source_synctex, target_synctex)
    else:
        target_synctex.unlink(missing_ok=True)
    copy_atomic(source, target)
