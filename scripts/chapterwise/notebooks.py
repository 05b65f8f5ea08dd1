"""Execute one notebook and check it wrote what it declared.

``quarto render`` when quarto is on PATH (parameters as ``-P name:value``); otherwise jupytext
reads the notebook, the parameters go into an injected cell (papermill's convention) and nbclient
runs it on a real Jupyter kernel. Either way the executed notebook lands in build/notebooks/ with
an HTML render beside it, every declared output must exist afterwards, and files written into
figures/, tables/ or results/ that nobody declares are reported.

Two time limits end a hung kernel: ``timeout`` for each cell and, when the front matter
declares ``resources: {runtime: minutes}``, one for the whole notebook (the limit a cluster
would enforce, enforced the same way on a laptop). quarto cannot stop one cell, so it gets
the whole notebook's limit, or else the worst case the kernel path allows: ``timeout`` times
the number of code cells.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error, warning
from chapterwise.frontmatter import FrontMatter, NotebookFormat, ParamValue, notebook_format
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.process import failure_message, run_tool

KERNEL_NAME = "python3"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# Where notebooks put what the thesis uses; a file written here must be declared.
WATCHED_DIRS = ("figures", "tables", "results")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\s*\[(\d*)\], line (\d+)")
_FENCE = re.compile(r"^```+\s*\{(?:python|py)\b[^}]*\}\s*$")
_TAGS_OPTION = re.compile(r"^#\|\s*tags\s*:(.*)$")


@dataclass(frozen=True, slots=True)
class NotebookRun:
    """Where one execution reads from and writes to (all paths absolute)."""

    root: Path
    source: Path
    executed: Path
    log: Path
    timeout: int
    source_date_epoch: int
    html: Path | None = None
    # Files other jobs of the build write (declared elsewhere): not this notebook's business.
    generated: frozenset[str] = frozenset()
    # Seconds the whole notebook may run; None: the front matter's resources.runtime, if any.
    total_timeout: float | None = None

    @property
    def relative(self) -> str:
        return self.source.relative_to(self.root).as_posix()

    def shown(self, path: Path) -> str:
        """``path`` as messages show it: relative to the project when inside it."""
        inside = path.is_relative_to(self.root)
        return path.relative_to(self.root).as_posix() if inside else str(path)


def quarto_command(
    source: str, *, executed: str, root: Path, params: Mapping[str, ParamValue] | None = None
) -> tuple[str, ...]:
    """argv for ``quarto render`` writing the executed notebook to ``executed``.

    Each parameter becomes ``-P name:value``; quarto reads the value as YAML, and JSON is YAML.
    """
    executed_path = Path(executed)
    param_args: list[str] = []
    for name, value in (params or {}).items():
        param_args += ["-P", f"{name}:{json.dumps(value)}"]
    return (
        "quarto",
        "render",
        source,
        "--to",
        "ipynb",
        "--execute",
        "--execute-dir",
        str(root),
        *param_args,
        "--output-dir",
        str(executed_path.parent),
        "--output",
        executed_path.name,
    )


def notebook_limit(run: NotebookRun, front: FrontMatter) -> float | None:
    """Seconds the whole notebook may run, or None for no limit beyond each cell's."""
    if run.total_timeout is not None:
        return run.total_timeout
    runtime = front.resources.runtime
    return None if runtime is None else runtime * 60.0


def quarto_limit(run: NotebookRun, front: FrontMatter, code_cells: int) -> float:
    """The one limit quarto runs under: the notebook's, else ``timeout`` for each code cell."""
    limit = notebook_limit(run, front)
    return limit if limit is not None else float(run.timeout * max(code_cells, 1))


def _limit_line(front: FrontMatter) -> int:
    """Where a whole-notebook timeout is reported: the key that set the limit."""
    for key in ("resources.runtime", "timeout"):
        if key in front.key_lines:
            return front.key_lines[key]
    return front.header_line


def render_parameters(params: Mapping[str, ParamValue]) -> str:
    """The source of the injected cell: one assignment per parameter, as a Python literal."""
    lines = ["# Parameters (injected by chapterwise from the front matter)"]
    lines += [f"{name} = {value!r}" for name, value in params.items()]
    return "\n".join(lines)


def cell_tags(cell: Any) -> list[str]:
    """A cell's tags: its metadata, or a quarto ``#| tags: [...]`` option line."""
    tags = [str(tag) for tag in cell.get("metadata", {}).get("tags", [])]
    for line in str(cell.get("source", "")).splitlines():
        if not line.startswith("#|"):
            break
        match = _TAGS_OPTION.match(line.strip())
        if match:
            try:
                value = yaml.safe_load(match.group(1))
            except yaml.YAMLError:
                continue
            tags += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return tags


