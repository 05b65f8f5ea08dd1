"""Command line: one subcommand per build step, and the one place that prints and exits."""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from chapterwise import __version__
from chapterwise.diagnostics import ChapterwiseError, Diagnostic, Severity, format_diagnostic

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], Sequence[Diagnostic]]


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve()


def _log_path(args: argparse.Namespace, default: str) -> Path:
    return (_root(args) / (args.log or default)).resolve()


def cmd_render_notebook(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.config import read_config
    from chapterwise.frontmatter import read_front_matter
    from chapterwise.fsutil import project_path
    from chapterwise.notebooks import NotebookRun, run_notebook

    root = _root(args)
    config = read_config(root)
    source = root / project_path(args.notebook, root=root, origin="command line", what="notebook")
    front = read_front_matter(source, root=root)
    run = NotebookRun(
        root=root,
        source=source,
        executed=(root / args.executed).resolve(),
        log=_log_path(args, f"build/logs/render_notebook/{source.stem}.log"),
        timeout=config.notebook_timeout,
        source_date_epoch=config.source_date_epoch,
    )
    run_notebook(run, front)
    return ()


def cmd_render_table(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.tables import render_table_file

    root = _root(args)
    template = root / args.template if args.template else None
    render_table_file(root / args.source, root / args.output, template_path=template, root=root)
    return ()


def cmd_render_macros(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.tables import render_macros_file

    root = _root(args)
    render_macros_file(root / args.source, root / args.output, root=root)
    return ()


def _compile(args: argparse.Namespace, chapter_name: str | None) -> Sequence[Diagnostic]:
    from chapterwise.config import read_config
    from chapterwise.fls import check_undeclared, read_fls
    from chapterwise.fsutil import copy_atomic
    from chapterwise.latex import (
        THESIS_JOB,
        LatexJob,
        run_latex,
        seed_chapter_numbers,
        seed_from_thesis,
    )
    from chapterwise.project import BUILD_DIR, load_project

    root = _root(args)
    config = read_config(root)
    project = load_project(root, config)
    missing = project.missing(chapter_name)
    if missing:
        raise ChapterwiseError(missing)
    includes = [chapter.include for chapter in project.chapters]
    if chapter_name is None:
        job = LatexJob(
            root, config.thesis, THESIS_JOB, f"{BUILD_DIR}/thesis", None, config.source_date_epoch
        )
        declared = project.thesis_inputs()
    else:
        chapter = project.chapter(chapter_name)
        job = LatexJob(
            root,
            config.thesis,
            chapter.name,
            f"{BUILD_DIR}/chapters/{chapter.name}",
            chapter.include,
            config.source_date_epoch,
        )
        thesis_dir = root / BUILD_DIR / "thesis"
        seed_from_thesis(job, thesis_dir, includes)
        if not (thesis_dir / f"{THESIS_JOB}.aux").is_file():
            seed_chapter_numbers(job, project.chapter_counters())
        # \include of an excluded chapter only probes its source for existence (the .fls
        # lists it), so the other chapters' own files count as declared.
        declared = [f for files in project.chapter_inputs(chapter.name).values() for f in files]
        declared += [other.path for other in project.chapters]
    log_path = _log_path(args, f"build/logs/{job.jobname}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(f"latex job {job.jobname} in {job.outdir}\n", encoding="utf-8")
    result = run_latex(job, includes=includes, log_path=log_path)
    copy_atomic(result.pdf, root / args.pdf)
    what = "the thesis" if chapter_name is None else f"chapter '{chapter_name}'"
    receipt = check_undeclared(
        read_fls(job.directory / f"{job.jobname}.fls"), root=root, declared=declared, job=what
    )
    if chapter_name is None:
        return [*(d for d in result.diagnostics if d.severity is Severity.WARNING), *receipt]
    return receipt


def cmd_compile_chapter(args: argparse.Namespace) -> Sequence[Diagnostic]:
    return _compile(args, args.chapter)


def cmd_compile_thesis(args: argparse.Namespace) -> Sequence[Diagnostic]:
    return _compile(args, None)


def cmd_publish(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.fsutil import copy_atomic

    root = _root(args)
    copy_atomic(root / args.source, root / args.target)
    return ()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chapterwise",
        description="Build steps of a chapterwise thesis (called by the Snakefile's rules).",
    )
    parser.add_argument("--version", action="version", version=f"chapterwise {__version__}")
    parser.add_argument("--root", default=".", help="project root (default: current directory)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log", default=None, help="log file for tool output and diagnostics")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        command.set_defaults(handler=handler)
        return command

    notebook = add(
        "render-notebook", cmd_render_notebook, "execute a notebook and check its outputs"
    )
    notebook.add_argument("notebook")
    notebook.add_argument("--executed", required=True, help="where the executed .ipynb goes")

    table = add("render-table", cmd_render_table, "render a CSV file as a booktabs table body")
    table.add_argument("source")
    table.add_argument(
        "template", nargs="?", default=None, help="jinja2 template replacing the default"
    )
    table.add_argument("--output", required=True)

    macros = add("render-macros", cmd_render_macros, "render a JSON object as LaTeX macros")
    macros.add_argument("source")
    macros.add_argument("--output", required=True)

    chapter = add(
        "compile-chapter", cmd_compile_chapter, "typeset one chapter in the thesis' context"
    )
    chapter.add_argument("chapter")
    chapter.add_argument("--pdf", required=True)

    thesis = add("compile-thesis", cmd_compile_thesis, "typeset the whole thesis")
    thesis.add_argument("--pdf", required=True)

    publish = add("publish", cmd_publish, "atomically copy a finished PDF into place")
    publish.add_argument("source")
    publish.add_argument("target")
    return parser


def _write_crash_log(root: Path) -> Path:
    crash = root / "build" / "logs" / f"crash-{time.strftime('%Y%m%dT%H%M%S')}.log"
    crash.parent.mkdir(parents=True, exist_ok=True)
    crash.write_text(
        f"chapterwise {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"argv: {sys.argv}\n\n{traceback.format_exc()}",
        encoding="utf-8",
    )
    return crash


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        diagnostics = list(args.handler(args))
    except ChapterwiseError as exc:
        diagnostics = list(exc.diagnostics)
        if not any(d.severity is Severity.ERROR for d in diagnostics):
            diagnostics.append(Diagnostic(Severity.ERROR, "failed", "failed"))
    except KeyboardInterrupt:
        print("chapterwise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place a bug is turned into a message
        crash = _write_crash_log(Path(args.root))
        print(f"chapterwise: internal error: {exc!r}; details in {crash}", file=sys.stderr)
        return EXIT_INTERNAL
    lines = [format_diagnostic(diagnostic) for diagnostic in diagnostics]
    for line in lines:
        print(line, file=sys.stderr)
    if args.log and lines:
        log = Path(args.root) / args.log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
    return EXIT_ERROR if any(d.severity is Severity.ERROR for d in diagnostics) else EXIT_OK
