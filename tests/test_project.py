"""The project inventory: chapters from \\include, dependencies from scanning, generated files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chapterwise.config import parse_config
from chapterwise.diagnostics import ChapterwiseError
from chapterwise.project import Chapter, chapter_counters, load_project, wildcard_pattern

MAIN = r"""\documentclass{report}
\usepackage{graphicx}
\input{preamble/macros}
\addbibresource{bib/refs.bib}
\graphicspath{{figures/}}
\begin{document}
% \include{chapters/commented}
\include{chapters/intro}
\include{chapters/results}
\end{document}
"""

NOTEBOOK = """# ---
# inputs:
#   - data/points.csv
# outputs:
#   - figures/growth.pdf
#   - results/growth.csv
#   - results/growth_values.json
# ---

# %%
print("hi")
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "thesis.tex": MAIN,
            "preamble/macros.tex": "\\newcommand{\\x}{x}\n",
            "bib/refs.bib": "@book{a, title={A}}\n",
            "data/points.csv": "a\n1\n",
            "notebooks/analysis.py": NOTEBOOK,
            "chapters/intro.tex": "\\chapter{Intro}\n\\input{sections/motivation}\n"
            "\\includegraphics[width=3cm]{logo}\n",
            "sections/motivation.tex": "Why.\n",
            "figures/logo.png": "",
            "chapters/results.tex": "\\chapter{Results}\n\\input{tables/growth_values}\n"
            "\\includegraphics{growth}\n\\input{tables/growth}\n",
        },
    )
    return tmp_path


def load(root: Path):
    return load_project(root, parse_config({}, root=root))


def test_chapters_are_the_include_lines_in_order(root: Path) -> None:
    project = load(root)
    assert project.chapter_names == ("intro", "results")
    assert [c.path for c in project.chapters] == ["chapters/intro.tex", "chapters/results.tex"]
    assert [c.line for c in project.chapters] == [8, 9]


def test_preamble_dependencies_exclude_chapters(root: Path) -> None:
    project = load(root)
    assert project.preamble.files == ("preamble/macros.tex", "bib/refs.bib")
    assert project.preamble.missing == ()


def test_chapter_dependencies_follow_inputs_graphicspath_and_extensions(root: Path) -> None:
    project = load(root)
    assert project.chapter_deps["intro"].files == (
        "chapters/intro.tex",
        "sections/motivation.tex",
        "figures/logo.png",
    )
    assert project.chapter_deps["results"].files == (
        "chapters/results.tex",
        "tables/growth_values.tex",
        "figures/growth.pdf",
        "tables/growth.tex",
    )


def test_generated_files_come_from_the_notebook_that_declares_them(root: Path) -> None:
    project = load(root)
    assert project.producers == {
        "figures/growth.pdf": "analysis",
        "results/growth.csv": "analysis",
        "results/growth_values.json": "analysis",
    }
    assert project.tables == ("growth",) and project.values == ("growth_values",)
    assert project.notebook("analysis").inputs == ("data/points.csv",)
    assert project.rendered_tables() == ["tables/growth.tex", "tables/growth_values.tex"]
    assert project.generated_files() == {*project.producers, *project.rendered_tables()}


def test_rule_inputs(root: Path) -> None:
    project = load(root)
    inputs = project.chapter_inputs("results")
    assert inputs["main"] == ["thesis.tex"]
    assert inputs["preamble"] == ["preamble/macros.tex", "bib/refs.bib"]
    assert "figures/growth.pdf" in inputs["sources"]
    thesis = project.thesis_inputs()
    assert thesis[0] == "thesis.tex" and "sections/motivation.tex" in thesis
    assert len(thesis) == len(set(thesis))
    assert project.chapter_pdfs() == ["build/chapters/intro.pdf", "build/chapters/results.pdf"]


def test_a_chapter_using_an_earlier_chapters_macro_carries_that_chapter(root: Path) -> None:
    assert "carried" not in load(root).chapter_inputs("results")
    write(root, {"sections/motivation.tex": "\\newcommand{\\culture}{yeast}\nWhy.\n"})
    assert "carried" not in load(root).chapter_inputs("results"), "not used"
    results = root / "chapters" / "results.tex"
    results.write_text(results.read_text() + "More \\culture.\n")
    project = load(root)
    assert project.carried == {"intro": (), "results": ("intro",)}
    assert project.left["intro"].named == {"\\culture": "sections/motivation.tex"}
    assert project.chapter_inputs("results")["carried"] == list(project.chapter_deps["intro"].files)


def test_missing_figure_is_reported_at_its_line_and_column(root: Path) -> None:
    (root / "chapters" / "intro.tex").write_text("\\chapter{Intro}\n  \\includegraphics{nowhere}\n")
    project = load(root)
    (diagnostic,) = project.missing("intro")
    assert (diagnostic.path, diagnostic.line, diagnostic.column) == ("chapters/intro.tex", 2, 3)
    assert diagnostic.message == "figure 'nowhere' not found and no notebook declares it"
    assert project.missing("results") == ()


