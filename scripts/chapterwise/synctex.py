"""SyncTeX files: kept beside every published PDF, and spliced along with the thesis pages.

A viewer finds ``<name>.synctex.gz`` next to ``<name>.pdf`` and uses it to jump between a
point on a page and a line of source. pdfTeX writes it (``-synctex=1``) with absolute input
paths, so a copy next to the published PDF works as it is.

A spliced thesis.pdf needs a spliced SyncTeX file: the sheets (one ``{n ... }n`` block per
page) of the replaced pages come from the chapter pass's file, and the pass's input tags are
moved past the thesis' own so its records still name the right files. The format (version 1,
as pdfTeX writes it):

    SyncTeX Version:1
    Input:<tag>:<path>          (also between records, wherever TeX opened the file)
    Output:pdf / Magnification / Unit / X Offset / Y Offset
    Content:
    !<bytes from the previous anchor line to this one>
    {<page>  records: [ ( h v x k g $ r <tag>,<line>...  and ] )  }<page>
    Postamble:
    Count:<records>
    Post scriptum:

A 330-page thesis has an 11 MB SyncTeX file, so the splice works on bytes: it copies the
untouched sheets as they are, rewrites only the swapped ones, and recomputes the anchors in
one pass. The functions are pure (bytes in, bytes out); the I/O edge reads and writes gzip.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chapterwise.fsutil import atomic_write_bytes, copy_atomic

SUFFIX = ".synctex.gz"
VERSION = b"SyncTeX Version:1"
_INPUT_LINE = re.compile(rb"^Input:[^\n]*\n", re.MULTILINE)
_ANCHOR = re.compile(rb"^!\d+\n", re.MULTILINE)
_TAGGED = re.compile(rb"^([\[(hvxkg$r])(\d+),", re.MULTILINE)
# Any line of a sheet that is none of the records above, a box end, an anchor or an input.
_UNKNOWN = re.compile(rb"^(?![\[(hvxkg$r]\d+,|[\])]$|!\d+$|Input:\d+:|$).*$", re.MULTILINE)
# gzip level 1: a third of the time of level 9 on a large thesis, for a 25% larger file.
COMPRESSION = 1


class SyncTexError(Exception):
    """A SyncTeX file this module cannot read or splice (a structure it does not know)."""


@dataclass(frozen=True, slots=True)
class SheetSwap:
    """Replace ``count`` sheets from page ``old_start + 1`` by those from ``new_start + 1``."""

    source: bytes  # the uncompressed SyncTeX file of the pass
    old_start: int
    new_start: int
    count: int


def synctex_path(pdf: Path) -> Path:
    """Where a viewer looks for the SyncTeX file of ``pdf``."""
    return pdf.with_name(pdf.stem + SUFFIX)


def _check(data: bytes, where: str) -> None:
    if not data.startswith(VERSION):
        raise SyncTexError(f"{where}: not a SyncTeX version 1 file")
    if b"\nContent:\n" not in data:
        raise SyncTexError(f"{where}: no Content: section")


def sheet_span(data: bytes, page: int, after: int = 0) -> tuple[int, int]:
    """Byte range of page ``page``'s sheet, from its ``{page`` line to after its ``}page``
    (searched from byte ``after`` on: sheets are in page order)."""
    start = data.find(b"\n{%d\n" % page, max(after - 1, 0))
    if start < 0:
        raise SyncTexError(f"no page {page}")
    closing = b"\n}%d\n" % page
    end = data.find(closing, start)
    if end < 0:
        raise SyncTexError(f"page {page} has no end")
    return start + 1, end + len(closing)


def _lines_starting(data: bytes, prefix: bytes) -> Iterator[tuple[int, int]]:
    """(start, end after the newline) of each line that begins with ``prefix`` (not line 1).

    ``bytes.find`` in a loop: a multi-line regular expression tries every byte of an 11 MB
    file, ten times slower for the few hundred lines wanted here.
    """
    needle = b"\n" + prefix
    found = data.find(needle)
    while found >= 0:
        end = data.find(b"\n", found + 1)
        end = len(data) if end < 0 else end + 1
        yield found + 1, end
        found = data.find(needle, end - 1)


def input_lines(data: bytes) -> dict[int, bytes]:
    """The Input lines of a file, by tag (each line with its newline)."""
    found = {}
    for start, end in _lines_starting(data, b"Input:"):
        tag = data[start + 6 : end].split(b":", 1)[0]
        if not tag.isdigit():
            raise SyncTexError(f"bad input line {data[start:end][:60]!r}")
        found[int(tag)] = data[start:end]
    return found


def sheets(data: bytes) -> dict[int, list[bytes]]:
    """Every sheet's records (no anchors, no Input lines), by page: to read a file in tests."""
    found = {}
    for match in re.finditer(rb"^\{(\d+)$", data, re.MULTILINE):
        start, end = sheet_span(data, int(match[1]))
        lines = data[start:end].split(b"\n")[1:-2]
        found[int(match[1])] = [x for x in lines if not x.startswith((b"!", b"Input:"))]
    return found


