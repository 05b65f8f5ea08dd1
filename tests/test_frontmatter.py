from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise.diagnostics import ChapterwiseError, Severity, format_diagnostic
from chapterwise.frontmatter import (
    NotebookFormat,
    Resources,
    notebook_format,
    parse_front_matter,
)

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


SETTINGS_PY = """# ---
# jupyter:
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# outputs:
#   - results/growth.csv
# params:
#   alpha: 0.5
#   label: "two words"
#   grid: [1, 2.5, "x", true, null]
# timeout: 120
# resources:
#   cpus: 4
#   mem_mb: 8000
#   gpu: 1
#   runtime: 30
# kernel: python3
# ---
"""


def test_settings_are_parsed_with_their_lines(tmp_path: Path) -> None:
    front = parse_front_matter(SETTINGS_PY, path="notebooks/a.py", root=tmp_path)
    assert front.params == {"alpha": 0.5, "label": "two words", "grid": [1, 2.5, "x", True, None]}
    assert front.timeout == 120
    assert front.resources == Resources(cpus=4, mem_mb=8000, gpu=1, runtime=30)
    assert front.resources.snakemake_resources() == {"mem_mb": 8000, "gpu": 1, "runtime": 30}
    assert front.kernel == "python3"
    lines = SETTINGS_PY.splitlines()
    for key, text in [
        ("params", "# params:"),
        ("params.grid", "#   grid:"),
        ("timeout", "# timeout:"),
    ]:
        assert lines[front.key_lines[key] - 1].startswith(text)
    assert front.start_line == 1
    assert front.warnings == ()


def test_defaults_when_nothing_is_declared(tmp_path: Path) -> None:
    front = parse_front_matter(PY, path="notebooks/a.py", root=tmp_path)
    assert (front.params, front.timeout, front.kernel) == ({}, None, None)
    assert front.resources == Resources()
    assert front.resources.snakemake_resources() == {}


def test_the_example_notebooks_still_parse(repo_root: Path) -> None:
    for path in sorted((repo_root / "notebooks").iterdir()):
        front = parse_front_matter(path.read_text(), path=f"notebooks/{path.name}", root=repo_root)
        assert front.outputs and front.warnings == ()


