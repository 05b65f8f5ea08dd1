"""Incremental assembly of thesis.pdf: the parsers, and real LaTeX runs checked by an oracle.

The real runs use a small generated thesis (tests/synthetic_thesis.py: three chapters,
biblatex+biber, hyperref, cleveref, ToC/LoF/LoT, twoside/openright). Each edit is followed by
what the build does (a pass of every edited chapter, then the assembly), and the result is
compared with a fresh monolithic latexmk build of the same sources (tests/pdforacle.py).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chapterwise.assemble import (
    STATE_FILE,
    THESIS_DIR,
    Assembly,
    AuxEntry,
    assemble_thesis,
    bookmark_lines,
    brace_groups,
    build_state,
    decide,
    diff_chapter_aux,
    lists_printing_changes,
    parse_aux,
    parse_run_log,
    read_pass,
    read_state,
    run_chapter_pass,
    scan_references,
    source_digests,
    split_main_aux,
    unexpected_outputs,
    write_state,
)
from chapterwise.config import read_config
from chapterwise.diagnostics import ChapterwiseError
from chapterwise.project import load_project
from chapterwise.splice import compact_pdf
from tests.pdforacle import differences, monolithic_build, synctex_differences
from tests.synthetic_thesis import write_thesis

# --------------------------------------------------------------------------------------------
# Parsers


LOG = """\
This is pdfTeX
chapterwise:trackers;
chapterwise:excluded;chapters/ch01;10;4;4
chapterwise:begin;chapters/ch02;10;4;4
[11] [12]
chapterwise:end;chapters/ch02;14;7;6
chapterwise:excluded;chapters/ch03;14;10;6
pdfTeX warning (dest): name{section.3.1} has been referenced but does not exist, \
replaced by a fixed one
"""


def test_run_log_gives_page_ranges_counters_and_missing_destinations() -> None:
    run = parse_run_log(LOG)
    assert run.order == ("chapters/ch01", "chapters/ch02", "chapters/ch03")
    part = run.parts["chapters/ch02"]
    assert (part.before, part.after, part.page_count, part.pages()) == (10, 14, 4, "11-14")
    assert part.bookmarks == (4, 7) and part.anchors == (4, 6)
    assert set(run.parts) == {"chapters/ch02"}, "excluded chapters have no range"
    assert run.front == 10
    assert run.trackers == ()
    assert run.missing_destinations == {"section.3.1"}


@given(st.text())
def test_run_log_parser_never_raises(text: str) -> None:
    run = parse_run_log(text)
    assert all(part.include in run.order for part in run.parts.values())


AUX = r"""\relax
\providecommand\hyper@newdestlabel[2]{}
\@writefile{toc}{\contentsline {chapter}{\numberline {2}Two}{5}{chapter.2}\protected@file@percent }
\newlabel{sec:a}{{2.1}{5}{A}{section.2.1}{}}
\newlabel{sec:a@cref}{{[section][1][2]2.1}{[1][5][]5}}
\@setckpt{chapters/two}{
\setcounter{page}{8}
\setcounter{figure}{1}
}
"""


def test_aux_entries_span_lines_while_braces_are_open() -> None:
    entries = parse_aux(AUX)
    assert [e.command for e in entries] == [
        "relax",
        "providecommand",
        "@writefile",
        "newlabel",
        "newlabel",
        "@setckpt",
    ]
    assert entries[3].key == "sec:a"
    assert entries[5].text.count("\n") == 3
    assert brace_groups("{a}{b{c}}{d}") == ["a", "b{c}", "d"]


@given(st.text(alphabet=st.sampled_from("\\{}ab@ \n%")))
def test_aux_parser_never_raises_and_keeps_every_line(text: str) -> None:
    entries = parse_aux(text)
    assert "\n".join(e.text for e in entries) == "\n".join(text.splitlines())


def _changed(old: str, new: str) -> object:
    return diff_chapter_aux(parse_aux(old), parse_aux(new))


def test_aux_differences_are_classified() -> None:
    moved = AUX.replace("{2.1}{5}{A}", "{2.1}{6}{A}").replace("[1][5][]5", "[1][6][]6")
    changes = diff_chapter_aux(parse_aux(AUX), parse_aux(moved))
    assert changes.moved == (("sec:a", "6"),) and not changes.renumbered
    renumbered = AUX.replace("{2.1}{5}{A}", "{2.2}{5}{A}")
    assert diff_chapter_aux(parse_aux(AUX), parse_aux(renumbered)).renumbered == ("sec:a",)
    retitled = diff_chapter_aux(
        parse_aux(AUX), parse_aux(AUX.replace("{2.1}{5}{A}", "{2.1}{5}{B}"))
    )
    assert (retitled.retitled, retitled.renumbered) == (("sec:a",), ())
    added = AUX.replace(r"\@setckpt", "\\newlabel{new}{{1}{5}{}{x}{}}\n\\@setckpt")
    assert diff_chapter_aux(parse_aux(AUX), parse_aux(added)).new_labels == ("new",)
    toc = AUX.replace("Two}{5}", "Two}{6}")
    assert diff_chapter_aux(parse_aux(AUX), parse_aux(toc)).lists == ("toc",)
    figures = AUX.replace("{figure}{1}", "{figure}{2}")
    assert diff_chapter_aux(parse_aux(AUX), parse_aux(figures)).counters == ("figure",)
    assert diff_chapter_aux(parse_aux(AUX), parse_aux(AUX)) == type(changes)()


def test_main_aux_is_cut_at_the_chapter_markers() -> None:
    text = "\n".join(
        [
            r"\relax",
            r"\@input{chapters/one.aux}",
            r"\abx@aux@cite{0}{key}",
            r"\chapterwise@end{chapters/one}{4}",
            r"\@writefile{toc}{glue}",
            r"\@input{chapters/two.aux}",
            r"\chapterwise@end{chapters/two}{5}",
            r"\gdef \@abspage@last{20}",
        ]
    )
    main = split_main_aux(parse_aux(text), ["chapters/one", "chapters/two"])
    assert main is not None
    assert [e.command for e in main.head] == ["relax"]
    assert [e.key for e in main.stretches["chapters/one"]] == ["0"]
    assert main.stretches["chapters/two"] == ()
    assert main.ends == {"chapters/one": "4", "chapters/two": "5"}
    assert [e.command for e in main.glue["chapters/one"]] == ["@writefile"]
    assert split_main_aux(parse_aux(r"\@input{chapters/one.aux}"), ["chapters/one"]) is None


@pytest.mark.parametrize(
    ("source", "labels", "pages", "opaque"),
    [
        pytest.param(r"See \cref{a,b} and \pageref{c}.", {"a", "b", "c"}, {"c"}, (), id="literal"),
        pytest.param(r"\vref{d} % \pageref{e}", {"d"}, {"d"}, (), id="comment_ignored"),
        pytest.param(r"\hyperref[f]{text}", {"f"}, set(), (), id="hyperref_link"),
        pytest.param(r"\newcommand\fr[1]{\ref{#1}}", set(), set(), ("x.tex",), id="macro_arg"),
        pytest.param(r"\let\myref\ref \myref{g}", set(), set(), ("x.tex",), id="let_alias"),
        pytest.param(r"\zpageref{h}", set(), set(), ("x.tex",), id="unknown_page_ref"),
        pytest.param(r"\fref{i} or \seeref{j}", set(), set(), ("x.tex",), id="unknown_refs"),
        pytest.param(r"\href{https://x.org}{x} \ref{k}", {"k"}, set(), (), id="href_is_no_ref"),
        pytest.param(r"\nameref{m}", {"m"}, set(), (), id="title_ref"),
    ],
)
def test_reference_scan(source: str, labels: set[str], pages: set[str], opaque: tuple) -> None:
    found = scan_references({"x.tex": source})
    assert (set(found.labels), set(found.pages), found.opaque) == (labels, pages, opaque)
    assert found.titles == (found.labels if "nameref" in source else frozenset())


def test_lists_printing_changed_labels() -> None:
    old = parse_aux(
        "\\@writefile{lof}{\\contentsline {figure}{\\numberline {2.1}{\\ignorespaces A plot "
        "of Section\\nobreakspace {}\\ref {sec:x}.}}{4}{figure.2.1}}\n"
        "\\@writefile{toc}{\\contentsline {section}{\\numberline {2.1}Fits}{3}{section.2.1}}"
    )
    renumbered = diff_chapter_aux((), ())
    assert lists_printing_changes(old, old, renumbered) == ()
    changes = replace(renumbered, renumbered=("sec:x",))
    assert lists_printing_changes(old, old, changes) == ("lof",)
    moved = replace(renumbered, moved=(("sec:x", "5"),))
    assert lists_printing_changes(old, old, moved) == (), "a \\ref prints no page"
    elsewhere = replace(renumbered, renumbered=("sec:y",))
    assert lists_printing_changes(old, old, elsewhere) == ()


def test_bookmark_lines_by_number_and_unexpected_outputs() -> None:
    out = "\\BOOKMARK [0][-]{chapter.1}{One}{}% 1\n\\BOOKMARK [1][-]{s}{S}{chapter.1}% 2\n"
    assert bookmark_lines(out, 1, 2) == ["\\BOOKMARK [1][-]{s}{S}{chapter.1}% 2"]
    outputs = ["build/t/thesis.aux", "build/t/chapters/one.aux", "build/t/thesis.idx"]
    assert unexpected_outputs(outputs, "thesis", ["chapters/one"]) == ["thesis.idx"]


# --------------------------------------------------------------------------------------------
# Real LaTeX: a small thesis, edits, and the oracle

Edit = tuple[str, Callable[[str], str]]


def _project(root: Path):  # type: ignore[no-untyped-def]
    return load_project(root, read_config(root))


def rebuild(root: Path, chapters: list[str], *, mode: str = "auto") -> Assembly:
    """What `snakemake thesis.pdf` does after an edit: the jobs of the edited chapters and of
    the chapters that typeset one of them for its definitions, then the thesis."""
    project = _project(root)
    logs = root / "build" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    state = read_state(root)
    if state is not None:
        for name in project.chapter_names:
            if name in chapters or set(project.carried[name]) & set(chapters):
                run_chapter_pass(project, name, state, log_path=logs / f"{name}.log")
    return assemble_thesis(
        project, mode=mode, log_path=logs / "thesis.log", output=root / "build" / "thesis.pdf"
    )


def apply(root: Path, edits: list[Edit]) -> list[str]:
    """Apply the edits; returns the chapters they touched."""
    for name, change in edits:
        path = root / "chapters" / f"{name}.tex"
        text = path.read_text()
        changed = change(text)
        assert changed != text, f"edit of {name} changed nothing"
        path.write_text(changed)
    return sorted({name for name, _ in edits})


def assert_like_a_full_build(root: Path, scratch: Path) -> None:
    reference = monolithic_build(root, scratch / "oracle")
    assert differences(reference, root / "build" / "thesis.pdf") == []
    pdf = root / "build" / "thesis.pdf"
    assert synctex_differences(reference, scratch / "oracle", pdf, root) == []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The thesis after a full build (its state is what later edits are checked against)."""
    root = tmp_path_factory.mktemp("synthetic") / "thesis"
    write_thesis(root, chapters=3, sections=2, paragraphs=2, words=90)
    outcome = rebuild(root, [])
    assert outcome.kind == "full" and outcome.code == "no-state"
    return root