def inject_parameters(notebook: Any, params: Mapping[str, ParamValue]) -> int | None:
    """Insert the parameters cell after the one tagged ``parameters`` (else first); its index."""
    if not params:
        return None
    from nbformat.v4 import new_code_cell

    tagged = [i for i, c in enumerate(notebook.cells) if PARAMETERS_TAG in cell_tags(c)]
    index = tagged[0] + 1 if tagged else 0
    cell = new_code_cell(render_parameters(params), metadata={"tags": [INJECTED_TAG]})  # type: ignore[no-untyped-call]
    cell["id"] = INJECTED_TAG  # a fixed id keeps the executed notebook reproducible
    notebook.cells.insert(index, cell)
    return index


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


def _kernel_failure(
    exc: Exception, *, kernel: str, run: NotebookRun, front: FrontMatter
) -> Diagnostic:
    from jupyter_client.kernelspec import KernelSpecManager

    installed = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
    return error(
        f"kernel '{kernel}' is not installed ({exc})",
        "unknown-kernel",
        run.relative,
        front.key_lines.get("kernel", front.header_line),
        hint=f"installed kernels: {installed}",
    )


def _execute_with_kernel(run: NotebookRun, front: FrontMatter) -> list[Diagnostic]:
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = read_notebook(run.source)
    kernel = front.kernel or KERNEL_NAME
    display = "Python 3" if kernel == KERNEL_NAME else kernel
    notebook.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": display,
        "language": "python",
    }
    text = run.source.read_text(encoding="utf-8")
    sources = [cell.source for cell in notebook.cells]
    starts = cell_start_lines(text, notebook_format(run.source.name), sources)
    injected = inject_parameters(notebook, front.params)
    if injected is not None:
        starts.insert(injected, front.key_lines.get("params", front.header_line))
    limit = notebook_limit(run, front)
    deadline = None if limit is None else time.monotonic() + limit
    # Each cell may run run.timeout seconds, or what is left of the notebook's limit if less.
    cell_limit = [float(run.timeout)]
    client = NotebookClient(
        notebook,
        timeout=run.timeout,
        timeout_func=lambda _cell: cell_limit[0],
        kernel_name=kernel,
        resources={"metadata": {"path": str(run.root)}},
    )
    code_starts = [starts[i] for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    problems: list[Diagnostic] = []
    hint = f"see {run.shown(run.log)}"
    try:
        with client.setup_kernel(env=kernel_environment(run, os.environ)):
            code_number = 0
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                if index != injected:
                    code_number += 1
                what = "the injected parameters cell" if index == injected else "cell"
                number = "" if index == injected else f" {code_number}"
                left = None if deadline is None else deadline - time.monotonic()
                by_deadline = left is not None and left < run.timeout
                cell_limit[0] = max(left or 0.0, 0.001) if by_deadline else float(run.timeout)
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    if by_deadline:
                        message = f"{what}{number} was running when the notebook timed out"
                        problems.append(
                            error(
                                f"{message} after {limit:g} s",
                                "notebook-timeout",
                                run.relative,
                                starts[index],
                                hint="resources.runtime (minutes) limits the whole notebook",
                            )
                        )
                    else:
                        problems.append(
                            error(
                                f"{what}{number} timed out after {run.timeout} s",
                                "cell-timeout",
                                run.relative,
                                starts[index],
                            )
                        )
                    # A hung kernel may ignore a polite shutdown request: kill it (SIGKILL to
                    # its process group, so what the cell started goes too).
                    client.shutdown_kernel = "immediate"
                    break
                except CellExecutionError as exc:
                    tb = _ANSI.sub("", str(exc))
                    line = failure_line(tb, code_starts, starts[index])
                    ename = getattr(exc, "ename", "") or "Error"
                    evalue = (getattr(exc, "evalue", "") or "").strip().splitlines()
                    detail = f"{ename}: {evalue[0]}" if evalue else ename
                    problems.append(
                        error(
                            f"{what}{number} failed: {detail}",
                            "cell-failed",
                            run.relative,
                            line,
                            hint=hint,
                        )
                    )
                    with run.log.open("a", encoding="utf-8") as handle:
                        handle.write(tb + "\n")
                    break
    except NoSuchKernel as exc:
        problems.append(_kernel_failure(exc, kernel=kernel, run=run, front=front))
    except DeadKernelError as exc:
        problems.append(error(f"the kernel died: {exc}", "kernel-died", run.relative, hint=hint))
    run.executed.parent.mkdir(parents=True, exist_ok=True)
    executed_json: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    atomic_write_bytes(run.executed, executed_json.encode("utf-8"))
    return problems


def _execute_with_quarto(run: NotebookRun, front: FrontMatter) -> list[Diagnostic]:
    command = quarto_command(
        run.relative, executed=str(run.executed), root=run.root, params=front.params
    )
    code_cells = sum(cell.cell_type == "code" for cell in read_notebook(run.source).cells)
    result = run_tool(
        command,
        cwd=run.root,
        log=run.log,
        env=kernel_environment(run, os.environ),
        timeout=quarto_limit(run, front, code_cells),
    )
    if result.ok:
        return []
    message = failure_message(result, root=run.root)
    if result.timed_out is not None:
        return [error(message, "notebook-timeout", run.relative, _limit_line(front))]
    return [error(message, "notebook-failed", run.relative)]


def render_html(executed: Path) -> bytes:
    """An executed notebook as a standalone HTML page (nbconvert's lab template)."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(executed, as_version=4)  # type: ignore[no-untyped-call]
    body, _ = HTMLExporter().from_notebook_node(notebook)  # type: ignore[no-untyped-call]
    return body.encode("utf-8")


def render_html_page(executed: Path) -> tuple[bytes, Exception | None]:
    """The HTML render of an executed notebook, or a page saying why there is none.

    The page is a declared output, and a notebook that ran is not failed by its cosmetic
    render: the caller turns the exception into a warning.
    """
    try:
        return render_html(executed), None
    except Exception as exc:  # nbconvert's templates, filters and exporters raise anything
        reason = html.escape(f"{type(exc).__name__}: {exc}")
        page = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{html.escape(executed.stem)}: no HTML render</title></head>\n"
            f"<body><h1>{html.escape(executed.stem)}: no HTML render</h1>\n"
            f"<p>nbconvert could not render this notebook: <code>{reason}</code></p>\n"
            f"<p>The executed notebook is <code>{html.escape(executed.name)}</code>, "
            "in this folder.</p></body></html>\n"
        )
        return page.encode("utf-8"), exc


def _write_html(run: NotebookRun, executed: Path, html_path: Path) -> list[Diagnostic]:
    """Write the HTML render (or the page that says why not); a failed render is a warning."""
    page, exc = render_html_page(executed)
    atomic_write_bytes(html_path, page)
    if exc is None:
        return []
    with run.log.open("a", encoding="utf-8") as handle:
        handle.write("could not render HTML:\n" + "".join(traceback.format_exception(exc)))
    first = (str(exc).strip().splitlines() or [""])[0]
    detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return [
        warning(
            f"could not render HTML: {detail}",
            "html-render-failed",
            run.relative,
            hint=f"see {run.shown(run.log)}",
        )
    ]


Snapshot = dict[str, tuple[int, int]]


def snapshot_outputs(root: Path, folders: Iterable[str] = WATCHED_DIRS) -> Snapshot:
    """(mtime in ns, size) of every file under the folders generated files go to."""
    found: Snapshot = {}
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.name.startswith(".") or not path.is_file():
                continue
            stat = path.stat()
            found[path.relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return found


def undeclared_outputs(
    before: Snapshot, after: Snapshot, *, declared: Iterable[str], generated: Iterable[str]
) -> list[str]:
    """Files created or changed between two snapshots that nobody declares, sorted."""
    known = {*declared, *generated}
    return sorted(
        path for path, state in after.items() if before.get(path) != state and path not in known
    )


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


def _keep_failed_run(run: NotebookRun) -> None:
    """Copy the partly executed notebook (and its HTML) beside the log.

    Snakemake deletes the outputs of a failed job, build/notebooks/<name>.ipynb included; the
    log folder survives, so the executed cells stay inspectable there.
    """
    if not run.executed.is_file():
        return
    kept = run.log.with_suffix(".ipynb")
    atomic_write_bytes(kept, run.executed.read_bytes())
    # The notebook's own failure is what gets reported; a failed render only goes to the log.
    _write_html(run, kept, run.log.with_suffix(".html"))


def run_notebook(run: NotebookRun, front: FrontMatter) -> tuple[Diagnostic, ...]:
    """Execute the notebook and return warnings; raise ChapterwiseError (file:line) on failure."""
    for output in front.outputs:
        (run.root / output).parent.mkdir(parents=True, exist_ok=True)
    run.log.parent.mkdir(parents=True, exist_ok=True)
    run.log.write_text(f"notebook {run.relative}\n", encoding="utf-8")
    before = snapshot_outputs(run.root)
    started = time.time()
    execute = _execute_with_quarto if shutil.which("quarto") else _execute_with_kernel
    problems = execute(run, front)
    if not problems:
        problems = check_outputs(run, front, started=started)
    found: list[Diagnostic] = [
        warning(
            f"wrote '{path}', which its front matter does not declare",
            "undeclared-output",
            run.relative,
            front.start_line,
        )
        for path in undeclared_outputs(
            before,
            snapshot_outputs(run.root),
            declared=front.outputs,
            generated=run.generated,
        )
    ]
    if problems:
        _keep_failed_run(run)
        raise ChapterwiseError([*problems, *found])
    if run.html is not None:
        found += _write_html(run, run.executed, run.html)
    return tuple(found)
