"""Notebook execution on a real Jupyter kernel (the path used wherever quarto is absent)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psutil
import pytest

from chapterwise.cli import main
from chapterwise.diagnostics import ChapterwiseError, format_diagnostic
from chapterwise.frontmatter import read_front_matter
from chapterwise.notebooks import (
    INJECTED_TAG,
    NotebookRun,
    cell_tags,
    failure_line,
    notebook_limit,
    quarto_command,
    quarto_limit,
    render_parameters,
    run_notebook,
    undeclared_outputs,
)

WRITE_CSV = (
    'import os\nos.makedirs("results", exist_ok=True)\n'
    'open("results/out.csv", "w").write("a,b\\n1,2\\n")\n'
)

NOTEBOOKS = {
    "nb.py": (
        "# ---\n# outputs:\n#   - results/out.csv\n# ---\n\n# %% [markdown]\n# Title\n\n# %%\n"
        + WRITE_CSV
    ),
    "nb.qmd": "---\ntitle: t\noutputs:\n  - results/out.csv\n---\n\nText.\n\n```{python}\n"
    + WRITE_CSV
    + "```\n",
    "nb.ipynb": json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# Title"]},
                {
                    "cell_type": "code",
                    "id": "write",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": WRITE_CSV,
                },
            ],
            "metadata": {
                "outputs": ["results/out.csv"],
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    ),
}


def make_run(
    root: Path,
    name: str,
    timeout: int = 60,
    generated: frozenset[str] = frozenset(),
    total_timeout: float | None = None,
) -> NotebookRun:
    stem = Path(name).stem
    return NotebookRun(
        root=root,
        source=root / "notebooks" / name,
        executed=root / "build" / "notebooks" / f"{stem}.ipynb",
        log=root / "build" / "logs" / f"{stem}.log",
        timeout=timeout,
        source_date_epoch=1704067200,
        html=root / "build" / "notebooks" / f"{stem}.html",
        generated=generated,
        total_timeout=total_timeout,
    )


# A cell that records who runs it: the kernel's pid and its connection file.
RECORD_KERNEL = (
    "# %%\nimport os, ipykernel\n"
    'open("build/kernel.txt", "w").write(f"{os.getpid()}\\n{ipykernel.get_connection_file()}")\n'
)


def kernel_survivors(root: Path) -> list[psutil.Process]:
    """Live processes of the kernel this run recorded: itself, or any with its connection file.

    A killed kernel may linger a moment as a zombie until its parent reaps it; that holds no
    resources and is not a survivor.
    """
    pid_text, connection_file = (root / "build" / "kernel.txt").read_text().splitlines()
    survivors = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        mine = process.info["pid"] == int(pid_text) and any(
            "ipykernel_launcher" in part for part in cmdline
        )
        if (mine or connection_file in cmdline) and process.info["status"] != psutil.STATUS_ZOMBIE:
            survivors.append(process)
    return survivors


@pytest.mark.parametrize("name", sorted(NOTEBOOKS), ids=lambda n: n.replace(".", "_"))
def test_each_format_runs_on_a_real_kernel(project_dir: Path, name: str) -> None:
    (project_dir / "notebooks" / name).write_text(NOTEBOOKS[name])
    run = make_run(project_dir, name)
    front = read_front_matter(run.source, root=project_dir)
    run_notebook(run, front)
    assert (project_dir / "results" / "out.csv").read_text() == "a,b\n1,2\n"
    executed = json.loads(run.executed.read_text())
    assert any(
        cell["cell_type"] == "code" and cell["execution_count"] == 1 for cell in executed["cells"]
    )


def test_kernel_runs_in_project_root_with_fixed_date(project_dir: Path) -> None:
    text = (
        "# ---\n# outputs:\n#   - results/env.txt\n# ---\n# %%\nimport os\n"
        'open("results/env.txt", "w").write(os.getcwd() + "|" + os.environ["SOURCE_DATE_EPOCH"])\n'
    )
    (project_dir / "notebooks" / "env.py").write_text(text)
    run = make_run(project_dir, "env.py")
    run_notebook(run, read_front_matter(run.source, root=project_dir))
    cwd, epoch = (project_dir / "results" / "env.txt").read_text().split("|")
    assert Path(cwd).resolve() == project_dir.resolve()
    assert epoch == "1704067200"


FAILING = """# ---
# outputs:
#   - results/never.csv
# ---

# %%
x = 1

# %%
def ratio(a, b):
    return a / b


