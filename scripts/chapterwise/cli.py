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
    from chapterwise.project import load_project

    root = _root(args)
    config = read_config(root)
    source = root / project_path(args.notebook, root=root, origin="command line", what="notebook")
    front = read_front_matter(source, root=root)
    try:  # what the other jobs of a build write is theirs, not an undeclared output of this one
        generated = load_project(root, config).generated_files()
    except ChapterwiseError:
        generated = frozenset()
    run = NotebookRun(
        root=root,
        source=source,
        executed=(root / args.executed).resolve(),
        log=_log_path(args, f"build/logs/render_notebook/{source.stem}.log"),
        timeout=front.timeout or config.notebook_timeout,
        source_date_epoch=config.source_date_epoch,
        html=(root / args.html).resolve() if args.html else None,
        generated=generated,
    )
    return [*front.warnings, *run_notebook(run, front)]


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


def cmd_render_diagram(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.config import read_config
    from chapterwise.diagrams import render_diagram
    from chapterwise.fsutil import project_path

    root = _root(args)
    source = project_path(args.source, root=root, origin="command line", what="diagram")
    output = project_path(args.output, root=root, origin="command line", what="output")
    return render_diagram(
        root / source,
        root / output,
        root=root,
        log=_log_path(args, f"build/logs/render_diagram/{Path(source).stem}.log"),
        source_date_epoch=read_config(root).source_date_epoch,
    )


def _compile(args: argparse.Namespace, chapter_name: str | None) -> Sequence[Diagnostic]:
    from chapterwise.config import read_config
    from chapterwise.fls import check_undeclared, read_fls
    from chapterwise.latex import (
        THESIS_JOB,
        hook_inputs,
        run_latex,
        seed_chapter_numbers,
        seed_from_thesis,
    )
    from chapterwise.project import BUILD_DIR, load_project
    from chapterwise.synctex import publish_pdf

    if chapter_name is None:
        return _assemble(args, "full")
    from chapterwise.assemble import chapter_job, read_state, run_chapter_pass

    root = _root(args)
    config = read_config(root)
    project = load_project(root, config)
    missing = project.missing(chapter_name)
    if missing:
        raise ChapterwiseError(missing)
    includes = [chapter.include for chapter in project.chapters]
    job = chapter_job(project, chapter_name)
    # \include of an excluded chapter only probes its source for existence (the .fls
    # lists it), so the other chapters' own files count as declared.
    declared = [f for files in project.chapter_inputs(chapter_name).values() for f in files]
    declared += [other.path for other in project.chapters] + hook_inputs(root)
    log_path = _log_path(args, f"build/logs/{job.jobname}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(f"latex job {job.jobname} in {job.outdir}\n", encoding="utf-8")
    state = read_state(root)
    if state is not None:
        # After a thesis build: one pass in a copy of its state, which the thesis can splice.
        result = run_chapter_pass(project, chapter_name, state, log_path=log_path)
    else:
        thesis_dir = root / BUILD_DIR / "thesis"
        seed_from_thesis(job, thesis_dir, includes)
        if not (thesis_dir / f"{THESIS_JOB}.aux").is_file():
            seed_chapter_numbers(job, project.chapter_counters())
        result = run_latex(job, includes=includes, log_path=log_path)
    publish_pdf(result.pdf, root / args.pdf)
    return check_undeclared(
        read_fls(job.directory / f"{job.jobname}.fls"),
        root=root,
        declared=declared,
        job=f"chapter '{chapter_name}'",
    )


def _assemble(args: argparse.Namespace, mode: str | None) -> Sequence[Diagnostic]:
    """The thesis PDF: spliced from the changed chapters' passes, or typeset whole."""
    from chapterwise.assemble import assemble_thesis
    from chapterwise.config import read_config
    from chapterwise.fls import check_undeclared, read_fls
    from chapterwise.latex import THESIS_JOB, hook_inputs
    from chapterwise.project import BUILD_DIR, load_project

    root = _root(args)
    config = read_config(root)
    project = load_project(root, config)
    missing = project.missing()
    if missing:
        raise ChapterwiseError(missing)
    log_path = _log_path(args, f"build/logs/{THESIS_JOB}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(f"thesis assembly in {BUILD_DIR}/thesis\n", encoding="utf-8")
    outcome = assemble_thesis(
        project, mode=mode or config.assembly, log_path=log_path, output=root / args.pdf
    )
    note = Diagnostic(Severity.NOTE, outcome.message, outcome.code, config.output)
    if outcome.kind != "full":
        return [note]
    receipt = check_undeclared(
        read_fls(root / BUILD_DIR / "thesis" / f"{THESIS_JOB}.fls"),
        root=root,
        declared=[*project.thesis_inputs(), *hook_inputs(root)],
        job="the thesis",
    )
    return [note, *outcome.diagnostics, *receipt]


def cmd_compile_chapter(args: argparse.Namespace) -> Sequence[Diagnostic]:
    return _compile(args, args.chapter)


def cmd_compile_thesis(args: argparse.Namespace) -> Sequence[Diagnostic]:
    return _assemble(args, "full")


def cmd_assemble_thesis(args: argparse.Namespace) -> Sequence[Diagnostic]:
    return _assemble(args, args.assembly)


def cmd_publish(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.synctex import publish_pdf

    root = _root(args)
    publish_pdf(root / args.source, root / args.target)
    return ()


def cmd_dag(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.config import read_config
    from chapterwise.diagnostics import error
    from chapterwise.report import REPORT_DIR, draw_dag

    root = _root(args)
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "svg")
    if fmt not in ("svg", "pdf"):
        raise ChapterwiseError(error(f"cannot draw a '{fmt}' file", "bad-usage", hint="svg or pdf"))
    output = root / (args.output or f"{REPORT_DIR}/dag.{fmt}")
    target = args.target or read_config(root).output
    draw_dag(root, target=target, output=output, fmt=fmt)
    return ()


def cmd_check(args: argparse.Namespace) -> Sequence[Diagnostic]:
    from chapterwise.check import CHECKS, STATIC_CHECKS, render, run_checks, write_report
    from chapterwise.config import read_config
    from chapterwise.diagnostics import error

    root = _root(args)
    checks = tuple(args.checks.split(",")) if args.checks else STATIC_CHECKS
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        args.exit_code = EXIT_USAGE
        return [
            error(f"no check '{unknown[0]}'", "bad-usage", hint=f"choose from {', '.join(CHECKS)}")
        ]
    try:
        found = run_checks(root, read_config(root), checks, main=args.main)
    except ChapterwiseError as exc:  # the thesis could not be read at all
        args.exit_code = EXIT_USAGE
        return exc.diagnostics
    if any(d.code == "missing-main" for d in found):
        args.exit_code = EXIT_USAGE
    if args.report:
        write_report(root / args.report, "+".join(checks), found)
    if args.format != "text":
        sys.stdout.write(render(found, args.format))
        args.printed = True
    return found


def cmd_watch(args: argparse.Namespace) -> Sequence[Diagnostic]:
    import os

    from chapterwise.watch import WatchOptions, run_watch

    root = _root(args)

    def run_step(argv: Sequence[str]) -> Sequence[Diagnostic]:
        # A rule's own command line, dispatched in this process: no interpreter start-up.
        step = build_parser().parse_args(["--root", str(root), *argv])
        return list(step.handler(step))

    cores = args.cores or os.cpu_count() or 1
    options = WatchOptions(debounce=args.debounce, cores=cores, open_viewer=args.open)
    run_watch(root, options, run_step=run_step)
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
    notebook.add_argument("--html", default=None, help="where its HTML render goes")

    table = add("render-table", cmd_render_table, "render a CSV file as a booktabs table body")
    table.add_argument("source")
    table.add_argument(
        "template", nargs="?", default=None, help="jinja2 template replacing the default"
    )
    table.add_argument("--output", required=True)

    macros = add("render-macros", cmd_render_macros, "render a JSON object as LaTeX macros")
    macros.add_argument("source")
    macros.add_argument("--output", required=True)

    diagram = add("render-diagram", cmd_render_diagram, "render a graphviz .dot file as a PDF")
    diagram.add_argument("source")
    diagram.add_argument("--output", required=True)

    chapter = add(
        "compile-chapter", cmd_compile_chapter, "typeset one chapter in the thesis' context"
    )
    chapter.add_argument("chapter")
    chapter.add_argument("--pdf", required=True)

    thesis = add("compile-thesis", cmd_compile_thesis, "typeset the whole thesis")
    thesis.add_argument("--pdf", required=True)

    assemble = add(
        "assemble-thesis",
        cmd_assemble_thesis,
        "update the thesis PDF: splice in the changed chapters, or typeset it whole",
    )
    assemble.add_argument("--pdf", required=True)
    assemble.add_argument(
        "--assembly",
        choices=("auto", "full"),
        default=None,
        help="full: always typeset the whole thesis (default: the config's 'assembly')",
    )

    publish = add("publish", cmd_publish, "atomically copy a finished PDF into place")
    publish.add_argument("source")
    publish.add_argument("target")

    dag = add("dag", cmd_dag, "draw the job graph with each job's last time and status")
    dag.add_argument("--format", choices=("svg", "pdf"), default=None, help="default: svg")
    dag.add_argument("--output", default=None, help="default: build/reports/dag.<format>")
    dag.add_argument("--target", default=None, help="default: the configured output PDF")
    check = add("check", cmd_check, "check bibliography, cross-references and generated files")
    check.add_argument("main", nargs="?", default=None, help="main .tex (default: config's)")
    check.add_argument(
        "--checks", default=None, help="comma-separated: bibliography,crossrefs,artifacts,logs,pdf"
    )
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument("--report", default=None, help="also write a JSON report to this file")
    watch = add("watch", cmd_watch, "rebuild the edited chapter's preview, then the thesis")
    watch.add_argument("--open", action="store_true", help="open the thesis PDF in a viewer once")
    watch.add_argument("--cores", type=int, default=None, help="parallel jobs (default: all)")
    watch.add_argument("--debounce", type=float, default=0.1, help="seconds that end a save burst")
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
    for line in [] if getattr(args, "printed", False) else lines:
        print(line, file=sys.stderr)
    if args.log and lines:
        log = Path(args.root) / args.log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
    if getattr(args, "exit_code", None) is not None:
        return int(args.exit_code)
    return EXIT_ERROR if any(d.severity is Severity.ERROR for d in diagnostics) else EXIT_OK
