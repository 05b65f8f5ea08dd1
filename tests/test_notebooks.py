"""Notebook execution on a real Jupyter kernel (the path used wherever quarto is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chapterwise.diagnostics import ChapterwiseError
from chapterwise.frontmatter import read_front_matter
from chapterwise.notebooks import NotebookRun, failure_line, quarto_command, run_notebook

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


def make_run(root: Path, name: str, timeout: int = 60) -> NotebookRun:
    return NotebookRun(
        root=root,
        source=root / "notebooks" / name,
        executed=root / "build" / "notebooks" / f"{Path(name).stem}.ipynb",
        log=root / "build" / "logs" / f"{name}.log",
        timeout=timeout,
        source_date_epoch=1704067200,
    )


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


def test_timeout_stops_a_hung_cell(project_dir: Path) -> None:
    text = "# ---\n# outputs:\n#   - results/t.csv\n# ---\n# %%\nimport time\ntime.sleep(30)\n"
    (project_dir / "notebooks" / "hang.py").write_text(text)
    run = make_run(project_dir, "hang.py", timeout=2)
    with pytest.raises(
        ChapterwiseError, match=r"^notebooks/hang\.py:6: error: cell 1 ran longer than 2 s"
    ):
        run_notebook(run, read_front_matter(run.source, root=project_dir))


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