y = ratio(1, 0)
"""


def test_failing_cell_names_notebook_cell_line_and_exception(project_dir: Path) -> None:
    (project_dir / "notebooks" / "fail.py").write_text(FAILING)
    run = make_run(project_dir, "fail.py")
    front = read_front_matter(run.source, root=project_dir)
    with pytest.raises(ChapterwiseError) as info:
        run_notebook(run, front)
    (diag,) = info.value.diagnostics
    assert diag.code == "cell-failed"
    assert diag.path == "notebooks/fail.py"
    # the innermost frame: the division inside ratio(), as Python's own traceback ends
    assert diag.line == FAILING.splitlines().index("    return a / b") + 1
    assert diag.message.startswith("cell 2 failed: ZeroDivisionError: division by zero")
    assert "ZeroDivisionError" in run.log.read_text()
    assert run.executed.is_file(), "the partly executed notebook is kept for inspection"


def test_failure_in_a_function_from_an_earlier_cell_points_at_that_cell(project_dir: Path) -> None:
    text = FAILING.replace("y = ratio(1, 0)\n", "\n# %%\nz = 2\nratio(z, 0)\n")
    (project_dir / "notebooks" / "fail.py").write_text(text)
    run = make_run(project_dir, "fail.py")
    with pytest.raises(ChapterwiseError) as info:
        run_notebook(run, read_front_matter(run.source, root=project_dir))
    (diag,) = info.value.diagnostics
    assert diag.message.startswith("cell 3 failed: ZeroDivisionError")
    assert diag.line == text.splitlines().index("    return a / b") + 1


def test_declared_output_not_written(project_dir: Path) -> None:
    text = (
        "# ---\n# outputs:\n#   - results/a.csv\n#   - figures/forgotten.pdf\n# ---\n# %%\n"
        + WRITE_CSV.replace("out.csv", "a.csv")
    )
    (project_dir / "notebooks" / "lazy.py").write_text(text)
    run = make_run(project_dir, "lazy.py")
    with pytest.raises(
        ChapterwiseError,
        match=r"^notebooks/lazy\.py:4: error: "
        r"declared output 'figures/forgotten\.pdf' was not written",
    ):
        run_notebook(run, read_front_matter(run.source, root=project_dir))


def test_stale_output_from_an_earlier_run_does_not_count(project_dir: Path) -> None:
    (project_dir / "results" / "old.csv").write_text("stale\n")
    os.utime(project_dir / "results" / "old.csv", (1_000_000, 1_000_000))
    text = "# ---\n# outputs:\n#   - results/old.csv\n# ---\n# %%\nx = 1\n"
    (project_dir / "notebooks" / "stale.py").write_text(text)
    run = make_run(project_dir, "stale.py")
    stale = r"declared output 'results/old\.csv' was not written"
    with pytest.raises(ChapterwiseError, match=stale):
        run_notebook(run, read_front_matter(run.source, root=project_dir))


def test_timeout_stops_a_hung_cell_and_kills_its_kernel(project_dir: Path) -> None:
    """The hung cell waits on a child process: kernel and child are both gone afterwards."""
    text = (
        "# ---\n# outputs:\n#   - results/t.csv\n# ---\n"
        + RECORD_KERNEL
        + "\n# %%\nimport subprocess\n"
        + 'child = subprocess.Popen(["sleep", "300"])\n'
        + 'open("build/child.txt", "w").write(str(child.pid))\n'
        + "child.wait()\n"
    )
    (project_dir / "notebooks" / "hang.py").write_text(text)
    run = make_run(project_dir, "hang.py", timeout=2)
    with pytest.raises(
        ChapterwiseError,
        match=r"^notebooks/hang\.py:10: error: cell 2 timed out after 2 s \[cell-timeout\]$",
    ):
        run_notebook(run, read_front_matter(run.source, root=project_dir))
    assert kernel_survivors(project_dir) == []
    child = int((project_dir / "build" / "child.txt").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE, (
        "the process the hung cell waited on was killed with its kernel"
    )


def test_many_short_cells_end_at_the_notebook_limit(project_dir: Path) -> None:
    """Each cell is far below its own limit; together they pass the notebook's."""
    cells = "".join(f"\n# %%\ntime.sleep(0.5)  # step {n}\n" for n in range(1, 41))
    text = "# ---\n# outputs: [results/m.csv]\n# ---\n" + RECORD_KERNEL + "import time\n" + cells
    (project_dir / "notebooks" / "many.py").write_text(text)
    run = make_run(project_dir, "many.py", timeout=60, total_timeout=6)
    with pytest.raises(ChapterwiseError) as info:
        run_notebook(run, read_front_matter(run.source, root=project_dir))
    line = format_diagnostic(info.value.diagnostics[0])
    found = re.fullmatch(
        r"notebooks/many\.py:(\d+): error: cell (\d+) was running when the notebook timed out "
        r"after 6 s; resources\.runtime \(minutes\) limits the whole notebook \[notebook-timeout\]",
        line,
    )
    assert found, line
    number, cell = int(found.group(1)), int(found.group(2))
    assert text.splitlines()[number - 1] == f"time.sleep(0.5)  # step {cell - 1}"
    assert kernel_survivors(project_dir) == []


