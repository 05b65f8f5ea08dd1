"""A differential oracle: would a reader notice any difference between two PDFs of a thesis?

Compares what a reader sees and uses: the page count, the ``pdftotext -layout`` text of every
page, a low-resolution raster of every page, the page labels, the outline (title, level and
target page), the named destinations (page and position), the link annotations (rectangle and
target) and the open action. Object numbers, fonts' subset tags and the file layout are not
compared: they differ between two correct builds.

``monolithic_build`` typesets a copy of a thesis' sources from scratch with plain latexmk (no
chapterwise hooks), which is what the incremental result must match.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

Target = tuple[Any, ...]


@dataclass(frozen=True)
class PdfFacts:
    pages: int
    texts: tuple[str, ...]
    rasters: tuple[str, ...]
    labels: tuple[str, ...]
    outline: tuple[tuple[int, str, Target], ...]
    destinations: dict[str, Target]
    links: tuple[tuple[tuple[tuple[float, ...], Target], ...], ...]
    open_action: Target | None


def _round(values: Any) -> tuple[float, ...]:
    return tuple(round(float(v), 2) for v in values)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


class _Facts:
    def __init__(self, reader: PdfReader) -> None:
        self.reader = reader
        self.page_index = {
            page.indirect_reference.idnum: number for number, page in enumerate(reader.pages)
        }
        self.names = self._names()

    def _names(self) -> dict[str, Any]:
        root = _resolve(self.reader.trailer["/Root"])
        names = _resolve(root.get("/Names"))
        tree = _resolve(names.get("/Dests")) if names is not None else None
        found: dict[str, Any] = {}
        stack = [tree] if tree is not None else []
        while stack:
            node = _resolve(stack.pop())
            stack.extend(node.get("/Kids", ()))
            pairs = _resolve(node.get("/Names"))
            if pairs is not None:
                for index in range(0, len(pairs) - 1, 2):
                    found[str(pairs[index])] = _resolve(pairs[index + 1])
        return found

    def explicit(self, dest: Any) -> Target:
        dest = _resolve(dest)
        if isinstance(dest, DictionaryObject):
            dest = _resolve(dest.get("/D"))
        if isinstance(dest, ArrayObject) and dest:
            page = dest[0]
            index = (
                self.page_index.get(page.idnum) if isinstance(page, IndirectObject) else int(page)
            )
            rest = tuple(
                round(float(v), 2) if isinstance(v, (int, float)) else str(v) for v in dest[1:]
            )
            return ("page", index, rest)
        return ("unknown", str(dest))

    def target(self, dest: Any) -> Target:
        """A destination (name, string or array) as (page index, view)."""
        dest = _resolve(dest)
        if isinstance(dest, str):
            if dest not in self.names:
                return ("missing", dest)
            return self.explicit(self.names[dest])
        return self.explicit(dest)

    def action(self, action: Any) -> Target:
        action = _resolve(action)
        kind = str(action.get("/S"))
        if kind == "/GoTo":
            return self.target(action.get("/D"))
        if kind == "/URI":
            return ("uri", str(action.get("/URI")))
        return ("action", kind)


def pdf_text(path: Path) -> str:
    """The text of every page (``pdftotext -layout``), pages separated by form feeds."""
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pdftotext(path: Path) -> tuple[str, ...]:
    pages = pdf_text(path).split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return tuple(pages)


def _rasters(path: Path, dpi: int) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", str(path), str(Path(folder) / "p")],
            check=True,
            capture_output=True,
        )
        files = sorted(Path(folder).iterdir(), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        return tuple(hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files)


def _outline(facts: _Facts) -> Iterator[tuple[int, str, Target]]:
    root = _resolve(facts.reader.trailer["/Root"])
    outlines = _resolve(root.get("/Outlines"))
    if outlines is None:
        return
    stack = [(_resolve(outlines.get("/First")), 0)] if "/First" in outlines else []
    while stack:
        item, level = stack.pop()
        if item is None:
            continue
        if "/Next" in item:
            stack.append((_resolve(item["/Next"]), level))
        if "/First" in item:
            stack.append((_resolve(item["/First"]), level + 1))
        if "/Dest" in item:
            target = facts.target(item["/Dest"])
        elif "/A" in item:
            target = facts.action(item["/A"])
        else:
            target = ("none",)
        yield level, str(item.get("/Title")), target


def pdf_facts(path: Path, *, raster_dpi: int | None = 20) -> PdfFacts:
    reader = PdfReader(path)
    facts = _Facts(reader)
    links = []
    for page in reader.pages:
        found = []
        for annotation in page.get("/Annots", ()) or ():
            annotation = _resolve(annotation)
            if annotation.get("/Subtype") != "/Link":
                continue
            if "/Dest" in annotation:
                target = facts.target(annotation["/Dest"])
            elif "/A" in annotation:
                target = facts.action(annotation["/A"])
            else:
                target = ("none",)
            found.append((_round(annotation["/Rect"]), target))
        links.append(tuple(sorted(found, key=repr)))
    root = _resolve(reader.trailer["/Root"])
    open_action = root.get("/OpenAction")
    return PdfFacts(
        pages=len(reader.pages),
        texts=_pdftotext(path),
        rasters=_rasters(path, raster_dpi) if raster_dpi else (),
        labels=tuple(reader.page_labels),
        outline=tuple(_outline(facts)),
        destinations={name: facts.explicit(value) for name, value in facts.names.items()},
        links=tuple(links),
        open_action=(
            facts.action(open_action)
            if isinstance(_resolve(open_action), DictionaryObject)
            else facts.target(open_action)
            if open_action is not None
            else None
        ),
    )


def differences(expected: Path, actual: Path, *, raster_dpi: int | None = 20) -> list[str]:
    """What a reader could notice between two PDFs (empty when none)."""
    a = pdf_facts(expected, raster_dpi=raster_dpi)
    b = pdf_facts(actual, raster_dpi=raster_dpi)
    found: list[str] = []
    if a.pages != b.pages:
        found.append(f"page count {a.pages} != {b.pages}")
    for number, (x, y) in enumerate(zip(a.texts, b.texts, strict=False), start=1):
        if x != y:
            found.append(f"text of page {number} differs")
    for number, (x, y) in enumerate(zip(a.rasters, b.rasters, strict=False), start=1):
        if x != y:
            found.append(f"raster of page {number} differs")
    if a.labels != b.labels:
        found.append("page labels differ")
    if a.outline != b.outline:
        found.append(f"outline differs: {set(a.outline) ^ set(b.outline)}")
    if a.destinations != b.destinations:
        keys = sorted(
            k
            for k in a.destinations.keys() | b.destinations.keys()
            if a.destinations.get(k) != b.destinations.get(k)
        )
        found.append(f"named destinations differ: {keys[:8]}")
    for number, (x, y) in enumerate(zip(a.links, b.links, strict=False), start=1):
        if x != y:
            found.append(f"links of page {number} differ: {set(x) ^ set(y)}")
    if a.open_action != b.open_action:
        found.append(f"open action {a.open_action} != {b.open_action}")
    return found


SOURCES = ("thesis.tex", "chapters", "bib", "figures", "tables", "config.yaml")


def monolithic_build(root: Path, into: Path, *, source_date_epoch: int = 1704067200) -> Path:
    """A fresh latexmk build of ``root``'s sources in ``into`` (no chapterwise involved)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for name in SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name)
        elif source.is_file():
            shutil.copy2(source, into / name)
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env.pop("FORCE_SOURCE_DATE", None)
    env.pop("TEXINPUTS", None)
    main = "thesis.tex"
    (into / "out" / "chapters").mkdir(parents=True)
    subprocess.run(
        [
            "latexmk",
            "-pdf",
            "-silent",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-synctex=1",
            "-outdir=out",
            main,
        ],
        cwd=into,
        env=env,
        check=True,
        capture_output=True,
    )
    return into / "out" / "thesis.pdf"


