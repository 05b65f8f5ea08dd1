"""Final-PDF checks on real PDFs: pdfLaTeX output, and small PDFs written with pypdf."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
)

from chapterwise.diagnostics import Diagnostic, Severity
from chapterwise.pdfcheck import FontUse, check_pdf, font_uses

PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[pdftitle={A Title},pdfauthor={A. Author}]{hyperref}
\begin{document}
"""


def pdflatex(tmp_path: Path, body: str) -> Path:
    source = tmp_path / "doc.tex"
    source.write_text(PREAMBLE + body + "\n\\end{document}\n")
    for _ in range(2):
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", "doc.tex"],
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )
    return tmp_path / "doc.pdf"


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics if d.severity is not Severity.NOTE]


def helvetica_pdf(path: Path, text: str, *, in_form: bool = False) -> Path:
    """One page showing ``text`` in Helvetica, whose program is not embedded."""
    writer = PdfWriter()
    page = writer.add_blank_page(300, 100)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    fonts = DictionaryObject({NameObject("/F1"): font})
    drawing = f"BT /F1 12 Tf 10 40 Td ({text}) Tj ET".encode()
    if in_form:
        form = DecodedStreamObject()
        form.set_data(drawing)
        form.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): ArrayObject([FloatObject(v) for v in (0, 0, 300, 100)]),
                NameObject("/Resources"): DictionaryObject({NameObject("/Font"): fonts}),
            }
        )
        resources = DictionaryObject(
            {
                NameObject("/XObject"): DictionaryObject(
                    {NameObject("/Fig"): writer._add_object(form)}
                )
            }
        )
        drawing = b"q /Fig Do Q"
    else:
        resources = DictionaryObject({NameObject("/Font"): fonts})
    content = DecodedStreamObject()
    content.set_data(drawing)
    page[NameObject("/Resources")] = resources
    page[NameObject("/Contents")] = writer._add_object(content)
    writer.add_metadata({"/Title": "A Title", "/Author": "A. Author"})
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_a_clean_latex_pdf_passes_and_reports_its_page_count(tmp_path: Path) -> None:
    pdf = pdflatex(tmp_path, "\\section{One}\\label{one}See Section~\\ref{one}.\n\\newpage Two.")
    found = check_pdf(pdf, shown="doc.pdf", title="A Title", author="A. Author")
    assert codes(found) == []
    notes = [d for d in found if d.code == "page-count"]
    assert [n.message for n in notes] == ["2 pages"]
    assert all(font.embedded for font in font_uses_of(pdf))


def font_uses_of(pdf: Path) -> list[FontUse]:
    return font_uses(PdfReader(pdf))


def test_an_undefined_reference_is_found_on_its_page(tmp_path: Path) -> None:
    pdf = pdflatex(tmp_path, "Intro.\\newpage See Section~\\ref{nowhere}.")
    found = [d for d in check_pdf(pdf, shown="doc.pdf") if d.code == "unresolved-reference"]
    assert len(found) == 1
    assert found[0].severity is Severity.ERROR
    assert found[0].message == "page 2 prints ??"
    assert found[0].path == "doc.pdf"


def test_an_undefined_numeric_citation_is_found(tmp_path: Path) -> None:
    pdf = helvetica_pdf(tmp_path / "cite.pdf", "as shown in [?].")
    found = check_pdf(pdf, shown="cite.pdf", title="A Title", author="A. Author")
    assert "unresolved-reference" in codes(found)
    assert any("[?]" in d.message for d in found)


def test_a_font_that_is_not_embedded_is_an_error(tmp_path: Path) -> None:
    pdf = helvetica_pdf(tmp_path / "font.pdf", "Plain text.")
    found = check_pdf(pdf, shown="font.pdf", title="A Title", author="A. Author")
    assert codes(found) == ["font-not-embedded"]
    assert "'Helvetica' (Type1) is not embedded (first used on page 1)" in found[0].message


def test_fonts_inside_figures_are_checked_too(tmp_path: Path) -> None:
    pdf = helvetica_pdf(tmp_path / "figure.pdf", "Axis label", in_form=True)
    found = check_pdf(pdf, shown="figure.pdf", title="A Title", author="A. Author")
    assert codes(found) == ["font-not-embedded"]


def test_metadata_must_match_the_config(tmp_path: Path) -> None:
    pdf = pdflatex(tmp_path, "Text.")
    found = check_pdf(pdf, shown="doc.pdf", title="Another Title", author="A. Author")
    assert codes(found) == ["pdf-metadata"]
    assert "title is 'A Title', config.yaml says 'Another Title'" in found[0].message


def test_missing_metadata_without_a_configured_value_is_a_warning(tmp_path: Path) -> None:
    source = tmp_path / "bare.tex"
    source.write_text("\\documentclass{article}\\begin{document}Text.\\end{document}\n")
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "bare.tex"], cwd=tmp_path, capture_output=True
    )
    found = check_pdf(tmp_path / "bare.pdf", shown="bare.pdf")
    metadata = [d for d in found if d.code == "pdf-metadata"]
    assert {d.severity for d in metadata} == {Severity.WARNING}
    assert {d.message for d in metadata} == {"the PDF has no title", "the PDF has no author"}


@pytest.mark.parametrize("content", [b"", b"%PDF-1.5\nnot really", b"\x00" * 64])
def test_an_unreadable_pdf_is_one_error(tmp_path: Path, content: bytes) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(content)
    found = check_pdf(broken, shown="broken.pdf")
    assert codes(found) == ["bad-pdf"]


def test_a_missing_pdf_is_one_error(tmp_path: Path) -> None:
    assert codes(check_pdf(tmp_path / "absent.pdf", shown="absent.pdf")) == ["bad-pdf"]
