"""SyncTeX files: parsing, rendering with correct anchors, splicing sheets, publishing."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise import synctex
from chapterwise.synctex import SheetSwap, SyncTexError, parse, publish_pdf, render, splice


def sheet(page: int, tag: int, line: int) -> str:
    return "\n".join(
        [
            f"{{{page}",
            f"[{tag},{line}:4736286,49353212:25034752,44616926,0",
            f"({tag},{line + 1}:4736286,4736286:0,0,0",
            f"x{tag},{line + 2}:100,200",
            f"k{tag},{line + 2}:300,200:-2000",
            f"g{tag},{line + 3}:400,200",
            f"${tag},{line + 3}:500,200",
            ")",
            "]",
            f"}}{page}",
        ]
    )


def synctex_text(inputs: dict[int, str], pages: list[tuple[int, int]]) -> str:
    """A file as pdfTeX writes one (anchors included, an Input line among the records)."""
    head = ["SyncTeX Version:1"]
    tags = sorted(inputs)
    head += [f"Input:{tag}:{inputs[tag]}" for tag in tags[:1]]
    head += ["Output:pdf", "Magnification:1000", "Unit:1", "X Offset:0", "Y Offset:0", "Content:"]
    body = ["!123"]
    for number, (tag, line) in enumerate(pages, start=1):
        body.append(sheet(number, tag, line))
        body.append("!45")
    body += [f"Input:{tag}:{inputs[tag]}" for tag in tags[1:]]
    body += ["Postamble:", "Count:42", "!9", "Post scriptum:"]
    return "\n".join(head + body) + "\n"


BASE = synctex_text(
    {1: "/t/thesis.tex", 2: "/t/./chapters/a.tex", 3: "/t/./chapters/b.tex"},
    [(1, 5), (2, 10), (2, 20), (3, 7)],
)
PASS = synctex_text({1: "/t/thesis.tex", 2: "/t/./chapters/b.tex"}, [(1, 5), (2, 8)])


def anchors_are_byte_offsets(text: str) -> bool:
    data = text.encode()
    previous = 0
    for match in re.finditer(rb"^!(\d+)$", data, re.MULTILINE):
        if int(match[1]) != match.start() - previous:
            return False
        previous = match.start()
    return True


def test_parse_reads_inputs_anywhere_sheets_and_count() -> None:
    doc = parse(BASE)
    assert doc.inputs == {1: "/t/thesis.tex", 2: "/t/./chapters/a.tex", 3: "/t/./chapters/b.tex"}
    assert sorted(doc.sheets) == [1, 2, 3, 4]
    assert doc.sheets[4][0] == "[3,7:4736286,49353212:25034752,44616926,0"
    assert doc.count == 42
    assert doc.header[0] == "SyncTeX Version:1" and "Output:pdf" in doc.header


def test_render_recomputes_anchors_and_reads_back_the_same() -> None:
    text = render(parse(BASE))
    assert anchors_are_byte_offsets(text)
    assert parse(text) == parse(BASE)
    assert text.splitlines()[1:4] == [
        "Input:1:/t/thesis.tex",
        "Input:2:/t/./chapters/a.tex",
        "Input:3:/t/./chapters/b.tex",
    ]


def test_splice_renumbers_the_pass_tags_and_drops_unused_inputs() -> None:
    base, source = parse(BASE), parse(PASS)
    spliced = splice(base, [SheetSwap(source, old_start=3, new_start=1, count=1)])
    # The pass's tag 2 (chapters/b.tex) becomes 3 + 2 = 5; tag 3 of the base is no longer used.
    assert spliced.sheets[4][0] == "[5,8:4736286,49353212:25034752,44616926,0"
    assert spliced.sheets[4][-2:] == (")", "]")
    assert spliced.sheets[1] == base.sheets[1]
    assert spliced.inputs == {
        1: "/t/thesis.tex",
        2: "/t/./chapters/a.tex",
        5: "/t/./chapters/b.tex",
    }
    assert spliced.count == base.count
    assert anchors_are_byte_offsets(render(spliced))


def test_two_swaps_from_one_pass_share_one_renumbering() -> None:
    base, source = parse(BASE), parse(PASS)
    spliced = splice(
        base,
        [SheetSwap(source, 0, 0, 1), SheetSwap(source, 3, 1, 1)],
    )
    assert spliced.sheets[1][0].startswith("[4,5:")  # the pass's tag 1, moved by 3
    assert spliced.sheets[4][0].startswith("[5,8:")
    assert set(spliced.inputs) == {2, 4, 5}


def test_splice_refuses_what_it_cannot_do() -> None:
    base, source = parse(BASE), parse(PASS)
    with pytest.raises(SyncTexError, match="no page 9"):
        splice(base, [SheetSwap(source, 8, 0, 1)])
    odd = parse(PASS.replace("x2,10:100,200", "f7:100,200"))
    with pytest.raises(SyncTexError, match="unexpected record"):
        splice(base, [SheetSwap(odd, 3, 1, 1)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a SyncTeX version 1 file"),
        ("SyncTeX Version:1\nInput:1:/a\n", "no Content: section"),
        ("SyncTeX Version:1\nContent:\n{1\n[1,2:0,0:0,0,0\n", "page 1 has no end"),
        ("SyncTeX Version:1\nContent:\n<1\n", "unexpected line '<1' between pages"),
        ("SyncTeX Version:1\nInput:x:/a\nContent:\n", "bad input line"),
    ],
)
def test_malformed_files_are_errors(text: str, message: str) -> None:
    with pytest.raises(SyncTexError, match=re.escape(message)):
        parse(text)


@given(st.text(alphabet="SyncTeX Version:1\nInputContent!{}[]()hx0123456789,:/", max_size=300))
def test_parse_only_ever_raises_synctex_errors(text: str) -> None:
    try:
        doc = parse(text)
    except SyncTexError:
        return
    assert parse(render(doc)) == doc


def test_files_round_trip_through_gzip_reproducibly(tmp_path: Path) -> None:
    target = tmp_path / "t.synctex.gz"
    synctex.write(target, parse(BASE))
    first = target.read_bytes()
    synctex.write(target, parse(BASE))
    assert target.read_bytes() == first, "no name or time in the gzip header"
    assert synctex.read(target) == parse(BASE)
    target.write_bytes(b"not gzip")
    with pytest.raises(SyncTexError, match=re.escape("t.synctex.gz")):
        synctex.read(target)


def test_publish_copies_the_synctex_first_and_removes_a_stale_one(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "thesis.pdf").write_bytes(b"%PDF-1.5 new")
    (build / "thesis.synctex.gz").write_bytes(gzip.compress(BASE.encode()))
    publish_pdf(build / "thesis.pdf", tmp_path / "thesis.pdf")
    assert (tmp_path / "thesis.pdf").read_bytes() == b"%PDF-1.5 new"
    assert synctex.read(tmp_path / "thesis.synctex.gz") == parse(BASE)
    (build / "thesis.synctex.gz").unlink()
    publish_pdf(build / "thesis.pdf", tmp_path / "thesis.pdf")
    assert not (tmp_path / "thesis.synctex.gz").exists(), "a stale SyncTeX file misleads"
    publish_pdf(tmp_path / "thesis.pdf", tmp_path / "thesis.pdf")  # same file: nothing to do
    assert (tmp_path / "thesis.pdf").read_bytes() == b"%PDF-1.5 new"
