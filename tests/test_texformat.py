"""The precompiled preamble: its key and staleness, its checks, and real passes that use it."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise.assemble import PASS_FILE, read_state, run_chapter_pass
from chapterwise.texformat import (
    FORMAT_DIR,
    FORMAT_NAME,
    FormatRecord,
    check_build_log,
    check_jobname,
    ensure_format,
    format_key,
    parse_record,
    read_record,
    reject_format,
    split_preamble,
    stale_reason,
    system_stamp,
)
from tests.pdforacle import differences
from tests.synthetic_thesis import write_thesis
from tests.test_assemble import _project, rebuild

# --------------------------------------------------------------------------------------------
# Pure parts


@pytest.mark.parametrize(
    ("text", "preamble"),
    [
        pytest.param(
            "\\documentclass{report}\n\\begin{document}\nx\n",
            "\\documentclass{report}\n",
            id="plain",
        ),
        pytest.param("\\usepackage{a}\n  \\begin {document}\n", "\\usepackage{a}\n", id="indented"),
        pytest.param(
            "% \\begin{document}\n\\x\n\\begin{document}\n",
            "% \\begin{document}\n\\x\n",
            id="commented_begin",
        ),
        pytest.param("\\usepackage{a}\\\\%\n\\begin{document}\n", None, id="comment_joins_lines"),
        pytest.param(
            "\\usepackage{a} % note\n\\begin{document}\n", None, id="comment_before_begin"
        ),
        pytest.param("\\x\\begin{document}\n", None, id="text_before_begin"),
        pytest.param("\\x\n\\endofdump\n\\begin{document}\n", None, id="own_endofdump"),
        pytest.param("\\begin{documentation}\n\\begin{document}\n", None, id="document_like"),
        pytest.param("\\documentclass{report}\n", None, id="no_document"),
    ],
)
def test_preamble_is_what_mylatexformat_skips(text: str, preamble: str | None) -> None:
    split = split_preamble(text)
    assert split.text == preamble
    assert (split.problem is None) == (preamble is not None)


@given(st.text(alphabet=st.sampled_from("\\%{}abegindocument\n ")))
def test_preamble_split_never_raises_and_is_a_prefix(text: str) -> None:
    split = split_preamble(text)
    assert split.text is None or text.startswith(split.text)


def test_key_covers_every_field() -> None:
    base = dict(engine="e", texinputs="t", hooks="h", date="d")
    key = format_key("p", **base)
    assert format_key("p", **base) == key
    assert format_key("q", **base) != key
    for name in base:
        assert format_key("p", **{**base, name: "other"}) != key, name


def test_stale_when_the_key_a_distribution_file_or_a_project_file_changes(tmp_path: Path) -> None:
    package = tmp_path / "dist.sty"
    package.write_text("a")
    (tmp_path / "local.sty").write_text("b")
    from chapterwise.latex import file_digest

    record = FormatRecord(
        "k",
        True,
        "",
        {str(package): system_stamp(str(package))},
        {"local.sty": str(file_digest(tmp_path / "local.sty"))},
    )
    assert stale_reason(record, "k", tmp_path) is None
    assert stale_reason(None, "k", tmp_path) == "no format yet"
    assert "preamble" in str(stale_reason(record, "other", tmp_path))
    assert "preamble" in str(stale_reason(replace(record, version=0), "k", tmp_path))
    (tmp_path / "local.sty").write_text("c")
    assert stale_reason(record, "k", tmp_path) == "local.sty changed"
    (tmp_path / "local.sty").write_text("b")
    package.write_text("longer")
    assert stale_reason(record, "k", tmp_path) == f"{package} changed"


def test_record_round_trips_and_garbage_is_no_record() -> None:
    from dataclasses import asdict

    record = FormatRecord("k", False, "why", {"/a": "1:2"}, {"b.tex": "d"})
    assert parse_record(json.dumps(asdict(record))) == record
    for text in ("", "[]", "{}", '{"key": 1}', "not json"):
        assert parse_record(text) is None


SOUND_LOG = "No pages of output.\nPDF statistics:\n 0 PDF objects out of 1000 (max. 8388607)\n"


def test_build_log_checks() -> None:
    assert check_build_log(SOUND_LOG) is None
    assert "page" in str(check_build_log(SOUND_LOG.replace("No pages of output.", "")))
    lost = SOUND_LOG.replace(" 0 PDF objects", " 1 PDF objects")
    assert "PDF objects" in str(check_build_log(lost))
    assert check_build_log("") is not None


def test_jobname_check_allows_the_builds_own_strings_only() -> None:
    own = b"mylatexformat.ltxjob-x" + b"build/format/t/job-x.log" + b"(preloaded format=job-x 2024)"
    assert check_jobname(own + b"blx@list@bibfiles@job-x__file", "job-x") is None
    assert check_jobname(own + b"mymacro@job-x", "job-x") is not None


# --------------------------------------------------------------------------------------------
# Real passes


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("format") / "thesis"
    write_thesis(root, chapters=3, sections=2, paragraphs=2, words=90)
    (root / "chapters" / "localdefs.sty").write_text("\\newcommand\\thesisword{lynx}\n")
    main = root / "thesis.tex"
    main.write_text(
        main.read_text().replace(
            "\\usepackage{cleveref}", "\\usepackage{cleveref}\n\\usepackage{chapters/localdefs}", 1
        )
    )
    chapter = root / "chapters" / "ch02.tex"
    chapter.write_text(chapter.read_text() + "\nThe \\thesisword\\ of Ünicode.\n")
    assert rebuild(root, []).kind == "full"
    return root


@pytest.fixture
def thesis(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "thesis"
    shutil.copytree(built, target, symlinks=True)
    return target


def run_pass(root: Path, name: str = "ch02") -> str:
    """One chapter pass through the real code path; returns its log."""
    log = root / "build" / "logs" / f"pass-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    (root / "build" / "chapters" / name / PASS_FILE).unlink(missing_ok=True)
    state = read_state(root)
    assert state is not None
    run_chapter_pass(_project(root), name, state, log_path=log)
    return log.read_text()


def used_format(log: str) -> bool:
    return f"-fmt={FORMAT_NAME}" in log


def page_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_pass_with_the_format_writes_what_a_plain_pass_writes(thesis: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(thesis, plain, symlinks=True)
    log = run_pass(thesis)
    assert used_format(log) and "making the precompiled preamble" in log
    ensure_format(plain, "thesis.tex", source_date_epoch=0, log_path=tmp_path / "x.log")
    reject_format(plain, "off for this test")
    plain_log = run_pass(plain)
    assert not used_format(plain_log) and "off for this test" in plain_log
    directory = Path("build/chapters/ch02")
    for name in ("chapters/ch02.aux", "ch02.aux", "ch02.out"):
        assert (thesis / directory / name).read_bytes() == (plain / directory / name).read_bytes()
    assert page_text(thesis / directory / "ch02.pdf") == page_text(plain / directory / "ch02.pdf")
    assert "lynx of Ünicode" in page_text(thesis / directory / "ch02.pdf")
    # The project package the preamble read is in the format, and counts as read by the pass.
    record = json.loads((thesis / directory / PASS_FILE).read_text())
    assert "chapters/localdefs.sty" in record["inputs"] and "thesis.tex" in record["inputs"]
    assert "making" not in run_pass(thesis), "the format is reused"


def test_preamble_or_package_edit_remakes_the_format(thesis: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "format.log"
    first = ensure_format(thesis, "thesis.tex", source_date_epoch=0, log_path=log_path)
    assert first.fmt is not None and first.reason == "made"
    again = ensure_format(thesis, "thesis.tex", source_date_epoch=0, log_path=log_path)
    assert again.reason == "current"
    key = read_record(thesis / FORMAT_DIR).key  # type: ignore[union-attr]
    main = thesis / "thesis.tex"
    main.write_text(
        main.read_text().replace("\\usepackage{amsmath}", "\\usepackage{amsmath,amssymb}")
    )
    assert (
        ensure_format(thesis, "thesis.tex", source_date_epoch=0, log_path=log_path).reason == "made"
    )
    assert read_record(thesis / FORMAT_DIR).key != key  # type: ignore[union-attr]
    (thesis / "chapters" / "localdefs.sty").write_text("\\newcommand\\thesisword{hare}\n")
    log_path.write_text("")
    assert (
        ensure_format(thesis, "thesis.tex", source_date_epoch=0, log_path=log_path).reason == "made"
    )
    assert "chapters/localdefs.sty changed" in log_path.read_text()
    # A body edit keeps the format.
    main.write_text(main.read_text().replace("\\end{document}", "Body.\n\\end{document}"))
    assert (
        ensure_format(thesis, "thesis.tex", source_date_epoch=0, log_path=log_path).reason
        == "current"
    )


def test_a_preamble_that_cannot_be_dumped_runs_plain(thesis: Path) -> None:
    main = thesis / "thesis.tex"
    logo = "\\newsavebox\\logo\\sbox\\logo{\\includegraphics[width=1cm]{example-image}}\n"
    text = main.read_text().replace(
        "\\begin{document}", f"\\usepackage{{graphicx}}\n{logo}\\begin{{document}}\\usebox\\logo", 1
    )
    main.write_text(text)
    log = run_pass(thesis)
    assert "no precompiled preamble: the preamble made PDF objects" in log
    assert not used_format(log)
    assert "lynx of Ünicode" in page_text(thesis / "build" / "chapters" / "ch02" / "ch02.pdf")
    assert not (thesis / FORMAT_DIR / f"{FORMAT_NAME}.fmt").exists()
    assert "making" not in run_pass(thesis), "a refused format is not remade until a change"


def test_a_format_that_fails_in_the_pass_falls_back_and_is_not_used_again(thesis: Path) -> None:
    run_pass(thesis)
    fmt = thesis / FORMAT_DIR / f"{FORMAT_NAME}.fmt"
    fmt.write_bytes(b"not a format")
    log = run_pass(thesis)
    assert "the pass with the precompiled preamble failed" in log
    assert (thesis / "build" / "chapters" / "ch02" / "ch02.pdf").is_file()
    record = read_record(thesis / FORMAT_DIR)
    assert record is not None and not record.usable
    assert not used_format(run_pass(thesis))


def test_a_word_edit_spliced_from_a_format_pass_matches_a_full_build(
    thesis: Path, tmp_path: Path
) -> None:
    from tests.pdforacle import monolithic_build

    chapter = thesis / "chapters" / "ch02.tex"
    chapter.write_text(chapter.read_text().replace("of Ünicode", "of Unicode", 1))
    outcome = rebuild(thesis, ["ch02"])
    assert outcome.kind == "splice", outcome.message
    assert used_format((thesis / "build" / "logs" / "ch02.log").read_text())
    reference = monolithic_build(thesis, tmp_path / "oracle")
    assert differences(reference, thesis / "build" / "thesis.pdf") == []
