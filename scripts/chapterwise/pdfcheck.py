"""Checks of a finished PDF (pypdf): unresolved marks, font embedding, metadata, page count.

A thesis can compile without errors and still print ``??`` for a reference or ``[?]`` for a
citation, carry a font that is not embedded (print shops and repositories reject it), or
leave the PDF's title and author empty. These are the last checks before submission.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject

from chapterwise.diagnostics import Diagnostic, Severity, error, warning

# pdfTeX prints an undefined \ref as "??" and biblatex's numeric styles an undefined
# citation as "[?]"; neither appears in ordinary prose.
_UNRESOLVED = re.compile(r"\?\?|\[\?\]")
_EMBEDDED_KEYS = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True, slots=True)
class FontUse:
    """A font the PDF uses and whether its program is embedded."""

    name: str
    subtype: str
    embedded: bool
    first_page: int  # 1-based physical page


def _resolve(obj: PdfObject | None) -> PdfObject | None:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _font_embedded(font: DictionaryObject) -> bool:
    subtype = str(font.get("/Subtype", ""))
    if subtype == "/Type3":
        return True  # glyphs are content streams inside the PDF
    if subtype == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        if not isinstance(descendants, ArrayObject) or not descendants:
            return False
        child = _resolve(descendants[0])
        return isinstance(child, DictionaryObject) and _font_embedded(child)
    descriptor = _resolve(font.get("/FontDescriptor"))
    if not isinstance(descriptor, DictionaryObject):
        return False
    return any(key in descriptor for key in _EMBEDDED_KEYS)


def _fonts_in(resources: PdfObject | None, seen: set[int]) -> Iterator[DictionaryObject]:
    """Fonts of a resource dictionary and, recursively, of its form XObjects (figures)."""
    resources = _resolve(resources)
    if not isinstance(resources, DictionaryObject) or id(resources) in seen:
        return
    seen.add(id(resources))
    fonts = _resolve(resources.get("/Font"))
    if isinstance(fonts, DictionaryObject):
        for value in fonts.values():
            font = _resolve(value)
            if isinstance(font, DictionaryObject):
                yield font
    xobjects = _resolve(resources.get("/XObject"))
    if isinstance(xobjects, DictionaryObject):
        for value in xobjects.values():
            xobject = _resolve(value)
            if isinstance(xobject, DictionaryObject) and xobject.get("/Subtype") == "/Form":
                yield from _fonts_in(xobject.get("/Resources"), seen)


def font_uses(reader: PdfReader) -> list[FontUse]:
    """Every distinct font (by base name and subtype), with the first page that uses it."""
    found: dict[tuple[str, str], FontUse] = {}
    for number, page in enumerate(reader.pages, start=1):
        for font in _fonts_in(page.get("/Resources"), set()):
            name = str(font.get("/BaseFont", font.get("/Name", "(unnamed)"))).lstrip("/")
            subtype = str(font.get("/Subtype", "")).lstrip("/")
            key = (name, subtype)
            if key not in found:
                found[key] = FontUse(name, subtype, _font_embedded(font), number)
    return list(found.values())


def _page_name(reader: PdfReader, index: int) -> str:
    try:
        label = reader.page_labels[index]
    except (IndexError, KeyError, ValueError, PdfReadError):
        label = str(index + 1)
    physical = index + 1
    return f"page {physical}" if label == str(physical) else f"page {physical} ('{label}')"


def unresolved_marks(reader: PdfReader, shown: str) -> list[Diagnostic]:
    """One error per page whose text still shows ``??`` or ``[?]``."""
    found = []
    for index, page in enumerate(reader.pages):
        text = page.extract_text() or ""
        marks = sorted(set(_UNRESOLVED.findall(text)))
        if marks:
            found.append(
                error(
                    f"{_page_name(reader, index)} prints {' and '.join(marks)}",
                    "unresolved-reference",
                    shown,
                    hint="an undefined \\ref or \\cite; the thesis build's warnings name its line",
                )
            )
    return found


def check_pdf(path: Path, *, shown: str, title: str = "", author: str = "") -> list[Diagnostic]:
    """All checks of one PDF; ``shown`` is the path printed in diagnostics."""
    try:
        reader = PdfReader(path)
        pages = len(reader.pages)
    except (OSError, PdfReadError, ValueError) as exc:
        return [error(f"cannot read the PDF: {exc}", "bad-pdf", shown, hint="rebuild it")]
    found = unresolved_marks(reader, shown)
    for font in font_uses(reader):
        if not font.embedded:
            found.append(
                error(
                    f"font '{font.name}' ({font.subtype}) is not embedded "
                    f"(first used on {_page_name(reader, font.first_page - 1)})",
                    "font-not-embedded",
                    shown,
                    hint="use embedded fonts (e.g. lmodern, or figures saved with fonttype 42)",
                )
            )
    metadata = reader.metadata
    for key, expected in (("title", title), ("author", author)):
        actual = str(getattr(metadata, key, None) or "") if metadata is not None else ""
        if not expected:
            if not actual:
                found.append(
                    warning(
                        f"the PDF has no {key}",
                        "pdf-metadata",
                        shown,
                        hint=f"set hyperref's pdf{key} and '{key}:' in config.yaml",
                    )
                )
        elif actual != expected:
            found.append(
                error(
                    f"the PDF's {key} is '{actual}', config.yaml says '{expected}'",
                    "pdf-metadata",
                    shown,
                    hint=f"set \\hypersetup{{pdf{key}={{{expected}}}}} in the preamble",
                )
            )
    found.append(Diagnostic(Severity.NOTE, f"{pages} pages", "page-count", shown))
    return found
