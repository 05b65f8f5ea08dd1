"""The splice's PDF reading, on a real pdflatex PDF (object streams, hyperref destinations)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject

from chapterwise.splice import _named_destinations, _Objects, _page_refs

DOCUMENT = r"""\documentclass{report}
\usepackage{hyperref}
\begin{document}
\tableofcontents
\chapter{One}\label{ch:one}
\section{A}\label{sec:a} See \ref{sec:b} on page \pageref{sec:b}.
\begin{equation}x = 1\label{eq:x}\end{equation}
\chapter{Two}\label{ch:two}
\section{B}\label{sec:b} Back to \ref{sec:a} and (\ref{eq:x}).
\end{document}
"""


def plain(obj: PdfObject | None) -> object:
    """An object as nested Python values, references as (number, generation)."""
    if isinstance(obj, IndirectObject):
        return ("ref", obj.idnum, obj.generation)
    if isinstance(obj, DictionaryObject):
        return {str(key): plain(value) for key, value in obj.items()}
    if isinstance(obj, ArrayObject):
        return [plain(value) for value in obj]
    return (type(obj).__name__, repr(obj))


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("splice")
    (directory / "doc.tex").write_text(DOCUMENT)
    for _ in range(2):  # references resolved on the second run
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
            cwd=directory,
            check=True,
            capture_output=True,
        )
    return directory / "doc.pdf"


def test_the_pdf_has_object_streams(pdf: Path) -> None:
    assert PdfReader(pdf).xref_objStm  # what the fast path is for: pdfTeX's default


def test_each_object_parsed_alone_equals_pypdfs(pdf: Path) -> None:
    ours = _Objects(PdfReader(pdf))
    theirs = PdfReader(pdf)
    numbers = sorted(theirs.xref_objStm)
    for number in numbers:
        mine = ours.resolve(IndirectObject(number, 0, ours.reader))
        assert plain(mine) == plain(theirs.get_object(number)), number
    for number in sorted(n for n in theirs.xref.get(0, {}) if n not in theirs.xref_objStm)[:20]:
        mine = ours.resolve(IndirectObject(number, 0, ours.reader))  # left to pypdf
        assert plain(mine) == plain(theirs.get_object(number))


def test_destinations_read_alone_point_at_the_same_pages(pdf: Path) -> None:
    fast_reader, slow_reader = PdfReader(pdf), PdfReader(pdf)
    fast = _named_destinations(fast_reader, _Objects(fast_reader))
    slow = _named_destinations(slow_reader)
    pages = {ref.idnum for ref in _page_refs(slow_reader)}
    assert {"chapter.1", "section.1.1", "equation.1.1.1"} <= set(slow)
    assert {name: d.page for name, d in fast.items()} == {n: d.page for n, d in slow.items()}
    assert all(d.page in pages for d in slow.values() if d.page is not None)


def test_a_damaged_stream_table_falls_back_to_pypdf(pdf: Path) -> None:
    reader = PdfReader(pdf)
    objects = _Objects(reader)
    number = min(reader.xref_objStm)
    stream = reader.xref_objStm[number][0]
    objects._streams[int(stream)] = None  # as if its table could not be read
    assert objects.resolve(IndirectObject(number, 0, reader)) == PdfReader(pdf).get_object(number)
