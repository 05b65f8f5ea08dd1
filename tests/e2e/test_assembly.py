"""Incremental thesis.pdf through real Snakemake: a chapter edit is spliced, and is right."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.conftest import build, planned_jobs, snakemake
from tests.pdforacle import differences, monolithic_build, pdf_text, synctex_differences

SPLICED = re.compile(
    r"^thesis\.pdf: note: spliced chapters/intro \(pages? [\d-]+\) in [\d.]+ s \[spliced\]$",
    re.MULTILINE,
)


def edit_word(mini: Path) -> None:
    intro = mini / "chapters" / "intro.tex"
    text = intro.read_text()
    assert "How fast does" in text
    intro.write_text(text.replace("How fast does", "How quickly does", 1))


def test_one_word_edit_is_spliced_and_matches_a_full_build(mini: Path, tmp_path: Path) -> None:
    edit_word(mini)
    assert planned_jobs(mini) == {
        ("compile_chapter", "build/chapters/intro.pdf"),
        ("compile_thesis", "build/thesis.pdf"),
        ("publish_thesis", "thesis.pdf"),
    }
    result = build(mini)
    assert SPLICED.search(result.stderr + result.stdout), result.stderr[-3000:]
    reference = monolithic_build(mini, tmp_path / "oracle")
    assert differences(reference, mini / "thesis.pdf") == []
    # Editors jump from the spliced pages to the right lines: SyncTeX was spliced too.
    assert (mini / "build" / "chapters" / "intro.synctex.gz").is_file()
    assert synctex_differences(reference, tmp_path / "oracle", mini / "thesis.pdf", mini) == []
    state = json.loads((mini / "build" / "thesis" / "chapterwise-state.json").read_text())
    assert state["origin"] == "splice"
    assert planned_jobs(mini) == set(), "the splice leaves nothing to do"


def test_config_forces_the_monolithic_build(mini: Path) -> None:
    edit_word(mini)
    result = snakemake(mini, "thesis.pdf", "--config", "assembly=full")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "thesis.pdf: note: full build: assembly=full" in result.stderr + result.stdout


def test_a_preamble_edit_takes_the_full_build(mini: Path) -> None:
    main = mini / "thesis.tex"
    main.write_text(main.read_text().replace(r"\date{}", r"\date{Spring}", 1))
    result = build(mini)
    output = result.stderr + result.stdout
    assert "thesis.pdf: note: full build: thesis.tex changed" in output, output[-3000:]


def test_a_macro_from_an_earlier_chapter_builds_previews_and_splices(
    fresh_mini: Path, tmp_path: Path
) -> None:
    """latexmk builds a thesis whose later chapter uses an earlier chapter's \\newcommand;
    so does chapterwise: the later chapter's job typesets the earlier one with it."""
    intro = fresh_mini / "chapters" / "intro.tex"
    intro.write_text("\\newcommand{\\culture}{the culture}\n" + intro.read_text())
    results = fresh_mini / "chapters" / "results.tex"
    results.write_text(results.read_text() + "\nWe grow \\culture{} again.\n")
    build(fresh_mini)
    assert "We grow the culture again." in pdf_text(fresh_mini / "thesis.pdf")
    assert "We grow the culture again." in pdf_text(fresh_mini / "build/chapters/results.pdf")
    results.write_text(results.read_text().replace("again.", "once more."))
    output = build(fresh_mini)
    assert re.search(r"thesis\.pdf: note: spliced chapters/results", output.stderr), output.stderr
    reference = monolithic_build(fresh_mini, tmp_path / "oracle")
    assert differences(reference, fresh_mini / "thesis.pdf") == []
    # The definition changes: the preview that uses it is rebuilt, the thesis typeset whole.
    intro.write_text(intro.read_text().replace("{the culture}", "{the colony}"))
    assert ("compile_chapter", "build/chapters/results.pdf") in planned_jobs(fresh_mini)
    output = build(fresh_mini)
    assert "uses \\culture, defined in chapters/intro.tex, which changed" in output.stderr
    assert "We grow the colony once more." in pdf_text(fresh_mini / "thesis.pdf")