def _retag(block: bytes, offset: int) -> bytes:
    unknown = _UNKNOWN.search(block)
    if unknown:
        raise SyncTexError(f"unexpected record {unknown[0][:60]!r}")

    def moved(match: re.Match[bytes]) -> bytes:
        return match[1] + b"%d," % (int(match[2]) + offset)

    body = _ANCHOR.sub(b"", _INPUT_LINE.sub(b"", block))
    return _TAGGED.sub(moved, body)


def reanchor(data: bytes) -> bytes:
    """``data`` with every anchor line set to its distance from the previous one (or 0)."""
    out: list[bytes] = []
    size = position = previous = 0
    for start, end in _lines_starting(data, b"!"):
        out.append(data[position:start])
        size += start - position
        anchor = b"!%d\n" % (size - previous)
        previous = size
        out.append(anchor)
        size += len(anchor)
        position = end
    out.append(data[position:])
    return b"".join(out)


def splice(base: bytes, swaps: Sequence[SheetSwap]) -> bytes:
    """``base`` with the sheets of each swap replaced by the pass's, tags moved, re-anchored."""
    _check(base, "thesis")
    next_tag = max(input_lines(base), default=0)
    offsets: dict[int, int] = {}
    replacements: dict[int, bytes] = {}  # page -> its new sheet (with the pass's inputs first)
    for swap in swaps:
        _check(swap.source, "chapter pass")
        key = id(swap.source)
        inputs = b""
        if key not in offsets:  # one renumbering per pass file, shared by its swaps
            offsets[key] = next_tag
            lines = input_lines(swap.source)
            next_tag += max(lines, default=0)
            inputs = _retag_inputs(lines, offsets[key])
        end = 0
        for index in range(swap.count):
            old, new = swap.old_start + 1 + index, swap.new_start + 1 + index
            start, end = sheet_span(swap.source, new, end)
            body = swap.source[start:end].split(b"\n", 1)[1]  # after the "{new" line
            body = body[: -len(b"}%d\n" % new)]
            records = _retag(body, offsets[key])
            sheet = b"{%d\n%s!0\n}%d\n" % (old, records, old)
            replacements[old] = (inputs if index == 0 else b"") + sheet
    out: list[bytes] = []
    position = 0
    for page in sorted(replacements):
        start, end = sheet_span(base, page, position)
        out += (base[position:start], replacements[page])
        position = end
    out.append(base[position:])
    return reanchor(b"".join(out))


def _retag_inputs(lines: dict[int, bytes], offset: int) -> bytes:
    return b"".join(
        b"Input:%d:%s" % (tag + offset, line.split(b":", 2)[2]) for tag, line in lines.items()
    )


# The I/O edge.


def read(path: Path) -> bytes:
    """The uncompressed bytes of a ``.synctex.gz`` file."""
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise SyncTexError(f"{path.name}: {exc}") from exc


def compress(data: bytes) -> bytes:
    """``data`` as a ``.synctex.gz`` file holds it: gzip, reproducibly (no name, no time)."""
    return gzip.compress(data, compresslevel=COMPRESSION, mtime=0)


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, compressed, atomically."""
    atomic_write_bytes(path, compress(data))


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