def test_the_notebook_limit_is_resources_runtime(project_dir: Path) -> None:
    text = "# ---\n# outputs: [results/r.csv]\n# resources: {runtime: 2}\n# ---\n# %%\nx = 1\n"
    (project_dir / "notebooks" / "r.py").write_text(text)
    front = read_front_matter(project_dir / "notebooks" / "r.py", root=project_dir)
    assert notebook_limit(make_run(project_dir, "r.py", timeout=5), front) == 120
    assert notebook_limit(make_run(project_dir, "r.py", total_timeout=7), front) == 7
    assert quarto_limit(make_run(project_dir, "r.py", timeout=5), front, code_cells=3) == 120
    (project_dir / "notebooks" / "n.py").write_text(text.replace("# resources: {runtime: 2}\n", ""))
    plain = read_front_matter(project_dir / "notebooks" / "n.py", root=project_dir)
    assert notebook_limit(make_run(project_dir, "n.py", timeout=5), plain) is None
    # quarto cannot stop one cell: it gets the kernel path's worst case, a full timeout per cell
    assert quarto_limit(make_run(project_dir, "n.py", timeout=5), plain, code_cells=3) == 15
    assert quarto_limit(make_run(project_dir, "n.py", timeout=5), plain, code_cells=0) == 5


def test_front_matter_timeout_reaches_the_command(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``timeout:`` overrides config.yaml's notebook_timeout; the kernel is killed."""
    text = (
        "# ---\n# outputs:\n#   - results/t.csv\n# timeout: 2\n# ---\n"
        + RECORD_KERNEL
        + "\n# %%\nwhile True:\n    pass\n"
    )
    (project_dir / "notebooks" / "spin.py").write_text(text)
    code = main(
        [
            "--root",
            str(project_dir),
            "render-notebook",
            "notebooks/spin.py",
            "--executed",
            "build/notebooks/spin.ipynb",
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "notebooks/spin.py:11: error: cell 2 timed out after 2 s [cell-timeout]"
    )
    assert kernel_survivors(project_dir) == []


def test_failure_line_without_cell_frames_falls_back() -> None:
    assert failure_line("SyntaxError: invalid syntax", [3, 9], 9) == 9
    assert failure_line("Cell In[2], line 4", [3, 9], 9) == 12
    assert failure_line("Cell In[7], line 4", [3, 9], 9) == 9


def test_quarto_command_line() -> None:
    argv = quarto_command(
        "notebooks/explore.qmd", executed="/p/build/notebooks/explore.ipynb", root=Path("/p")
    )
    assert argv == (
        "quarto",
        "render",
        "notebooks/explore.qmd",
        "--to",
        "ipynb",
        "--execute",
        "--execute-dir",
        "/p",
        "--output-dir",
        "/p/build/notebooks",
        "--output",
        "explore.ipynb",
    )


PARAMS_PY = """# ---
# outputs:
#   - results/p.json
# params:
#   alpha: 0.25
#   label: it's "quoted"
#   grid: [1, 2.5, null, true]
# ---

# %%
import json

# %% tags=["parameters"]
alpha = 1.0
label = "default"
grid = []

# %%
with open("results/p.json", "w") as handle:
    json.dump({"alpha": alpha, "label": label, "grid": grid}, handle)
"""

PARAMS_QMD = """---
outputs:
  - results/p.json
params:
  alpha: 0.25
  label: it's "quoted"
  grid: [1, 2.5, null, true]
---

```{python}
import json
```

```{python}
#| tags: [parameters]
alpha = 1.0
label = "default"
grid = []
```

```{python}
with open("results/p.json", "w") as handle:
    json.dump({"alpha": alpha, "label": label, "grid": grid}, handle)
```
"""


def _code(cell_id: str, source: str) -> dict[str, object]:
    return {
        "id": cell_id,
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


PARAMS_IPYNB = json.dumps(
    {
        "cells": [
            _code("imports", "import json"),
            {
                **_code("defaults", 'alpha = 1.0\nlabel = "default"\ngrid = []'),
                "metadata": {"tags": ["parameters"]},
            },
            _code(
                "write",
                'with open("results/p.json", "w") as handle:\n'
                '    json.dump({"alpha": alpha, "label": label, "grid": grid}, handle)',
            ),
        ],
        "metadata": {
            "outputs": ["results/p.json"],
            "params": {"alpha": 0.25, "label": 'it\'s "quoted"', "grid": [1, 2.5, None, True]},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    },
    indent=1,
)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("p.py", PARAMS_PY, id="py"),
        pytest.param("p.qmd", PARAMS_QMD, id="qmd"),
        pytest.param("p.ipynb", PARAMS_IPYNB, id="ipynb"),
    ],
)
def test_params_are_injected_after_the_parameters_cell(
    project_dir: Path, name: str, text: str
) -> None:
    (project_dir / "notebooks" / name).write_text(text)
    run = make_run(project_dir, name)
    assert run_notebook(run, read_front_matter(run.source, root=project_dir)) == ()
    written = json.loads((project_dir / "results" / "p.json").read_text())
    assert written == {"alpha": 0.25, "label": 'it\'s "quoted"', "grid": [1, 2.5, None, True]}
    cells = [c for c in json.loads(run.executed.read_text())["cells"] if c["cell_type"] == "code"]
    injected = [i for i, c in enumerate(cells) if INJECTED_TAG in c["metadata"].get("tags", [])]
    assert injected == [2], "the injected cell follows the cell tagged 'parameters'"
    source = "".join(cells[2]["source"])
    assert "alpha = 0.25" in source and "grid = [1, 2.5, None, True]" in source
    assert cells[2]["execution_count"] == 3
    html = run.html.read_text() if run.html else ""
    assert html.startswith("<!DOCTYPE html>") and "injected by chapterwise" in html


def test_params_without_a_parameters_cell_go_first(project_dir: Path) -> None:
    text = (
        "# ---\n# outputs: [results/p.txt]\n# params: {n: 3}\n# ---\n"
        '# %%\nopen("results/p.txt", "w").write(str(n * 2))\n'
    )
    (project_dir / "notebooks" / "first.py").write_text(text)
    run = make_run(project_dir, "first.py")
    run_notebook(run, read_front_matter(run.source, root=project_dir))
    assert (project_dir / "results" / "p.txt").read_text() == "6"
    cells = json.loads(run.executed.read_text())["cells"]
    assert cells[0]["metadata"]["tags"] == [INJECTED_TAG]


def test_a_failure_after_injected_params_keeps_lines_and_cell_numbers(project_dir: Path) -> None:
    text = (
        "# ---\n# outputs: [results/p.txt]\n# params: {n: 0}\n# ---\n"
        "# %% tags=['parameters']\nn = 1\n\n# %%\nx = 1\ny = 1 / n\n"
    )
    (project_dir / "notebooks" / "div.py").write_text(text)
    run = make_run(project_dir, "div.py")
    with pytest.raises(ChapterwiseError) as info:
        run_notebook(run, read_front_matter(run.source, root=project_dir))
    assert format_diagnostic(info.value.diagnostics[0]).startswith(
        "notebooks/div.py:10: error: cell 2 failed: ZeroDivisionError: division by zero"
    )
    kept = run.log.with_suffix(".html")
    assert kept.is_file(), "the partly executed notebook is kept beside the log"
    assert run.log.with_suffix(".ipynb").is_file()


def test_render_parameters_writes_python_literals() -> None:
    source = render_parameters({"a": 1, "b": "x'y", "c": [None, True, 0.1], "d": 1e-12})
    namespace: dict[str, object] = {}
    exec(source, namespace)
    assert {k: namespace[k] for k in "abcd"} == {
        "a": 1,
        "b": "x'y",
        "c": [None, True, 0.1],
        "d": 1e-12,
    }


def test_cell_tags_from_metadata_and_quarto_options() -> None:
    assert cell_tags({"metadata": {"tags": ["parameters"]}, "source": "x = 1"}) == ["parameters"]
    assert cell_tags({"metadata": {}, "source": "#| label: a\n#| tags: [parameters, b]\nx"}) == [
        "parameters",
        "b",
    ]
    assert cell_tags({"metadata": {}, "source": "x = 1\n#| tags: [parameters]"}) == []


def test_quarto_command_passes_params_with_dash_p() -> None:
    argv = quarto_command(
        "notebooks/explore.qmd",
        executed="/p/build/notebooks/explore.ipynb",
        root=Path("/p"),
        params={"alpha": 0.5, "label": "a b", "grid": [1, None], "flag": True},
    )
    index = argv.index("-P")
    assert argv[index : index + 8] == (
        "-P",
        "alpha:0.5",
        "-P",
        'label:"a b"',
        "-P",
        "grid:[1, null]",
        "-P",
        "flag:true",
    )
    assert argv[-4:] == ("--output-dir", "/p/build/notebooks", "--output", "explore.ipynb")


UNDECLARED = """# ---
# outputs:
#   - results/mine.csv
# ---
# %%
import os
os.makedirs("figures/sub", exist_ok=True)
open("results/mine.csv", "w").write("a\\n")
open("figures/extra.pdf", "w").write("x")
open("figures/sub/more.png", "w").write("x")
open("results/other.csv", "w").write("x")  # declared by another notebook
open("data/scratch.txt", "w").write("x")  # not a folder the thesis reads generated files from
"""


def test_undeclared_outputs_are_warnings(project_dir: Path) -> None:
    (project_dir / "notebooks" / "extra.py").write_text(UNDECLARED)
    run = make_run(project_dir, "extra.py", generated=frozenset({"results/other.csv"}))
    warnings = run_notebook(run, read_front_matter(run.source, root=project_dir))
    assert [format_diagnostic(d) for d in warnings] == [
        "notebooks/extra.py:1: warning: wrote 'figures/extra.pdf', which its front matter "
        "does not declare [undeclared-output]",
        "notebooks/extra.py:1: warning: wrote 'figures/sub/more.png', which its front matter "
        "does not declare [undeclared-output]",
    ]


def test_undeclared_outputs_compares_snapshots() -> None:
    before = {"figures/a.pdf": (1, 10), "figures/b.pdf": (1, 10)}
    after = {"figures/a.pdf": (1, 10), "figures/b.pdf": (2, 10), "figures/c.pdf": (2, 1)}
    assert undeclared_outputs(before, after, declared=["figures/c.pdf"], generated=[]) == [
        "figures/b.pdf"
    ]


def test_unknown_kernel_points_at_the_kernel_key(project_dir: Path) -> None:
    text = "# ---\n# outputs: [results/k.csv]\n# kernel: no-such-kernel\n# ---\n# %%\nx = 1\n"
    (project_dir / "notebooks" / "k.py").write_text(text)
    run = make_run(project_dir, "k.py")
    with pytest.raises(
        ChapterwiseError,
        match=r"^notebooks/k\.py:3: error: kernel 'no-such-kernel' is not installed .*"
        r"installed kernels: .*python3",
    ):
        run_notebook(run, read_front_matter(run.source, root=project_dir))


# A valid notebook output nbconvert cannot render: its template reads the image's metadata as
# a mapping (width, height), and nbformat allows any JSON value there.
UNRENDERABLE = """# ---
# outputs: [results/art.csv]
# ---
# %%
from IPython.display import display
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
       "60e6kgAAAABJRU5ErkJggg==")
display({"image/png": PNG}, metadata={"image/png": "wide"}, raw=True)
open("results/art.csv", "w").write("ok\\n")
"""


def test_a_notebook_nbconvert_cannot_render_gets_a_page_saying_why(project_dir: Path) -> None:
    (project_dir / "notebooks" / "art.py").write_text(UNRENDERABLE)
    run = make_run(project_dir, "art.py")
    warnings = run_notebook(run, read_front_matter(run.source, root=project_dir))
    assert [format_diagnostic(d) for d in warnings] == [
        "notebooks/art.py: warning: could not render HTML: AttributeError: 'str' object has no "
        "attribute 'get'; see build/logs/art.log [html-render-failed]"
    ]
    assert (project_dir / "results" / "art.csv").read_text() == "ok\n", "the notebook ran"
    page = run.html.read_text() if run.html else ""
    assert page.startswith("<!DOCTYPE html>")
    assert "nbconvert could not render this notebook" in page and "art.ipynb" in page
    assert "Traceback" in run.log.read_text(), "the traceback of the render is in the log"