def test_ipynb_settings_and_their_lines(tmp_path: Path) -> None:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = 1"}
    text = json.dumps(
        {
            "cells": [cell],
            "metadata": {
                "outputs": ["results/x.csv"],
                "params": {"alpha": 2},
                "resources": {"cpus": "many"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"cpus"' in t)
    with pytest.raises(ChapterwiseError) as info:
        parse_front_matter(text, path="notebooks/x.ipynb", root=tmp_path)
    (diag,) = info.value.diagnostics
    assert (diag.line, diag.code) == (line, "bad-front-matter")
    assert "'resources.cpus' must be a positive whole number, not 'many'" in diag.message
    front = parse_front_matter(text.replace('"many"', "2"), path="notebooks/x.ipynb", root=tmp_path)
    assert front.params == {"alpha": 2} and front.resources.cpus == 2
    # the header is the notebook metadata, not a cell's "outputs" list
    assert '"outputs": [' in text.splitlines()[front.header_line - 1]
    assert "results/x.csv" in text.splitlines()[front.lines["results/x.csv"] - 1]


BAD_SETTINGS = [
    pytest.param(
        "timeout: soon",
        r"notebooks/a\.qmd:3: error: 'timeout' must be a positive whole number of seconds, "
        r"not 'soon'; the longest one cell may run, e\.g\. timeout: 600 \[bad-front-matter\]",
        id="timeout_text",
    ),
    pytest.param("timeout: 0", r":3: error: 'timeout' must be a positive", id="timeout_zero"),
    pytest.param("timeout: true", r":3: error: 'timeout' must be", id="timeout_bool"),
    pytest.param(
        "params: [1, 2]",
        r":3: error: 'params' must be a mapping of names to values",
        id="params_list",
    ),
    pytest.param(
        "params:\n  ok: 1\n  nested: {a: 1}",
        r":5: error: 'params\.nested' must be a scalar or a list of scalars, not a mapping",
        id="params_nested",
    ),
    pytest.param(
        "params:\n  when: 2024-01-01",
        r":4: error: 'params\.when' must be a scalar.*quote dates",
        id="params_date",
    ),
    pytest.param("params:\n  x: .nan", r":4: error: 'params\.x' must be a scalar", id="params_nan"),
    pytest.param(
        "params:\n  my-param: 1",
        r":4: error: parameter name 'my-param' is not a Python identifier",
        id="params_name",
    ),
    pytest.param(
        "resources:\n  memory: 100",
        r":4: error: unknown resource 'memory'; did you mean 'mem_mb'\?; known resources: "
        r"cpus, mem_mb, gpu, runtime",
        id="resources_unknown",
    ),
    pytest.param(
        "resources:\n  cpus: 0", r":4: error: 'resources\.cpus' must be a positive", id="cpus_zero"
    ),
    pytest.param(
        "resources:\n  gpu: -1",
        r":4: error: 'resources\.gpu' must be a whole number >= 0",
        id="gpu_negative",
    ),
    pytest.param(
        "resources:\n  runtime: 1.5",
        r":4: error: 'resources\.runtime' must be a positive whole number, not 1\.5; "
        r"minutes the whole notebook may run, e\.g\. runtime: 90 \[bad-front-matter\]",
        id="runtime_fraction",
    ),
    pytest.param(
        "resources:\n  runtime: 0", r":4: error: 'resources\.runtime' must be", id="runtime_zero"
    ),
    pytest.param("resources: 4", r":3: error: 'resources' must be a mapping", id="resources_int"),
    pytest.param("kernel: [a]", r":3: error: 'kernel' must be a kernel name", id="kernel_list"),
    pytest.param(
        "kernel: two words", r":3: error: 'kernel' must be a kernel name", id="kernel_space"
    ),
]


@pytest.mark.parametrize(("setting", "pattern"), BAD_SETTINGS)
def test_bad_settings_are_one_line_errors_at_their_line(
    tmp_path: Path, setting: str, pattern: str
) -> None:
    text = f"---\noutputs: [results/a.csv]\n{setting}\n---\n"
    with pytest.raises(ChapterwiseError) as info:
        parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)
    (diag,) = info.value.diagnostics
    line = format_diagnostic(diag)
    assert "\n" not in line
    assert re.search(pattern, line), line


def test_gpu_zero_is_allowed(tmp_path: Path) -> None:
    text = "---\noutputs: [results/a.csv]\nresources: {gpu: 0}\n---\n"
    front = parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)
    assert front.resources.snakemake_resources() == {"gpu": 0}


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = "---\noutputs: [results/a.csv]\ntimeout: x\nkernel: 3\n---\n"
    with pytest.raises(ChapterwiseError) as info:
        parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)
    assert [d.line for d in info.value.diagnostics] == [3, 4]


def test_misspelt_keys_warn_and_quarto_keys_do_not(tmp_path: Path) -> None:
    text = (
        "---\ntitle: T\nformat: html\nexecute: {echo: false}\njupyter: python3\n"
        "outputs: [results/a.csv]\nouputs: [results/b.csv]\nparam: {a: 1}\n---\n"
    )
    front = parse_front_matter(text, path="notebooks/a.qmd", root=tmp_path)
    assert [format_diagnostic(d) for d in front.warnings] == [
        "notebooks/a.qmd:7: warning: unknown front matter key 'ouputs'; did you mean 'outputs'? "
        "[unknown-key]",
        "notebooks/a.qmd:8: warning: unknown front matter key 'param'; did you mean 'params'? "
        "[unknown-key]",
    ]
    assert all(d.severity is Severity.WARNING for d in front.warnings)


FRAGMENTS = st.sampled_from(
    [
        "---\n",
        "params:",
        "timeout:",
        "resources:",
        "  cpus: ",
        "kernel:",
        "1",
        "-1",
        "x-y",
        "{a: [1, {b: 2}]}",
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
