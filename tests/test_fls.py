"""The -recorder receipt: kinds of files, project inputs, and undeclared reads."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from chapterwise.fls import FileKind, check_undeclared, parse_fls, project_inputs, read_fls

FLS = """PWD {root}
INPUT /usr/share/texlive/texmf-dist/web2c/texmf.cnf
INPUT thesis.tex
OUTPUT build/thesis/thesis.log
INPUT ./chapters/intro.tex
INPUT build/thesis/thesis.aux
OUTPUT build/thesis/thesis.aux
INPUT /usr/share/texlive/texmf-dist/tex/latex/base/report.cls
INPUT {root}/figures/growth.pdf
INPUT ./chapters/intro.tex
INPUT ../outside.tex
"""


def recording(root: Path):
    return parse_fls(FLS.format(root=root))


def test_kinds(tmp_path: Path) -> None:
    parsed = recording(tmp_path)
    assert parsed.pwd == str(tmp_path)
    kinds = dict(parsed.files)
    assert kinds["thesis.tex"] is FileKind.INPUT
    assert kinds["build/thesis/thesis.log"] is FileKind.OUTPUT
    assert kinds["build/thesis/thesis.aux"] is FileKind.AUX
    assert parsed.of_kind(FileKind.INPUT).count("./chapters/intro.tex") == 1


def test_project_inputs_are_relative_sources_without_build_or_distribution_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    assert project_inputs(recording(root), root=root) == (
        "thesis.tex",
        "chapters/intro.tex",
        "figures/growth.pdf",
    )


def test_undeclared_reads_are_warnings_naming_the_file(tmp_path: Path) -> None:
    found = check_undeclared(
        recording(tmp_path),
        root=tmp_path,
        declared=["thesis.tex", "chapters/intro.tex"],
        job="thesis",
    )
    assert [(d.path, d.code) for d in found] == [("figures/growth.pdf", "undeclared-input")]
    assert "dependency scan did not find" in found[0].message


def test_missing_file_is_an_empty_recording(tmp_path: Path) -> None:
    assert read_fls(tmp_path / "none.fls").files == ()


@given(st.text())
def test_any_text_parses(text: str) -> None:
    parsed = parse_fls(text)
    assert all(isinstance(kind, FileKind) for _, kind in parsed.files)
    paths = [path for path, _ in parsed.files]
    assert len(paths) == len(set(paths))