# SyncTeX: what an editor gets when the reader clicks a page (``synctex edit``), asked of the
# SyncTeX command-line tool, the library that viewers link.
BUILD_PRODUCTS = (".aux", ".toc", ".lof", ".lot", ".bbl", ".out")
GRID = tuple((x, y) for x in (90, 200, 320, 450) for y in (80, 200, 330, 460, 590, 720))


def _synctex_edit(pdf: Path, page: int, x: int, y: int) -> tuple[str, int] | None:
    result = subprocess.run(
        ["synctex", "edit", "-o", f"{page}:{x}:{y}:{pdf}"],
        capture_output=True,
        text=True,
        check=False,
    )
    fields = dict(
        line.split(":", 1)
        for line in result.stdout.splitlines()
        if line.startswith(("Input:", "Line:"))
    )
    if "Input" not in fields:
        return None
    source = Path(os.path.normpath(fields["Input"]))
    return source.as_posix(), int(fields["Line"])


def _project_name(source: Path, root: Path) -> str:
    """``source`` as a path in ``root``: the longest tail of it that names a file there (the
    SyncTeX file holds absolute paths, and a test's thesis may have been built elsewhere)."""
    if source.suffix in BUILD_PRODUCTS:  # TeX's own files: job name and directory differ
        return f"<build>{source.suffix}"
    parts = source.parts
    for start in range(1, len(parts)):
        tail = Path(*parts[start:])
        if (root / tail).is_file():
            return tail.as_posix()
    return source.as_posix()


def synctex_answers(pdf: Path, root: Path, pages: int) -> dict[tuple[int, int, int], Any]:
    """``synctex edit`` at a grid of points on every page; sources relative to ``root``."""
    base = Path(os.path.normpath(root.resolve()))
    answers: dict[tuple[int, int, int], Any] = {}
    for page in range(1, pages + 1):
        for x, y in GRID:
            found = _synctex_edit(pdf, page, x, y)
            if found is not None:
                source = Path(found[0])
                found = (_project_name(source, base), found[1])
            answers[(page, x, y)] = found
    return answers


def synctex_differences(
    expected: Path, expected_root: Path, actual: Path, actual_root: Path
) -> list[str]:
    """Points where a click in ``actual`` leads to another source line than in ``expected``."""
    for pdf in (expected, actual):
        if not pdf.with_name(pdf.stem + ".synctex.gz").is_file():
            return [f"no SyncTeX file beside {pdf.name}"]
    pages = len(PdfReader(expected).pages)
    a = synctex_answers(expected, expected_root, pages)
    b = synctex_answers(actual, actual_root, pages)
    if not any(a.values()):
        return ["the reference's SyncTeX file answers nothing"]
    return [f"page {k[0]} at ({k[1]}, {k[2]}): {a[k]} != {b.get(k)}" for k in a if a[k] != b.get(k)]