def test_missing_chapter_file_is_an_error(root: Path) -> None:
    (root / "chapters" / "intro.tex").unlink()
    with pytest.raises(
        ChapterwiseError, match=r"thesis\.tex:8:1: error: chapter 'chapters/intro' not found"
    ):
        load(root)


def test_two_notebooks_declaring_one_output_is_an_error(root: Path) -> None:
    write(root, {"notebooks/copy.py": NOTEBOOK.replace("print", "len")})
    with pytest.raises(
        ChapterwiseError,
        match=r"notebooks/.*\.py:5: error: output 'figures/growth\.pdf' is also declared",
    ):
        load(root)


def test_path_outside_the_project_is_refused(root: Path) -> None:
    write(root, {"notebooks/analysis.py": NOTEBOOK.replace("results/growth.csv", "../growth.csv")})
    with pytest.raises(
        ChapterwiseError,
        match=r"notebooks/analysis\.py:6: error: output '\.\./growth\.csv' is outside the project",
    ):
        load(root)


def test_notebooks_without_outputs_and_hidden_folders_are_not_jobs(root: Path) -> None:
    write(
        root,
        {
            "notebooks/helpers.py": "def f():\n    return 1\n",
            "notebooks/.ipynb_checkpoints/analysis-checkpoint.py": NOTEBOOK,
        },
    )
    assert [n.name for n in load(root).notebooks] == ["analysis"]


def test_a_dot_file_makes_its_pdf_a_generated_file_the_chapter_reads(root: Path) -> None:
    write(
        root,
        {
            "figures/workflow.dot": "digraph { a -> b; }\n",
            "figures/_draft.dot": "digraph { }\n",  # scratch: not a diagram
            "chapters/intro.tex": "\\chapter{Intro}\n\\includegraphics{figures/workflow}\n",
        },
    )
    project = load(root)
    assert project.diagrams == {"figures/workflow.pdf": "figures/workflow.dot"}
    assert project.diagram_names == ("workflow",)
    assert "figures/workflow.pdf" in project.generated_files()
    assert "figures/workflow.pdf" not in project.producers  # producers are notebooks
    assert project.chapter_inputs("intro")["sources"] == [
        "chapters/intro.tex",
        "figures/workflow.pdf",
    ]
    assert project.missing("intro") == ()
    assert "figures/workflow.pdf" in project.thesis_inputs()


def test_a_diagram_also_found_through_graphicspath(root: Path) -> None:
    write(root, {"figures/loop.dot": "digraph { a -> a; }\n"})
    write(root, {"chapters/intro.tex": "\\chapter{Intro}\n\\includegraphics{loop}\n"})
    assert "figures/loop.pdf" in load(root).chapter_inputs("intro")["sources"]


def test_a_diagram_and_a_notebook_making_one_pdf_is_an_error(root: Path) -> None:
    write(root, {"figures/growth.dot": "digraph { a -> b; }\n"})
    with pytest.raises(
        ChapterwiseError,
        match=r"notebooks/analysis\.py:5: error: output 'figures/growth\.pdf' is also rendered "
        r"from 'figures/growth\.dot'.*\[duplicate-output\]",
    ):
        load(root)


def test_missing_main_file(tmp_path: Path) -> None:
    with pytest.raises(ChapterwiseError, match=r"main file 'thesis\.tex' not found"):
        load(tmp_path)


@pytest.mark.parametrize(
    "names",
    [pytest.param(("intro", "intro2", "a.b"), id="prefixes_and_dots"), pytest.param((), id="none")],
)
def test_wildcard_pattern_matches_exactly_the_names(names: tuple[str, ...]) -> None:
    pattern = re.compile(f"^(?:{wildcard_pattern(names)})$")
    for name in names:
        assert pattern.match(name)
    assert not pattern.match("intro3") and not pattern.match("axb") and not pattern.match("")


def chapters_at(*includes: str) -> list[Chapter]:
    return [
        Chapter(include.split("/")[-1], f"{include}.tex", include, line)
        for line, include in enumerate(includes, start=1)
        if include
    ]


def test_chapter_counters_count_numbered_chapters_and_restart_at_appendix() -> None:
    main = "\\include{a}\n\\include{b}\n\\appendix % appendices\n\\include{c}\n\\include{d}\n"
    chapters = chapters_at("x/a", "x/b", "", "x/c", "x/d")
    sources = {
        "x/a": "\\chapter*{Preface}\n\\chapter{One}\n",
        "x/b": "\\chapter[Short]{Two}\n% \\chapter{commented out}\n\\chapter {Three}\n",
        "x/c": "\\chapter{Data}\n\\chapterstyle{none}\n",
        "x/d": "\\chapter{Code}\n",
    }
    assert chapter_counters(main, chapters, sources) == {"x/a": 1, "x/b": 3, "x/c": 1, "x/d": 2}


def test_commented_appendix_does_not_restart_the_count() -> None:
    main = "\\include{a}\n% \\appendix\n\\include{b}\n"
    chapters = chapters_at("a", "", "b")
    sources = {"a": "\\chapter{A}\n", "b": "\\chapter{B}\n"}
    assert chapter_counters(main, chapters, sources) == {"a": 1, "b": 2}
