"""Bibliography checks with real bibtexparser: each defect alone, its clean twin, and fuzzing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapterwise.bibcheck import (
    Citation,
    check_bibliography,
    check_thesis_bibliography,
    citations_in,
    parse_bibliography,
)
from chapterwise.diagnostics import Severity, format_diagnostic
from tests.conftest import write_files as write

GOOD = """@article{smith2020,
  author = {Smith, Ann},
  title = {On Hares},
  journaltitle = {Journal of Examples},
  year = {2020},
  month = {mar},
  pages = {12--34},
  doi = {10.1234/abc.5},
}
"""


def cite(*keys: str) -> list[Citation]:
    return [Citation(key, "chapters/a.tex", 3, 7) for key in keys]


def codes(bib: str, citations: list[Citation] | None = None) -> list[str]:
    found = check_bibliography(
        {"refs.bib": bib}, cite("smith2020") if citations is None else citations
    )
    return [d.code for d in found]


def test_a_clean_entry_that_is_cited_passes() -> None:
    assert codes(GOOD) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("author = {Smith, Ann},\n", ""), "missing-field"),
        (("journaltitle", "booktitle"), "missing-field"),
        (("year = {2020}", "year = {20}"), "malformed-year"),
        (("month = {mar}", "month = {13}"), "malformed-month"),
        (("pages = {12--34}", "pages = {12--}"), "malformed-pages"),
        (("doi = {10.1234/abc.5}", "doi = {doi.org/abc}"), "malformed-doi"),
        (("title = {On Hares},", "title = {On Hares,"), "bib-parse-error"),
    ],
)
def test_each_defect_alone(change: tuple[str, str], code: str) -> None:
    old, new = change
    assert old in GOOD
    found = codes(GOOD.replace(old, new))
    assert code in found
    assert set(found) <= {code, "uncited-entry", "undefined-citation"}


def test_missing_field_names_the_field_and_the_entry_line() -> None:
    found = check_bibliography(
        {"refs.bib": "\n\n" + GOOD.replace("  journaltitle = {Journal of Examples},\n", "")},
        cite("smith2020"),
    )
    (problem,) = found
    assert (problem.path, problem.line, problem.code) == ("refs.bib", 3, "missing-field")
    assert problem.message == "entry 'smith2020' (article) has no 'journaltitle'"
    assert problem.hint == "add journaltitle = {...} (or journal)"


def test_journal_is_as_good_as_journaltitle_and_date_as_year() -> None:
    bib = GOOD.replace("journaltitle", "journal").replace("year = {2020}", "date = {2020-03}")
    assert codes(bib) == []


def test_duplicate_keys_also_when_they_differ_only_in_case() -> None:
    twice = GOOD + GOOD.replace("doi = {10.1234/abc.5},\n", "")
    assert "duplicate-key" in codes(twice)
    case = GOOD + GOOD.replace("smith2020", "Smith2020").replace("10.1234/abc.5", "10.1234/x")
    found = check_bibliography({"refs.bib": case}, cite("smith2020"))
    duplicate = [d for d in found if d.code == "duplicate-key"]
    assert len(duplicate) == 1 and duplicate[0].line == 10
    assert "only in case" in duplicate[0].message


def test_duplicate_dois_ignore_case_and_the_resolver_prefix() -> None:
    other = GOOD.replace("smith2020", "jones2021").replace(
        "10.1234/abc.5", "https://doi.org/10.1234/ABC.5"
    )
    found = check_bibliography({"refs.bib": GOOD + other}, cite("smith2020", "jones2021"))
    assert [(d.code, d.severity) for d in found] == [("duplicate-doi", Severity.WARNING)]


def test_undefined_citation_at_the_citing_line_with_a_suggestion() -> None:
    found = check_bibliography({"refs.bib": GOOD}, cite("smith2020", "smith202"))
    (problem,) = found
    assert (problem.path, problem.line, problem.column) == ("chapters/a.tex", 3, 7)
    assert problem.code == "undefined-citation" and problem.severity is Severity.ERROR
    assert problem.hint == "did you mean 'smith2020'?"


def test_uncited_entries_warn_unless_nocite_star() -> None:
    assert codes(GOOD, []) == ["uncited-entry"]
    assert codes(GOOD, cite("*")) == []


def test_citation_commands_of_latex_natbib_and_biblatex() -> None:
    text = (
        "\\parencite*[p.~3]{a,b} \\citep[see][12]{c} \\textcites{d}{e}\n"
        "% \\cite{commented}\n\\autocite{f}\\footcite[]{g} \\citet*{h} \\nocite{*}\n"
    )
    keys = [c.key for c in citations_in(text, "x.tex")]
    assert keys == ["a", "b", "c", "d", "e", "f", "g", "h", "*"]
    assert citations_in(text, "x.tex")[5].line == 3


def test_a_missing_bib_file_is_reported_where_it_is_added(tmp_path: Path) -> None:
    files = {"main.tex": "\\documentclass{article}\n\\addbibresource{bib/none.bib}\n"}
    (problem,) = check_thesis_bibliography(files, root=tmp_path)
    assert (problem.path, problem.line, problem.code) == ("main.tex", 2, "missing-bibliography")


@pytest.mark.parametrize(
    "empty", [pytest.param("", id="no_bytes"), pytest.param("\n  \n", id="only_space")]
)
def test_an_empty_bib_file_is_a_whole_file_warning(tmp_path: Path, empty: str) -> None:
    write(tmp_path, {"refs.bib": empty})
    files = {"main.tex": "\\bibliography{refs}\n\\cite{x}\n"}
    found = check_thesis_bibliography(files, root=tmp_path)
    assert [(d.code, d.path, d.line, d.severity) for d in found] == [
        ("empty-file", "refs.bib", None, Severity.WARNING),
        ("undefined-citation", "main.tex", 2, Severity.ERROR),
    ]
    assert format_diagnostic(found[0]) == (
        "refs.bib: warning: file is empty; add entries or drop it [empty-file]"
    )


def test_a_bib_file_of_comments_only_is_not_empty(tmp_path: Path) -> None:
    write(tmp_path, {"refs.bib": "% nothing yet\n"})
    files = {"main.tex": "\\bibliography{refs}\n\\nocite{*}\n"}
    assert check_thesis_bibliography(files, root=tmp_path) == []


def test_the_same_key_in_two_bib_files_names_the_first_place() -> None:
    other = "\n" + GOOD.replace("10.1234/abc.5", "10.1234/other")
    found = check_bibliography({"a.bib": GOOD, "b.bib": other}, cite("smith2020"))
    (problem,) = found
    assert (problem.code, problem.path, problem.line) == ("duplicate-key", "b.bib", 2)
    assert problem.message == "key 'smith2020' is already defined at a.bib:1"


def test_different_keys_in_two_bib_files_are_no_duplicates() -> None:
    other = GOOD.replace("smith2020", "jones2021").replace("10.1234/abc.5", "10.1234/other")
    found = check_bibliography({"a.bib": GOOD, "b.bib": other}, cite("smith2020", "jones2021"))
    assert found == []


def test_a_non_utf8_bib_file_is_read_with_a_warning_at_the_bad_line(tmp_path: Path) -> None:
    write(tmp_path, {"refs.bib": GOOD.replace("On Hares", "On H\xe4res").encode("latin-1")})
    files = {"main.tex": "\\addbibresource{refs.bib}\n\\cite{smith2020}\n"}
    found = check_thesis_bibliography(files, root=tmp_path)
    assert [(d.code, d.path, d.line) for d in found] == [("not-utf8", "refs.bib", 3)]


def test_the_repository_bibliography_is_clean(repo_root: Path) -> None:
    from chapterwise.refcheck import thesis_files

    files, _ = thesis_files(repo_root / "thesis.tex", repo_root)
    assert check_thesis_bibliography(files, root=repo_root) == []


ENTRY = st.builds(
    lambda kind, key, fields: (
        f"@{kind}{{{key},\n"
        + "".join(f"  {name} = {{{value}}},\n" for name, value in fields)
        + "}\n"
    ),
    st.sampled_from(["article", "book", "misc", "online", "thesis", "weird"]),
    st.text(alphabet="abcXYZ019:_-", min_size=0, max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from(["author", "title", "year", "month", "pages", "doi", "date"]),
            st.text(max_size=12),
        ),
        max_size=5,
    ),
)


@settings(deadline=timedelta(milliseconds=500))
@given(
    st.lists(st.one_of(ENTRY, st.text(max_size=40)), max_size=6),
    st.lists(st.one_of(ENTRY, st.text(max_size=40)), max_size=3),
    st.lists(st.text(max_size=6)),
)
def test_fuzzed_bibliographies_never_crash(
    blocks: list[str], more: list[str], keys: list[str]
) -> None:
    bibs = {"refs.bib": "\n".join(blocks), "more.bib": "\n".join(more)}
    _, problems = parse_bibliography(bibs["refs.bib"], "refs.bib")
    found = problems + check_bibliography(bibs, cite(*keys))
    for diagnostic in found:
        assert diagnostic.path is not None
        if diagnostic.code == "empty-file":
            assert diagnostic.line is None and not bibs[diagnostic.path].strip()
            continue
        assert diagnostic.line is not None and diagnostic.line >= 1
        if diagnostic.path in bibs:
            assert diagnostic.line <= max(1, len(bibs[diagnostic.path].splitlines()))
        if diagnostic.code == "duplicate-key" and "already defined" in diagnostic.message:
            key = diagnostic.message.split("'")[1]
            assert all(key in text for text in bibs.values())
