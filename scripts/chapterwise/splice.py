"""Replace page ranges of a PDF by pages of other PDFs, as an incremental update (pypdf).

The replaced pages keep their object numbers: the new page objects are written over the old
ones, so the page tree, the outline, the page labels and /OpenAction stay valid without being
touched. Each page's resources and annotations are copied from its PDF, and the named
destinations on the replaced pages are rewritten from the new PDF. The old file is copied
byte for byte and the new objects are appended with their own cross-reference stream, so a
splice costs what the new pages cost, not what the document costs.

A *destination index* (name -> page and the object that holds the destination) spares the
splice a parse of the whole file; it is computed once per full build and returned updated by
every splice.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf._page_labels import index2label
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
    read_object,
)

from chapterwise.fsutil import atomic_write_bytes


@dataclass(frozen=True, slots=True)
class PageSwap:
    """Replace ``count`` pages from index ``old_start`` by those from ``new_start`` of ``pdf``."""

    label: str  # what is spliced, for messages ("chapters/methods", "the front matter")
    old_start: int
    new_start: int
    count: int
    pdf: Path
    missing: frozenset[str]  # destination names the pass only holds as placeholders


class SpliceError(Exception):
    """The PDF cannot be spliced (a structure this module does not handle)."""


def _page_refs(reader: PdfReader, objects: _Objects | None = None) -> list[IndirectObject]:
    """The page objects' references in order, without parsing the pages themselves.

    A /Pages node whose /Count equals its number of kids is taken to have only pages as kids;
    other nodes are opened. (pypdf's ``reader.pages`` parses every page, which costs more than
    the whole splice of a chapter.) A one-page /Pages kid would be listed in its page's place:
    callers check that the pages they touch are /Page objects, and refuse otherwise.
    """
    resolve = objects.resolve if objects is not None else _resolve
    root = _dictionary(reader.trailer.raw_get("/Root"), "the catalog")
    top = root.raw_get("/Pages")
    refs: list[IndirectObject] = []
    stack: list[PdfObject] = [top]
    while stack:
        raw = stack.pop()
        if not isinstance(raw, IndirectObject):
            raise SpliceError("a page tree node is not an indirect object")
        node = resolve(raw)
        if not isinstance(node, DictionaryObject):
            raise SpliceError("a page tree node is not a dictionary")
        if node.get("/Type") == "/Page":
            refs.append(raw)
            continue
        kids = node.raw_get("/Kids")
        kids = resolve(kids)
        if not isinstance(kids, ArrayObject):
            raise SpliceError("a page tree node has no /Kids")
        if node.get("/Count") == len(kids) and all(isinstance(k, IndirectObject) for k in kids):
            refs.extend(kids)
        else:
            stack.extend(reversed(kids))
        if len(refs) > 1_000_000:
            raise SpliceError("the page tree is too large")
    top_node = resolve(top)
    if not isinstance(top_node, DictionaryObject) or top_node.get("/Count") != len(refs):
        raise SpliceError("the page tree's /Count does not match its pages")
    return refs


@dataclass(frozen=True, slots=True)
class _Dest:
    leaf: IndirectObject | None  # the name tree node holding the entry
    index: int  # position of the value in the node's /Names array
    value: PdfObject  # the raw value (usually an indirect reference)
    page: int | None  # object number of the page it points to


@dataclass(frozen=True, slots=True)
class DestEntry:
    """Where a named destination is: its page, and the object that holds its value."""

    page: int  # page index (0-based); -1 when it points at no page of the document
    obj: int  # object number of the value; 0 when the value sits in its name tree node
    leaf: int  # object number of that name tree node (0 when none)
    position: int  # index of the value in the node's /Names array


DestIndex = dict[str, DestEntry]


class _Objects:
    """The objects of one PDF, each parsed alone.

    To read one object of an object stream, pypdf parses every object in that stream; the
    destinations and pages of a chapter pass are spread over a dozen streams that hold the
    whole pass (fonts, annotations, the other pages), so most of that work is for objects the
    splice never reads. Here an object is parsed from its offset in the stream's data; anything
    else (an uncompressed object, a stream object, a malformed table) is left to pypdf.
    """

    def __init__(self, reader: PdfReader) -> None:
        self.reader = reader
        self._parsed: dict[int, PdfObject | None] = {}
        self._streams: dict[int, tuple[BytesIO, dict[int, int]] | None] = {}

    def resolve(self, obj: PdfObject | None) -> PdfObject | None:
        """``obj``, or the object it refers to."""
        if not isinstance(obj, IndirectObject):
            return obj
        if obj.idnum not in self._parsed:
            found = self._from_stream(obj) if obj.generation == 0 else None
            self._parsed[obj.idnum] = found if found is not None else obj.get_object()
        return self._parsed[obj.idnum]

    def _from_stream(self, ref: IndirectObject) -> PdfObject | None:
        located = self.reader.xref_objStm.get(ref.idnum)
        if located is None or ref.pdf is not self.reader:
            return None
        number = int(located[0])
        if number not in self._streams:
            self._streams[number] = self._table(number)
        table = self._streams[number]
        if table is None:
            return None
        data, offsets = table
        offset = offsets.get(ref.idnum)
        if offset is None:
            return None
        data.seek(offset)
        try:
            return read_object(data, self.reader)
        except Exception:  # pypdf's own path reports it, or repairs it
            return None

    def _table(self, number: int) -> tuple[BytesIO, dict[int, int]] | None:
        stream = IndirectObject(number, 0, self.reader).get_object()
        if not isinstance(stream, StreamObject) or stream.get("/Type") != "/ObjStm":
            return None
        try:
            data = stream.get_data()
            count, first = stream["/N"], stream["/First"]
            if not isinstance(count, int) or not isinstance(first, int):
                return None
            fields = [int(field) for field in data[:first].split()]
        except (KeyError, TypeError, ValueError):
            return None
        if count < 0 or len(fields) < 2 * count:
            return None
        offsets = {fields[2 * i]: first + fields[2 * i + 1] for i in range(count)}
        return BytesIO(data), offsets


def _dest_page(value: PdfObject, objects: _Objects | None = None) -> int | None:
    resolve = objects.resolve if objects is not None else _resolve
    resolved = resolve(value)
    if isinstance(resolved, DictionaryObject):
        resolved = resolve(resolved.raw_get("/D") if "/D" in resolved else None)
    if isinstance(resolved, ArrayObject) and resolved and isinstance(resolved[0], IndirectObject):
        return resolved[0].idnum
    return None


def _resolve(obj: PdfObject | None) -> PdfObject | None:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _dictionary(obj: PdfObject | None, what: str) -> DictionaryObject:
    resolved = obj.get_object() if obj is not None else None
    if not isinstance(resolved, DictionaryObject):
        raise SpliceError(f"{what} is not a dictionary")
    return resolved


def _named_destinations(reader: PdfReader, objects: _Objects | None = None) -> dict[str, _Dest]:
    """Every entry of the /Dests name tree, with the page it points to."""
    root = _dictionary(reader.trailer.raw_get("/Root"), "the catalog")
    if "/Dests" in root:
        raise SpliceError("the PDF has an old-style /Dests dictionary")
    names = root.raw_get("/Names") if "/Names" in root else None
    tree = _dictionary(names, "/Names").raw_get("/Dests") if names is not None else None
    found: dict[str, _Dest] = {}
    if tree is None:
        return found
    stack: list[tuple[PdfObject, IndirectObject | None]] = [
        (tree, tree if isinstance(tree, IndirectObject) else None)
    ]
    while stack:
        raw, ref = stack.pop()
        node = raw.get_object()
        if not isinstance(node, DictionaryObject):
            continue
        for kid in node.get("/Kids", ()):
            stack.append((kid, kid if isinstance(kid, IndirectObject) else None))
        pairs = node.get("/Names")
        if pairs is None:
            continue
        pairs = pairs.get_object()
        for index in range(0, len(pairs) - 1, 2):
            key = str(pairs[index])
            value = pairs[index + 1]
            found[key] = _Dest(ref, index + 1, value, _dest_page(value, objects))
    return found


def destination_index(reader: PdfReader) -> DestIndex:
    """Every named destination of a PDF with its page index (parses the whole file)."""
    pages = {ref.idnum: number for number, ref in enumerate(_page_refs(reader))}
    return {
        name: DestEntry(
            pages.get(dest.page, -1) if dest.page is not None else -1,
            dest.value.idnum if isinstance(dest.value, IndirectObject) else 0,
            dest.leaf.idnum if dest.leaf is not None else 0,
            dest.index,
        )
        for name, dest in _named_destinations(reader).items()
    }


def read_destinations(path: Path, pdf_sha256: str) -> DestIndex | None:
    """The destination index saved for the PDF with digest ``pdf_sha256``, if there is one."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("pdf_sha256") != pdf_sha256:
            return None
        return {name: DestEntry(*values) for name, values in raw["destinations"].items()}
    except (FileNotFoundError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write_destinations(path: Path, index: DestIndex, pdf_sha256: str) -> None:
    payload = {
        "pdf_sha256": pdf_sha256,
        "destinations": {
            name: [e.page, e.obj, e.leaf, e.position] for name, e in sorted(index.items())
        },
    }
    atomic_write_bytes(path, json.dumps(payload, separators=(",", ":")).encode())


class _Increment:
    """Objects appended to a PDF as an incremental update."""

    def __init__(self, size: int) -> None:
        self.next = size
        self.objects: dict[int, PdfObject] = {}

    def allocate(self) -> int:
        number = self.next
        self.next += 1
        return number

    def put(self, number: int, obj: PdfObject) -> None:
        self.objects[number] = obj

    def render(self, base: bytes, trailer: Mapping[str, PdfObject], previous: int) -> bytes:
        out = BytesIO()
        out.write(base)
        if not base.endswith(b"\n"):
            out.write(b"\n")
        offsets: dict[int, int] = {}
        for number in sorted(self.objects):
            offsets[number] = out.tell()
            out.write(f"{number} 0 obj\n".encode())
            self.objects[number].write_to_stream(out)
            out.write(b"\nendobj\n")
        xref = self.allocate()
        offsets[xref] = out.tell()
        numbers = sorted(offsets)
        index: list[int] = []
        for number in numbers:
            if index and index[-2] + index[-1] == number:
                index[-1] += 1
            else:
                index += [number, 1]
        data = b"".join(struct.pack(">BIH", 1, offsets[n], 0) for n in numbers)
        stream = StreamObject()
        stream.update(
            {
                NameObject("/Type"): NameObject("/XRef"),
                NameObject("/Size"): NumberObject(self.next),
                NameObject("/Index"): ArrayObject(NumberObject(i) for i in index),
                NameObject("/W"): ArrayObject(NumberObject(w) for w in (1, 4, 2)),
                NameObject("/Prev"): NumberObject(previous),
                **{NameObject(k): v for k, v in trailer.items()},
            }
        )
        stream.set_data(data)
        out.write(f"{xref} 0 obj\n".encode())
        stream.write_to_stream(out)
        out.write(f"\nendobj\nstartxref\n{offsets[xref]}\n%%EOF\n".encode())
        return out.getvalue()


class _Copier:
    """Copies objects of one pass PDF into the increment, mapping its pages to the thesis'."""

    def __init__(
        self,
        increment: _Increment,
        page_map: Mapping[int, IndirectObject],
        pages: set[int],
        objects: _Objects,
    ) -> None:
        self.increment = increment
        self.objects = objects
        self.page_map = page_map
        self.pages = pages  # every page object number of the pass PDF
        self.done: dict[int, IndirectObject] = {}

    def ref(self, ref: IndirectObject) -> IndirectObject:
        if ref.idnum in self.page_map:
            return self.page_map[ref.idnum]
        if ref.idnum in self.pages:
            raise SpliceError("a spliced page refers to a page that is not spliced")
        if ref.idnum in self.done:
            return self.done[ref.idnum]
        number = self.increment.allocate()
        new = IndirectObject(number, 0, None)
        self.done[ref.idnum] = new
        self.increment.put(number, self.copy(self.objects.resolve(ref)))
        return new

    def copy(self, obj: PdfObject | None) -> PdfObject:
        if obj is None:
            raise SpliceError("a reference to a missing object")
        if isinstance(obj, IndirectObject):
            return self.ref(obj)
        if isinstance(obj, StreamObject):
            stream = StreamObject()
            for key, value in obj.items():
                stream[NameObject(key)] = self.copy(value)
            stream._data = obj._data
            return stream
        if isinstance(obj, DictionaryObject):
            result = DictionaryObject()
            for key, value in obj.items():
                result[NameObject(key)] = self.copy(value)
            return result
        if isinstance(obj, ArrayObject):
            return ArrayObject(self.copy(value) for value in obj)
        return obj


_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


def _inherited(page: DictionaryObject, key: str) -> PdfObject | None:
    node: PdfObject | None = page
    for _ in range(64):
        if not isinstance(node, DictionaryObject):
            return None
        if key in node:
            value: PdfObject = node.raw_get(key)
            return value
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def _labels(reader: PdfReader, start: int, count: int) -> list[str]:
    return [index2label(reader, index) for index in range(start, start + count)]


def _explicit_page(dest: PdfObject | None) -> tuple[int, str] | None:
    """(page object number, fit type) of an explicit destination; None for a named one."""
    if isinstance(dest, DictionaryObject):
        dest = dest.get("/D")
    if isinstance(dest, IndirectObject):
        dest = dest.get_object()
    if isinstance(dest, ArrayObject) and len(dest) > 1 and isinstance(dest[0], IndirectObject):
        return dest[0].idnum, str(dest[1])
    return None


def _check_explicit_targets(root: DictionaryObject, replaced: set[int]) -> None:
    """Refuse when the outline or the open action points at a replaced page by position."""
    action = root.get("/OpenAction")
    target = _explicit_page(action.get_object() if action is not None else None)
    if target is not None and target[0] in replaced and target[1] not in ("/Fit", "/FitB"):
        raise SpliceError("/OpenAction points into a spliced page")
    outlines = root.get("/Outlines")
    stack = [outlines] if outlines is not None else []
    for _ in range(1_000_000):
        if not stack:
            break
        item = stack.pop().get_object()
        if not isinstance(item, DictionaryObject):
            continue
        stack.extend(item.raw_get(key) for key in ("/First", "/Next") if key in item)
        dest = item.get("/Dest")
        if dest is None:
            dest = item.get("/A")
        target = _explicit_page(dest.get_object() if dest is not None else None)
        if target is not None and target[0] in replaced:
            raise SpliceError("an outline entry points into a spliced page by position")


def splice_pdf(
    old_path: Path, swaps: Sequence[PageSwap], out_path: Path, index: DestIndex | None = None
) -> DestIndex:
    """Write ``old_path`` with the pages of ``swaps`` replaced, as an incremental update.

    ``index`` is the old PDF's destination index (computed when not given; it costs a parse
    of the whole file). Returns the index of the new PDF. Raises SpliceError when the result
    could differ from a full build in a way this function can see: the page labels or the
    set of named destinations on the swapped pages differ, or a spliced page points at a
    page outside its range.
    """
    base = old_path.read_bytes()
    # strict: pypdf would otherwise check every cross-reference entry of the thesis (a parse
    # of each object's header), and would repair what it finds wrong; a PDF that needs repair
    # is not spliced (SpliceError, then a full build).
    old = PdfReader(BytesIO(base), strict=True)
    old_pages = _page_refs(old)
    if any(ref.generation != 0 for ref in old_pages):
        raise SpliceError("page objects with a generation number")
    if index is None:
        index = destination_index(old)
    new_index = dict(index)
    size = old.trailer.get("/Size")
    if not isinstance(size, int):
        raise SpliceError("the trailer has no /Size")
    increment = _Increment(size)
    replaced: set[int] = set()
    leaves: dict[int, DictionaryObject] = {}
    for swap in swaps:
        new = PdfReader(swap.pdf, strict=True)
        objects = _Objects(new)
        new_pages = _page_refs(new, objects)
        if swap.new_start + swap.count > len(new_pages) or swap.old_start + swap.count > len(
            old_pages
        ):
            raise SpliceError(f"page range of {swap.label} outside the document")
        if _labels(old, swap.old_start, swap.count) != _labels(new, swap.new_start, swap.count):
            raise SpliceError(f"the page labels of {swap.label} changed")
        page_map = {
            new_pages[swap.new_start + i].idnum: old_pages[swap.old_start + i]
            for i in range(swap.count)
        }
        new_position = {new_pages[swap.new_start + i].idnum: i for i in range(swap.count)}
        replaced |= {old_pages[swap.old_start + i].idnum for i in range(swap.count)}
        copier = _Copier(increment, page_map, {ref.idnum for ref in new_pages}, objects)
        for i in range(swap.count):
            _copy_page(copier, new_pages[swap.new_start + i], old_pages[swap.old_start + i])
        new_dests = _named_destinations(new, objects)
        span = range(swap.old_start, swap.old_start + swap.count)
        before = {name for name, entry in index.items() if entry.page in span}
        after = {
            name
            for name, dest in new_dests.items()
            if dest.page in page_map and name not in swap.missing
        }
        if before != after:
            extra = sorted(after - before)[:3]
            lost = sorted(before - after)[:3]
            raise SpliceError(
                f"the named destinations on the pages of {swap.label} changed "
                f"(new: {', '.join(extra) or '-'}; gone: {', '.join(lost) or '-'})"
            )
        for name in sorted(before):
            entry = index[name]
            source = new_dests[name]
            value = copier.copy(objects.resolve(source.value))
            if entry.obj:
                increment.put(entry.obj, value)
            elif entry.leaf:
                leaf = leaves.get(entry.leaf)
                if leaf is None:
                    original = _dictionary(IndirectObject(entry.leaf, 0, old), "a name tree node")
                    leaf = DictionaryObject(original)
                    leaf[NameObject("/Names")] = ArrayObject(original.raw_get("/Names"))
                    leaves[entry.leaf] = leaf
                    increment.put(entry.leaf, leaf)
                names = leaf.raw_get("/Names")
                names[entry.position] = value
            else:
                raise SpliceError("a named destination outside the name tree")
            moved_to = new_position.get(source.page if source.page is not None else -1, -1)
            new_index[name] = DestEntry(
                swap.old_start + moved_to, entry.obj, entry.leaf, entry.position
            )
    _check_explicit_targets(_dictionary(old.trailer.raw_get("/Root"), "the catalog"), replaced)
    trailer = {
        key: old.trailer.raw_get(key) for key in ("/Root", "/Info", "/ID") if key in old.trailer
    }
    atomic_write_bytes(out_path, increment.render(base, trailer, old._startxref))
    return new_index


def _copy_page(copier: _Copier, source_ref: IndirectObject, target: IndirectObject) -> None:
    """Write the pass page ``source_ref`` over the thesis page ``target`` (same number)."""
    source = copier.objects.resolve(source_ref)
    target_page = target.get_object()
    if (
        not isinstance(source, DictionaryObject)
        or not isinstance(target_page, DictionaryObject)
        or source.get("/Type") != "/Page"
        or target_page.get("/Type") != "/Page"
    ):
        raise SpliceError("a page in a spliced range is not a /Page")
    page = DictionaryObject()
    for key, value in source.items():
        if key != "/Parent":
            page[NameObject(key)] = copier.copy(value)
    for key in _INHERITED:
        if key in page:
            continue
        value = _inherited(source, key)
        if value is not None:
            page[NameObject(key)] = copier.copy(value)
        elif _inherited(target_page, key) is not None:
            raise SpliceError(f"the thesis' pages inherit {key}")
    page[NameObject("/Parent")] = target_page.raw_get("/Parent")
    copier.increment.put(target.idnum, page)


def compact_pdf(path: Path, out_path: Path) -> None:
    """Rewrite a PDF with only its reachable objects (drops what splices superseded)."""
    writer = PdfWriter(clone_from=PdfReader(path))
    buffer = BytesIO()
    writer.write(buffer)
    atomic_write_bytes(out_path, buffer.getvalue())


def page_count(path: Path) -> int:
    """How many pages a PDF has."""
    return len(_page_refs(PdfReader(path)))


def save_destination_index(pdf: Path, index_path: Path, pdf_sha256: str) -> None:
    """Compute the destination index of ``pdf`` (a whole parse) and save it."""
    write_destinations(index_path, destination_index(PdfReader(pdf)), pdf_sha256)
