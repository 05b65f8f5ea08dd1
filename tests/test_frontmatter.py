from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise.diagnostics import ChapterwiseError
from chapterwise.frontmatter import NotebookFormat, notebook_format, parse_front_matter

QMD = """---
title: Explore
inputs:
  - data/points.csv
outputs:
  - figures/growth.pdf
  - results/growth.csv
---

```{python}
print(1)
```
"""

PY = """# ---
# jupyter:
#   kernelspec:
#     name: python3
# inputs:
#   - data/points.csv
# outputs:
#   - figures/growth.pdf
#   - results/growth.csv
# ---

# %%
print(1)
"""


def ipynb(metadata: dict[str, object]) -> str:
    return json.dumps(
        {"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}, indent=1
    )


@pytest.mark.parametrize(
    ("name", "text", "output_lines"),
    [
        pytest.param(
            "notebooks/a.qmd", QMD, {"figures/growth.pdf": 6, "results/growth.csv": 7}, id="qmd"
        ),
        pytest.param(
            "notebooks/a.py",
            PY,
            {"figures/growth.pdf": 8, "results/growth.csv": 9},
            id="jupytext_py",
        ),
    ],
)
def test_text_headers(tmp_path: Path, name: str, text: str, output_lines: dict[str, int]) -> None:
    front = parse_front_matter(text, path=name, root=tmp_path)
    assert front.inputs == ("data/points.csv",)
    assert front.outputs == ("figures/growth.pdf", "results/growth.csv")
    for output, line in output_lines.items():
        assert front.lines[output] == line
        assert output in text.splitlines()[line - 1]


def test_ipynb_metadata(tmp_path: Path) -> None:
    text = ipynb(
        {"inputs": ["data/x.csv"], "outputs": ["figures/x.pdf"], "kernelspec": {"name": "python3"}}
    )
    front = parse_front_matter(text, path="notebooks/x.ipynb", root=tmp_path)
    assert (front.inputs, front.outputs) == (("data/x.csv",), ("figures/x.pdf",))
    assert "figures/x.pdf" in text.splitlines()[front.lines["figures/x.pdf"] - 1]


def test_notebook_without_header_declares_nothing(tmp_path: Path) -> None:
    front = parse_front_matter("# %%\nprint(1)\n", path="notebooks/helper.py", root=tmp_path)
    assert front.outputs == () and front.inputs == ()


def test_output_outside_repo_is_refused_with_line(tmp_path: Path) -> None:
    text = QMD.replace("results/growth.csv", "../../escape.csv")
    with pytest.raises(
        ChapterwiseError,
        match=r"^notebooks/a\.qmd:7: error: output '\.\./\.\./escape\.csv' is outside",
    ):
        parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)


def test_bad_yaml_reports_file_line(tmp_path: Path) -> None:
    text = "---\ntitle: x\noutputs: [a, b\n---\n"
    with pytest.raises(
        ChapterwiseError, match=r"^notebooks/a\.qmd:\d+: error: front matter is not valid YAML"
    ):
        parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)


def test_outputs_must_be_a_list_of_paths(tmp_path: Path) -> None:
    text = "---\noutputs:\n  figure: a.pdf\n---\n"
    with pytest.raises(
        ChapterwiseError, match=r"'outputs' must be a list of paths \[bad-front-matter\]"
    ):
        parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)


def test_broken_ipynb_json(tmp_path: Path) -> None:
    with pytest.raises(
        ChapterwiseError, match=r"^notebooks/a\.ipynb:1:\d+: error: not a valid \.ipynb"
    ):
        parse_front_matter("{nope", path="notebooks/a.ipynb", root=tmp_path)


def test_format_from_suffix() -> None:
    assert notebook_format("a/b.qmd") is NotebookFormat.QMD
    assert notebook_format("b.ipynb") is NotebookFormat.IPYNB
    assert notebook_format("b.py") is NotebookFormat.PY


FRAGMENTS = st.sampled_from(
    [
        "---\n",
        "# ---\n",
        "# ",
        "outputs:",
        "inputs:",
        "\n",
        "  - ",
        "a.csv",
        "../x",
        ":",
        "[",
        "]",
        "{",
        "#",
        " ",
        "'",
    ]
)


@given(st.lists(FRAGMENTS, max_size=40).map("".join), st.sampled_from([".qmd", ".py", ".ipynb"]))
def test_arbitrary_headers_raise_only_chapterwise_errors(text: str, suffix: str) -> None:
    root = Path("/tmp/chapterwise-fuzz-root")
    try:
        front = parse_front_matter(text, path=f"notebooks/n{suffix}", root=root)
    except ChapterwiseError as exc:
        n_lines = max(text.count("\n") + 1, 1)
        for diag in exc.diagnostics:
            assert diag.line is None or 1 <= diag.line <= n_lines
        return
    for line in front.lines.values():
        assert 1 <= line <= text.count("\n") + 1