@pytest.fixture
def thesis(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "thesis"
    shutil.copytree(built, target, symlinks=True)
    return target


def word(text: str) -> str:
    for old, new in ((" population ", " populations "), (" model ", " models ")):
        if old in text:
            return text.replace(old, new, 1)
    return text.replace(" cycle ", " cycles ", 1)


def before_section(section: str, insert: str) -> Callable[[str], str]:
    return lambda text: text.replace(
        f"\\section{{Section {section}}}", insert + f"\\section{{Section {section}}}", 1
    )


def after_label(label: str, insert: str) -> Callable[[str], str]:
    return lambda text: text.replace(f"\\label{{{label}}}", f"\\label{{{label}}}{insert}", 1)


def in_text(insert: str) -> Callable[[str], str]:
    return lambda text: text.replace(" Compare ", f" Compare {insert} and ", 1)


NEW_FIGURE = (
    "\\begin{figure}[tbp]\\centering\\fbox{new}\\caption{A new figure.}\\label{fig:new}"
    "\\end{figure}\n"
)

SCENARIOS = [
    pytest.param([("ch02", word)], "spliced", id="word_edit"),
    pytest.param([("ch02", before_section("2.2", "\\newpage"))], "spliced", id="section_moves"),
    pytest.param(
        [
            ("ch02", after_label("sec:2.1", "\\label{sec:new}")),
            ("ch02", in_text(r"\cref{sec:new}")),
        ],
        "spliced",
        id="new_label_used_in_its_chapter",
    ),
    pytest.param(
        [
            ("ch02", after_label("sec:2.1", "\\label{sec:new}")),
            ("ch01", in_text(r"\cref{sec:new}")),
        ],
        "label-referenced",
        id="new_label_used_from_another_chapter",
    ),
    pytest.param([("ch02", in_text(r"\cite{key00}"))], "citations-changed", id="cite_cited_key"),
    pytest.param([("ch02", in_text(r"\cite{key05}"))], "new-citation", id="cite_new_key"),
    pytest.param(
        [("ch02", before_section("2.2", "More words. " * 400 + "\n\n"))],
        "page-count-changed",
        id="page_count_changes",
    ),
    pytest.param(
        [("ch02", before_section("2.2", NEW_FIGURE))], "counters-changed", id="new_figure"
    ),
    pytest.param(
        [("ch02", lambda t: t.replace("A figure of chapter 2.", "A figure of chapter two.", 1))],
        "spliced",
        id="caption_changes_the_list_of_figures",
    ),
    pytest.param(
        [
            ("ch01", in_text(r"\nameref{fig:2}")),
            ("ch02", lambda t: t.replace("A figure of chapter 2.", "A figure of chapter two.", 1)),
        ],
        "label-referenced",
        id="caption_printed_by_nameref_elsewhere",
    ),
]


@pytest.mark.parametrize(("edits", "code"), SCENARIOS)
def test_edit_matches_a_full_build(
    thesis: Path, tmp_path: Path, edits: list[Edit], code: str
) -> None:
    outcome = rebuild(thesis, apply(thesis, edits))
    assert outcome.code == code, outcome.message
    assert outcome.kind == ("splice" if code == "spliced" else "full")
    assert_like_a_full_build(thesis, tmp_path)
    state = read_state(thesis)
    assert state is not None and state.origin == ("splice" if code == "spliced" else "full")


def test_caption_edit_splices_the_list_of_figures(thesis: Path) -> None:
    lof = (thesis / THESIS_DIR / "thesis.lof").read_text()
    edit = ("ch02", lambda t: t.replace("A figure of chapter 2.", "A new caption.", 1))
    outcome = rebuild(thesis, apply(thesis, [edit]))
    assert outcome.kind == "splice" and "the front matter" in outcome.message, outcome.message
    assert "A new caption." in (thesis / THESIS_DIR / "thesis.lof").read_text() != lof


def test_renumbered_label_printed_by_an_unchanged_caption(thesis: Path, tmp_path: Path) -> None:
    # The caption's \ref stays "\ref {sec:x}" in the .lof whatever the label's number, so the
    # list entry is byte-identical while the List of Figures must print the new number.
    caption = "A figure of chapter 2."
    setup = [
        ("ch02", after_label("sec:2.1", "\\label{sec:x}")),
        ("ch02", lambda t: t.replace(caption, "A figure of Section~\\ref{sec:x}.", 1)),
    ]
    rebuild(thesis, apply(thesis, setup))
    assert "\\ref {sec:x}" in (thesis / THESIS_DIR / "thesis.lof").read_text()
    move = [
        ("ch02", lambda t: t.replace("\\label{sec:x}", "", 1)),
        ("ch02", after_label("sec:2.2", "\\label{sec:x}")),
    ]
    outcome = rebuild(thesis, apply(thesis, move))
    assert outcome.kind == "splice" and "the front matter" in outcome.message, outcome.message
    assert_like_a_full_build(thesis, tmp_path)


def test_an_edit_while_the_full_build_runs_is_not_recorded_as_built(thesis: Path) -> None:
    project = _project(thesis)
    state = read_state(thesis)
    assert state is not None and decide(project, state, "auto") is None
    before = source_digests(project, state)
    apply(thesis, [("ch02", word)])  # saved while latexmk was typesetting the old text
    stale = build_state(thesis, project, digests=before)
    assert stale is not None
    write_state(thesis, stale)
    assert decide(project, read_state(thesis), "auto") is not None, "the edit is still to build"


def test_an_edit_while_the_splice_runs_is_not_recorded_as_built(thesis: Path) -> None:
    from chapterwise.assemble import SplicePlan, _apply_splice

    project = _project(thesis)
    state = read_state(thesis)
    assert state is not None
    apply(thesis, [("ch02", word)])
    run_chapter_pass(project, "ch02", state, log_path=thesis / "pass.log")
    plan = decide(project, state, "auto")
    assert isinstance(plan, SplicePlan)
    apply(thesis, [("ch02", word)])  # saved after the pass, before the splice is written
    _apply_splice(project, state, plan)
    assert decide(project, read_state(thesis), "auto") is not None, "the edit is still to build"


def test_section_move_splices_the_front_matter_too(thesis: Path) -> None:
    toc = (thesis / THESIS_DIR / "thesis.toc").read_text()
    outcome = rebuild(thesis, apply(thesis, [("ch02", before_section("2.2", "\\newpage"))]))
    assert "the front matter" in outcome.message
    assert (thesis / THESIS_DIR / "thesis.toc").read_text() != toc, "the state's ToC follows"


def test_chain_of_three_splices(thesis: Path, tmp_path: Path) -> None:
    initial = read_state(thesis)
    assert initial is not None
    for number, name in enumerate(("ch01", "ch03", "ch02")):
        outcome = rebuild(thesis, apply(thesis, [(name, word)]))
        assert outcome.kind == "splice", outcome.message
        assert f"chapters/{name}" in outcome.message
        assert_like_a_full_build(thesis, tmp_path / str(number))
    # The state is what a full build leaves: its aux files and lists are latexmk's, byte for
    # byte (the main .aux also holds the hooks' chapter markers).
    reference = tmp_path / "2" / "oracle" / "out"
    state = thesis / THESIS_DIR
    for name in ("chapters/ch01.aux", "chapters/ch02.aux", "chapters/ch03.aux", "thesis.toc"):
        assert (state / name).read_bytes() == (reference / name).read_bytes(), name
    main = (state / "thesis.aux").read_text().splitlines()
    assert [line for line in main if not line.startswith("\\chapterwise@end")] == (
        reference / "thesis.aux"
    ).read_text().splitlines()
    # Superseded objects are swept when they make up half the file (in this small thesis,
    # during the chain); sweeping changes nothing a reader sees.
    recorded = read_state(thesis)
    assert recorded is not None and recorded.base_size != initial.base_size, "was compacted"
    assert (state / "thesis.pdf").stat().st_size <= 2 * recorded.base_size
    compacted = tmp_path / "compacted.pdf"
    compact_pdf(state / "thesis.pdf", compacted)
    assert compacted.stat().st_size <= (state / "thesis.pdf").stat().st_size
    assert differences(reference / "thesis.pdf", compacted) == []


def test_nothing_changed_is_up_to_date(thesis: Path) -> None:
    pdf = (thesis / THESIS_DIR / "thesis.pdf").read_bytes()
    outcome = rebuild(thesis, [])
    assert outcome.kind == "up-to-date"
    assert (thesis / THESIS_DIR / "thesis.pdf").read_bytes() == pdf


# Each fallback reason really takes the monolithic path.


def _forget_state(root: Path) -> None:
    (root / THESIS_DIR / STATE_FILE).unlink()


def _edit_file(relative: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        path.write_text(change(path.read_text()))

    return edit


FALLBACKS = [
    pytest.param(_forget_state, [], "no-state", id="no_state"),
    pytest.param(
        _edit_file("bib/refs.bib", lambda t: t.replace("Journal", "Annals", 1)),
        [],
        "main-changed",
        id="bibliography_changed",
    ),
    pytest.param(
        _edit_file("thesis.tex", lambda t: t.replace("is generated", "is made", 1)),
        [],
        "main-changed",
        id="front_matter_changed",
    ),
    pytest.param(
        _edit_file("chapters/ch01.tex", before_section("1.2", "\\newpage")),
        ["ch01"],
        "label-page-printed",
        id="label_page_printed_elsewhere",
    ),
    pytest.param(
        _edit_file("chapters/ch02.tex", word), [], "no-chapter-pass", id="no_pass_of_the_chapter"
    ),
]


@pytest.mark.parametrize(("change", "passes", "code"), FALLBACKS)
def test_fallback_reason_runs_a_full_build(
    thesis: Path, change: Callable[[Path], None], passes: list[str], code: str
) -> None:
    change(thesis)
    outcome = rebuild(thesis, passes)
    assert (outcome.kind, outcome.code) == ("full", code), outcome.message
    state = read_state(thesis)
    assert state is not None and state.origin == "full"


def test_two_chapters_changing_the_lists_fall_back(thesis: Path) -> None:
    edits = [
        ("ch02", before_section("2.2", "\\newpage")),
        ("ch03", before_section("3.2", "\\newpage")),
    ]
    outcome = rebuild(thesis, apply(thesis, edits))
    assert (outcome.kind, outcome.code) == ("full", "lists-changed"), outcome.message


def test_unreadable_references_elsewhere_fall_back(thesis: Path) -> None:
    edits = [
        ("ch02", after_label("sec:2.1", "\\label{sec:new}")),
        ("ch03", lambda t: t + "\n\\def\\myref{\\ref}\n"),
    ]
    outcome = rebuild(thesis, apply(thesis, edits))
    assert (outcome.kind, outcome.code) == ("full", "opaque-references"), outcome.message


def test_stale_pass_falls_back(thesis: Path) -> None:
    project = _project(thesis)
    state = read_state(thesis)
    assert state is not None
    apply(thesis, [("ch02", word)])
    run_chapter_pass(project, "ch02", state, log_path=thesis / "pass.log")
    apply(thesis, [("ch02", word)])  # edited again after its pass
    outcome = assemble_thesis(
        project, mode="auto", log_path=thesis / "t.log", output=thesis / "build" / "thesis.pdf"
    )
    assert (outcome.kind, outcome.code) == ("full", "stale-pass"), outcome.message


def test_forced_full_build(thesis: Path) -> None:
    outcome = rebuild(thesis, apply(thesis, [("ch02", word)]), mode="full")
    assert (outcome.kind, outcome.code) == ("full", "forced-full")
    assert outcome.message.startswith("full build: assembly=full")


def test_page_references_hidden_in_a_project_package_fall_back(thesis: Path) -> None:
    (thesis / "seepage.sty").write_text(
        "\\ProvidesPackage{seepage}\n\\newcommand\\seepage[1]{see page~\\pageref{#1}}\n"
    )
    _edit_file(
        "thesis.tex",
        lambda t: t.replace(
            r"\usepackage{cleveref}", "\\usepackage{cleveref}\n\\usepackage{seepage}"
        ),
    )(thesis)
    assert rebuild(thesis, []).code == "main-changed"
    outcome = rebuild(thesis, apply(thesis, [("ch02", before_section("2.2", "\\newpage"))]))
    assert (outcome.kind, outcome.code) == ("full", "opaque-references"), outcome.message
    assert "seepage.sty" in outcome.message


def define(chapter: str, definition: str) -> Edit:
    """Put ``definition`` at the top level of ``chapter``, after its first paragraph."""
    return (chapter, lambda t: t.replace("\n\n", f"\n{definition}\n\n", 1))


CARRIED_STATE = [
    pytest.param(
        [define("ch01", r"\setlength{\parskip}{9pt}")],
        ("ch02", word),
        ["chapters/ch01"],
        id="earlier_chapter_sets_a_length",
    ),
    pytest.param(
        [define("ch01", r"\newcommand{\animal}{hare}"), ("ch02", in_text(r"\animal"))],
        ("ch02", word),
        ["chapters/ch01"],
        id="uses_a_macro_of_an_earlier_chapter",
    ),
    pytest.param(
        [
            define("ch01", r"\newcommand{\animal}{hare}"),
            define("ch02", r"\newcommand{\pet}{tame \animal}"),
            ("ch03", in_text(r"\pet")),
        ],
        ("ch03", word),
        ["chapters/ch01", "chapters/ch02"],
        id="uses_a_macro_made_of_two_earlier_ones",
    ),
]


@pytest.mark.parametrize(("setup", "edit", "carried"), CARRIED_STATE)
def test_state_of_earlier_chapters_is_typeset_with_the_pass(
    thesis: Path, tmp_path: Path, setup: list[Edit], edit: Edit, carried: list[str]
) -> None:
    """A chapter's pass also typesets the earlier chapters whose definitions it needs, so it
    builds (plain latexmk builds this thesis) and can still be spliced."""
    assert rebuild(thesis, apply(thesis, setup)).kind in ("full", "splice")
    outcome = rebuild(thesis, apply(thesis, [edit]))
    assert (outcome.kind, outcome.code) == ("splice", "spliced"), outcome.message
    record = read_pass(thesis / "build" / "chapters" / edit[0])
    assert record is not None and record.carried == carried
    assert_like_a_full_build(thesis, tmp_path)


LEFT_STATE = [
    pytest.param(
        [define("ch02", r"\newcommand{\animal}{hare}"), ("ch03", in_text(r"\animal"))],
        ("ch02", lambda t: t.replace("{\\animal}{hare}", "{\\animal}{lynx}", 1)),
        r"chapters/ch03 uses \\animal, defined in chapters/ch02\.tex, which changed",
        id="changes_a_macro_a_later_chapter_uses",
    ),
    pytest.param(
        [define("ch02", r"\setlength{\parskip}{9pt}")],
        ("ch02", lambda t: t.replace("{9pt}", "{4pt}", 1)),
        r"chapters/ch02\.tex:\d+: \\setlength outlives chapters/ch02 and the chapters after",
        id="changes_a_length_later_chapters_see",
    ),
]


@pytest.mark.parametrize(("setup", "edit", "message"), LEFT_STATE)
def test_state_a_chapter_leaves_behind_blocks_splicing(
    thesis: Path, tmp_path: Path, setup: list[Edit], edit: Edit, message: str
) -> None:
    rebuild(thesis, apply(thesis, setup))
    outcome = rebuild(thesis, apply(thesis, [edit]))
    assert (outcome.kind, outcome.code) == ("full", "chapter-state"), outcome.message
    assert re.search(message, outcome.message), outcome.message
    assert_like_a_full_build(thesis, tmp_path)


def test_local_assignments_and_rendered_macros_leave_only_named_state(tmp_path: Path) -> None:
    from chapterwise.tables import render_macros_file
    from tests.e2e.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    (root / "results").mkdir()
    (root / "results" / "growth_values.json").write_text('{"growthRate": 0.5}')
    render_macros_file(
        root / "results" / "growth_values.json", root / "tables" / "growth_values.tex", root=root
    )
    results = root / "chapters" / "results.tex"
    results.write_text(
        results.read_text()
        + "\\begin{table}\\setlength{\\tabcolsep}{4pt}\\end{table}\n"
        + "{\\renewcommand{\\arraystretch}{2} x}\n"
    )
    left = _project(root).left["results"]
    assert left.unnamed == (), "the guard of a rendered macro file and local assignments"
    assert left.named == {"\\growthRate": "tables/growth_values.tex"}
    results.write_text(results.read_text() + "\\setlength{\\parskip}{1pt}\n")
    assert [c for _, _, c in _project(root).left["results"].unnamed] == ["setlength"]


def test_package_with_cross_chapter_state_blocks_splicing(thesis: Path) -> None:
    _edit_file(
        "thesis.tex",
        lambda t: t.replace(
            r"\usepackage{cleveref}", "\\usepackage{cleveref}\n\\usepackage{acronym}"
        ),
    )(thesis)
    assert rebuild(thesis, []).code == "main-changed"
    outcome = rebuild(thesis, apply(thesis, [("ch02", word)]))
    assert (outcome.kind, outcome.code) == ("full", "unsupported"), outcome.message
    assert "acronym.sty" in outcome.message


def test_failed_build_keeps_the_last_good_pdf_and_drops_the_state(thesis: Path) -> None:
    pdf = (thesis / "build" / "thesis.pdf").read_bytes()
    main = thesis / "thesis.tex"
    good = main.read_text()
    main.write_text(good.replace("\\tableofcontents", "\\tableofcontents\\nosuchmacro", 1))
    with pytest.raises(ChapterwiseError, match="Undefined control sequence"):
        rebuild(thesis, [])
    assert (thesis / "build" / "thesis.pdf").read_bytes() == pdf
    assert read_state(thesis) is None, "a failed full build leaves no state to splice into"
    main.write_text(good)
    assert rebuild(thesis, []).code == "no-state"


# Random sequences of edits, the oracle after each build.

EDIT_KINDS = ("word", "move", "label", "cite", "figure", "grow")


def random_edit(kind: str, chapter: int) -> Edit:
    name = f"ch{chapter:02d}"
    if kind == "word":
        return (name, word)
    if kind == "move":
        return (
            name,
            lambda t: (
                word(t) if "\\newpage" in t else before_section(f"{chapter}.2", "\\newpage")(t)
            ),
        )
    if kind == "label":
        return (
            name,
            lambda t: (
                in_text(f"\\cref{{sec:{chapter}.x}}")(
                    after_label(f"sec:{chapter}.1", f"\\label{{sec:{chapter}.x}}")(t)
                )
                if f"sec:{chapter}.x" not in t
                else word(t)
            ),
        )
    if kind == "cite":
        return (name, in_text(r"\cite{key01}"))
    if kind == "figure":
        return (
            name,
            lambda t: t.replace(
                "\\section{Section",
                NEW_FIGURE.replace("fig:new", f"fig:new{len(t)}") + "\\section{Section",
                1,
            ),
        )
    return (
        name,
        lambda t: t.replace(
            "\\section{Section", "Some more words here. " * 40 + "\n\n\\section{Section", 1
        ),
    )


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(EDIT_KINDS), st.integers(min_value=1, max_value=3)),
        min_size=1,
        max_size=2,
    )
)
def test_random_edit_sequences_match_full_builds(
    built: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    scratch = tmp_path_factory.mktemp("sequence")
    root = scratch / "thesis"
    shutil.copytree(built, root, symlinks=True)
    for number, (kind, chapter) in enumerate(steps):
        edits = [random_edit(kind, chapter)]
        outcome = rebuild(root, apply(root, edits))
        assert outcome.kind in ("splice", "full"), outcome.message
        reference = monolithic_build(root, scratch / f"oracle{number}")
        assert differences(reference, root / "build" / "thesis.pdf") == [], (steps, number)


def test_aux_entry_record_is_frozen() -> None:
    entry = AuxEntry("newlabel", "a", r"\newlabel{a}{}")
    with pytest.raises(AttributeError):
        entry.key = "b"  # type: ignore[misc]
