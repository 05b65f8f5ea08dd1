"""SyncTeX files: parsing, rendering with correct anchors, splicing sheets, publishing."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise import synctex
from chapterwise.synctex import SheetSwap, SyncTexError, publish_pdf, reanchor, sheets, splice


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


def synctex_text(inputs: dict[int, str], pages: list[tuple[int, int]]) -> bytes:
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
    return reanchor(("\n".join(head + body) + "\n").encode())


BASE = synctex_text(
    {1: "/t/thesis.tex", 2: "/t/./chapters/a.tex", 3: "/t/./chapters/b.tex"},
    [(1, 5), (2, 10), (2, 20), (3, 7)],
)
PASS = synctex_text({1: "/t/thesis.tex", 2: "/t/./chapters/b.tex"}, [(1, 5), (2, 8)])


def anchors_are_byte_offsets(data: bytes) -> bool:
    previous = 0
    for match in re.finditer(rb"^!(\d+)$", data, re.MULTILINE):
        if int(match[1]) != match.start() - previous:
            return False
        previous = match.start()
    return True


def inputs(data: bytes) -> dict[int, str]:
    return {
        tag: line.decode().split(":", 2)[2].strip()
        for tag, line in synctex.input_lines(data).items()
    }


def test_sheets_and_inputs_are_read_wherever_they_stand() -> None:
    assert inputs(BASE) == {1: "/t/thesis.tex", 2: "/t/./chapters/a.tex", 3: "/t/./chapters/b.tex"}
    found = sheets(BASE)
    assert sorted(found) == [1, 2, 3, 4]
    assert found[4][0] == b"[3,7:4736286,49353212:25034752,44616926,0"
    assert found[4][-2:] == [b")", b"]"]


def test_anchors_are_distances_between_anchor_lines() -> None:
    assert anchors_are_byte_offsets(BASE)
    assert reanchor(BASE) == BASE
    moved = BASE.replace(b"x2,12:100,200", b"x2,12:100,200,longer")
    assert not anchors_are_byte_offsets(moved)
    assert anchors_are_byte_offsets(reanchor(moved))


def test_splice_moves_the_pass_tags_past_the_thesis_tags() -> None:
    spliced = splice(BASE, [SheetSwap(PASS, old_start=3, new_start=1, count=1)])
    # The pass's tag 2 (chapters/b.tex) becomes 3 + 2 = 5, declared before the sheet.
    assert sheets(spliced)[4][0] == b"[5,8:4736286,49353212:25034752,44616926,0"
    assert sheets(spliced)[4] == [
        re.sub(rb"^([\[(xkg$])2,", rb"\g<1>5,", line) for line in sheets(PASS)[2]
    ]
    assert {k: v for k, v in sheets(spliced).items() if k != 4} == {
        k: v for k, v in sheets(BASE).items() if k != 4
    }
    assert inputs(spliced) == {**inputs(BASE), 4: "/t/thesis.tex", 5: "/t/./chapters/b.tex"}
    assert anchors_are_byte_offsets(spliced)
    assert re.search(rb"\nPostamble:\nCount:42\n!\d+\nPost scriptum:\n$", spliced)


def test_two_swaps_from_one_pass_share_one_renumbering() -> None:
    spliced = splice(BASE, [SheetSwap(PASS, 0, 0, 1), SheetSwap(PASS, 3, 1, 1)])
    assert sheets(spliced)[1][0].startswith(b"[4,5:")  # the pass's tag 1, moved by 3
    assert sheets(spliced)[4][0].startswith(b"[5,8:")
    assert sorted(inputs(spliced)) == [1, 2, 3, 4, 5]
    assert anchors_are_byte_offsets(spliced)


def test_splice_refuses_what_it_cannot_do() -> None:
    with pytest.raises(SyncTexError, match="no page 9"):
        splice(BASE, [SheetSwap(PASS, 8, 0, 1)])
    with pytest.raises(SyncTexError, match="no page 5"):
        splice(BASE, [SheetSwap(PASS, 0, 4, 1)])
    odd = PASS.replace(b"x2,10:100,200", b"f7:100,200")
    with pytest.raises(SyncTexError, match="unexpected record"):
        splice(BASE, [SheetSwap(odd, 3, 1, 1)])
    with pytest.raises(SyncTexError, match="not a SyncTeX version 1 file"):
        splice(b"", [])
    with pytest.raises(SyncTexError, match="no Content: section"):
        splice(b"SyncTeX Version:1\nInput:1:/a\n", [])
    with pytest.raises(SyncTexError, match="page 1 has no end"):
        splice(BASE, [SheetSwap(PASS.replace(b"\n}1\n", b"\n"), 0, 0, 1)])
    with pytest.raises(SyncTexError, match="bad input line"):
        splice(BASE.replace(b"Input:2:", b"Input:x:"), [])


LINES = st.sampled_from(
    ["{1", "}1", "{2", "}2", "!3", "!0", "x1,2:3,4", "(2,1:0,0:0,0,0", ")", "]", "Input:1:/a", "?"]
)


@given(st.lists(LINES, max_size=40))
def test_splice_only_ever_raises_synctex_errors(lines: list[str]) -> None:
    source = ("SyncTeX Version:1\nContent:\n" + "\n".join(lines) + "\n").encode()
    try:
        spliced = splice(BASE, [SheetSwap(source, 0, 0, 1)])
    except SyncTexError:
        return
    assert anchors_are_byte_offsets(spliced)


def test_files_round_trip_through_gzip_reproducibly(tmp_path: Path) -> None:
    target = tmp_path / "t.synctex.gz"
    synctex.write(target, BASE)
    first = target.read_bytes()
    synctex.write(target, BASE)
    assert target.read_bytes() == first, "no name or time in the gzip header"
    assert synctex.read(target) == BASE
    target.write_bytes(b"not gzip")
    with pytest.raises(SyncTexError, match=re.escape("t.synctex.gz")):
        synctex.read(target)


def test_publish_copies_the_synctex_first_and_removes_a_stale_one(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "thesis.pdf").write_bytes(b"%PDF-1.5 new")
    (build / "thesis.synctex.gz").write_bytes(gzip.compress(BASE))
    publish_pdf(build / "thesis.pdf", tmp_path / "thesis.pdf")
    assert (tmp_path / "thesis.pdf").read_bytes() == b"%PDF-1.5 new"
    assert synctex.read(tmp_path / "thesis.synctex.gz") == BASE
    (build / "thesis.synctex.gz").unlink()
    publish_pdf(build / "thesis.pdf", tmp_path / "thesis.pdf")
    assert not (tmp_path / "thesis.synctex.gz").exists(), "a stale SyncTeX file misleads"
    publish_pdf(tmp_path / "thesis.pdf", tmp_path / "thesis.pdf")  # same file: nothing to do
    assert (tmp_path / "thesis.pdf").read_bytes() == b"%PDF-1.5 new"
