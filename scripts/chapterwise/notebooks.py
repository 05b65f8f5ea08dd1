"""Execute one notebook and check it wrote what it declared.

``quarto render`` when quarto is on PATH; otherwise jupytext reads the notebook and nbclient runs
it on a real Jupyter kernel. Either way the executed notebook lands in build/notebooks/ and every
declared output must exist afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error
from chapterwise.frontmatter import FrontMatter, NotebookFormat, notebook_format
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.process import failure_message, run_tool

KERNEL_NAME = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\s*\[(\d*)\], line (\d+)")
_FENCE = re.compile(r"^```+\s*\{(?:python|py)\b[^}]*\}\s*$")


@dataclass(frozen=True, slots=True)
class NotebookRun:
    """Where one execution reads from and writes to (all paths absolute)."""

    root: Path
    source: Path
    executed: Path
    log: Path
    timeout: int
    source_date_epoch: int

    @property
    def relative(self) -> str:
        return self.source.relative_to(self.root).as_posix()


def quarto_command(source: str, *, executed: str, root: Path) -> tuple[str, ...]:
    """argv for ``quarto render`` writing the executed notebook to ``executed``."""
    executed_path = Path(executed)
    return (
        "quarto",
        "render",
        source,
        "--to",
        "ipynb",
        "--execute",
        "--execute-dir",
        str(root),
        "--output-dir",
        str(executed_path.parent),
        "--output",
        executed_path.name,
    )


def kernel_environment(run: NotebookRun, base: Mapping[str, str]) -> dict[str, str]:
    """Reproducible figures and hashing for the kernel."""
    env = dict(base)
    env["SOURCE_DATE_EPOCH"] = str(run.source_date_epoch)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    return env


def cell_start_lines(text: str, fmt: NotebookFormat, sources: list[str]) -> list[int]:
    """For each cell (by ``sources``), the file line where its source begins (best effort).

    Text formats: the first non-blank source line is searched for after the previous cell.
    .ipynb: the line of the cell's ``"cell_type"`` key in the JSON.
    """
    lines = text.splitlines()
    found: list[int] = []
    if fmt is NotebookFormat.IPYNB:
        for match in re.finditer(r'"cell_type"\s*:', text):
            found.append(text.count("\n", 0, match.start()) + 1)
        return (found + [1] * len(sources))[: len(sources)]
    cursor = 0
    for source in sources:
        first = next((s.strip() for s in source.splitlines() if s.strip()), "")
        line_number = cursor + 1
        for index in range(cursor, len(lines)):
            candidate = lines[index].strip()
            if first and (
                candidate == first or candidate == f"# {first}" or candidate.endswith(first)
            ):
                line_number = index + 1
                cursor = index + 1
                break
        found.append(line_number)
    return found


def read_notebook(path: Path) -> Any:
    """The notebook as an nbformat node, from .ipynb, .qmd or a jupytext script."""
    import jupytext

    fmt = notebook_format(path.name)
    text = path.read_text(encoding="utf-8")
    if fmt is NotebookFormat.QMD:
        # jupytext's own .qmd reader needs quarto; R Markdown has the same ```{python} chunks.
        return jupytext.reads(text, fmt="Rmd")
    if fmt is NotebookFormat.PY:
        return jupytext.reads(text, fmt="py:percent" if "# %%" in text else "py:light")
    return jupytext.reads(text, fmt="ipynb")


def failure_line(traceback_text: str, code_starts: list[int], fallback: int) -> int:
    """The file line of the innermost notebook frame in an IPython traceback.

    ``Cell In[k], line L`` names the k-th executed code cell (a fresh kernel runs them in order)
    and a line within it; ``code_starts`` holds each code cell's first file line.
    """
    frames = _CELL_LINE.findall(traceback_text)
    if not frames:
        return fallback
    count, line = frames[-1]
    index = int(count) - 1 if count else -1
    if not 0 <= index < len(code_starts):
        return fallback
    return code_starts[index] + int(line) - 1


def _execute_with_kernel(run: NotebookRun) -> list[Diagnostic]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = read_notebook(run.source)
    notebook.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    text = run.source.read_text(encoding="utf-8")
    sources = [cell.source for cell in notebook.cells]
    starts = cell_start_lines(text, notebook_format(run.source.name), sources)
    client = NotebookClient(
        notebook,
        timeout=run.timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(run.root)}},
    )
    code_starts = [starts[i] for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    problems: list[Diagnostic] = []
    inside = run.log.is_relative_to(run.root)
    shown = run.log.relative_to(run.root).as_posix() if inside else run.log
    hint = f"see {shown}"
    try:
        with client.setup_kernel(env=kernel_environment(run, os.environ)):
            code_number = 0
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                code_number += 1
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    problems.append(
                        error(
                            f"cell {code_number} ran longer than {run.timeout} s and was stopped",
                            "cell-timeout",
                            run.relative,
                            starts[index],
                            hint=hint,
                        )
                    )
                    break
                except CellExecutionError as exc:
                    tb = _ANSI.sub("", str(exc))
                    line = failure_line(tb, code_starts, starts[index])
                    ename = getattr(exc, "ename", "") or "Error"
                    evalue = (getattr(exc, "evalue", "") or "").strip().splitlines()
                    detail = f"{ename}: {evalue[0]}" if evalue else ename
                    problems.append(
                        error(
                            f"cell {code_number} failed: {detail}",
                            "cell-failed",
                            run.relative,
                            line,
                            hint=hint,
                        )
                    )
                    with run.log.open("a", encoding="utf-8") as handle:
                        handle.write(tb + "\n")
                    break
    except DeadKernelError as exc:
        problems.append(error(f"the kernel died: {exc}", "kernel-died", run.relative, hint=hint))
    run.executed.parent.mkdir(parents=True, exist_ok=True)
    executed_json: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    atomic_write_bytes(run.executed, executed_json.encode("utf-8"))
    return problems


def _execute_with_quarto(run: NotebookRun) -> list[Diagnostic]:
    command = quarto_command(run.relative, executed=str(run.executed), root=run.root)
    result = run_tool(command, cwd=run.root, log=run.log, env=kernel_environment(run, os.environ))
    if result.ok:
        return []
    return [error(failure_message(result, root=run.root), "notebook-failed", run.relative)]


def check_outputs(run: NotebookRun, front: FrontMatter, *, started: float) -> list[Diagnostic]:
    """Every declared output must exist and have been written by this run."""
    problems = []
    for output in front.outputs:
        path = run.root / output
        if not path.is_file() or path.stat().st_mtime < started - 1:
            problems.append(
                error(
                    f"declared output '{output}' was not written",
                    "missing-output",
                    run.relative,
                    front.lines.get(output, front.header_line),
                    hint="write it from the notebook, or remove it from outputs:",
                )
            )
    return problems


def run_notebook(run: NotebookRun, front: FrontMatter) -> None:
    """Execute the notebook; raise ChapterwiseError with file:line diagnostics on failure."""
    for output in front.outputs:
        (run.root / output).parent.mkdir(parents=True, exist_ok=True)
    run.log.parent.mkdir(parents=True, exist_ok=True)
    run.log.write_text(f"notebook {run.relative}\n", encoding="utf-8")
    started = time.time()
    execute = _execute_with_quarto if shutil.which("quarto") else _execute_with_kernel
    problems = execute(run)
    if not problems:
        problems = check_outputs(run, front, started=started)
    if problems:
        raise ChapterwiseError(problems)
