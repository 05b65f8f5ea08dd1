"""The validators as one command: run checks, apply the configured severities, report.

Each check returns Diagnostics whose ``code`` is its check id; ``config.yaml``'s ``checks:``
maps an id to ``error``, ``warning`` or ``off``. Reports go to the terminal as compiler-style
lines, as JSON (``build/reports/<check>.json``) or as GitHub workflow commands.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from chapterwise.config import Config
from chapterwise.diagnostics import (
    ChapterwiseError,
    Diagnostic,
    Severity,
    error,
    format_diagnostic,
    warning,
)
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.project import BUILD_DIR, TABLES_DIR, Project, load_project
from chapterwise.texlog import read_tex_log

FORMATS = ("text", "json", "github")
STATIC_CHECKS = ("bibliography", "crossrefs", "artifacts")
BUILD_CHECKS = ("logs", "pdf")
CHECKS = (*STATIC_CHECKS, *BUILD_CHECKS)
_LEVELS = {"error": Severity.ERROR, "warning": Severity.WARNING, "note": Severity.NOTE}


def apply_severities(
    diagnostics: Iterable[Diagnostic], overrides: Mapping[str, str]
) -> list[Diagnostic]:
    """Re-level each diagnostic whose code the config names; ``off`` drops it."""
    result = []
    for diag in diagnostics:
        level = overrides.get(diag.code)
        if level == "off":
            continue
        if level in _LEVELS:
            diag = Diagnostic(
                _LEVELS[level],
                diag.message,
                diag.code,
                diag.path,
                diag.line,
                diag.column,
                diag.hint,
            )
        result.append(diag)
    return result


def check_artifacts(project: Project) -> list[Diagnostic]:
    """Referenced files nothing provides (errors) and generated files no chapter uses."""
    found = list(project.missing())
    used = set(project.preamble.files)
    for deps in project.chapter_deps.values():
        used.update(deps.files)
    generated = {
        **{output: project.producers[output] for output in project.producers},
        **{path: "" for path in project.rendered_tables()},
        **{pdf: "" for pdf in project.diagrams},
    }
    for output in sorted(generated):
        if output in used or not output.startswith(("figures/", f"{TABLES_DIR}/")):
            continue
        notebook = project.notebook(generated[output]) if generated[output] else None
        if notebook is not None:
            path, line = notebook.path, notebook.front.lines.get(output, 1)
        elif output in project.diagrams:
            path, line = project.diagrams[output], None  # the .dot it is drawn from
        else:
            path, line = output, None
        found.append(
            warning(
                f"'{output}' is generated but no chapter uses it",
                "unused-artifact",
                path,
                line,
                hint="\\input or \\includegraphics it, or stop generating it",
            )
        )
    return found


def check_missing_files(root: Path, main: str, generated: Iterable[str] = ()) -> list[Diagnostic]:
    """Files any thesis reads from ``main`` (``\\input``, ``\\include``, ``\\includegraphics``,
    bibliographies) that neither exist nor are generated: the artifacts check of a thesis that
    is not laid out for chapterwise.

    What LaTeX would find (``\\graphicspath``, pdfTeX's extension search) is decided by the
    same resolver the project inventory uses, so both report the same files.
    """
    from chapterwise.project import find_missing

    return find_missing(root, main, generated)


def check_logs(logs: Sequence[Path], *, root: Path) -> list[Diagnostic]:
    """The TeX logs of the chapter and thesis builds as compiler-style lines, without repeats.

    Overfull boxes are counted per source file rather than listed one by one.
    """
    seen: set[Diagnostic] = set()
    found: list[Diagnostic] = []
    overfull: Counter[str] = Counter()
    first_overfull: dict[str, int | None] = {}
    for log in logs:
        for diag in read_tex_log(log, root=root):
            if diag in seen:
                continue
            seen.add(diag)
            if diag.code == "overfull-box":
                key = diag.path or "(unknown file)"
                overfull[key] += 1
                first_overfull.setdefault(key, diag.line)
                continue
            found.append(diag)
    for path, count in sorted(overfull.items()):
        boxes = "box" if count == 1 else "boxes"
        found.append(
            Diagnostic(
                Severity.NOTE,
                f"{count} overfull {boxes}",
                "overfull-box",
                path,
                first_overfull[path],
                hint="the first is at this line; the TeX log lists them all",
            )
        )
    return found


def _github_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _as_json(diag: Diagnostic) -> dict[str, object]:
    return {
        "severity": diag.severity.value,
        "code": diag.code,
        "message": diag.message,
        "path": diag.path,
        "line": diag.line,
        "column": diag.column,
        "hint": diag.hint,
    }


def render(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    """The diagnostics as text lines, a JSON document, or GitHub workflow commands."""
    if fmt == "json":
        return json.dumps([_as_json(d) for d in diagnostics], indent=2) + "\n"
    if fmt == "github":
        lines = []
        for diag in diagnostics:
            kind = {"error": "error", "warning": "warning"}.get(diag.severity.value, "notice")
            where = ",".join(
                f"{key}={value}"
                for key, value in (("file", diag.path), ("line", diag.line), ("col", diag.column))
                if value is not None
            )
            message = diag.message + (f"; {diag.hint}" if diag.hint else "")
            lines.append(
                f"::{kind} {where + ',' if where else ''}title={diag.code}::"
                f"{_github_escape(message)}"
            )
        return "".join(f"{line}\n" for line in lines)
    return "".join(f"{format_diagnostic(d)}\n" for d in diagnostics)


def write_report(path: Path, check: str, diagnostics: Sequence[Diagnostic]) -> None:
    """``build/reports/<check>.json``: counts by severity and every diagnostic."""
    counts = Counter(d.severity.value for d in diagnostics)
    document = {
        "check": check,
        "errors": counts.get("error", 0),
        "warnings": counts.get("warning", 0),
        "diagnostics": [_as_json(d) for d in diagnostics],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))


def _project(root: Path, config: Config) -> Project | None:
    """The chapterwise inventory, or None for a thesis that is not laid out for chapterwise."""
    try:
        return load_project(root, config)
    except ChapterwiseError:
        return None


_DOCUMENTCLASS = re.compile(r"^[^%\n]*\\documentclass\b", re.MULTILINE)


def main_candidates(root: Path) -> list[str]:
    """The ``.tex`` files at the top of ``root`` that have a ``\\documentclass`` line.

    This is how a repository that is not laid out for chapterwise (no ``config.yaml``,
    no ``thesis.tex``) is checked without naming its main file.
    """
    mains = []
    for path in sorted(root.glob("*.tex")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if _DOCUMENTCLASS.search(text):
            mains.append(path.name)
    return mains


def run_checks(
    root: Path, config: Config, checks: Sequence[str], main: str | None = None
) -> list[Diagnostic]:
    """Run the named checks on the thesis whose main file is ``main`` (default: the config's)."""
    candidates: list[str] = []
    if main is None:
        main = config.thesis
        if not (root / main).is_file():
            candidates = main_candidates(root)
            main = candidates[0] if len(candidates) == 1 else main
    found: list[Diagnostic] = []
    if not (root / main).is_file():
        hint = "name the main .tex"
        if len(candidates) > 1:
            hint += f" (one of {', '.join(candidates)})"
        return [error(f"main file '{main}' not found", "missing-main", hint=hint)]
    if "bibliography" in checks or "crossrefs" in checks:
        from chapterwise.refcheck import check_braces, thesis_files

        project = _project(root, config)
        generated: list[str] = []
        if project is not None:
            generated = sorted(project.generated_files())
        files, problems = thesis_files(root / main, root, generated)
        if "artifacts" in checks:  # which reports missing files itself, figures included
            problems = [problem for problem in problems if problem.code != "missing-file"]
        found.extend(problems)
        found.extend(check_braces(files))
        if "bibliography" in checks:
            from chapterwise.bibcheck import check_thesis_bibliography

            found.extend(check_thesis_bibliography(files, root=root))
        if "crossrefs" in checks:
            from chapterwise.refcheck import check_references

            found.extend(check_references(files))
    if "artifacts" in checks:
        project = _project(root, config)
        if project is not None and main == config.thesis:
            found.extend(check_artifacts(project))
        else:
            made = project.generated_files() if project is not None else ()
            found.extend(check_missing_files(root, Path(main).as_posix(), made))
    if "logs" in checks:
        project = _project(root, config)
        names = project.chapter_names if project is not None else ()
        logs = [root / BUILD_DIR / "chapters" / name / f"{name}.log" for name in names]
        logs.append(root / BUILD_DIR / "thesis" / "thesis.log")
        found.extend(check_logs(logs, root=root))
    if "pdf" in checks:
        from chapterwise.pdfcheck import check_pdf

        found.extend(
            check_pdf(
                root / config.output, shown=config.output, title=config.title, author=config.author
            )
        )
    return apply_severities(_unique(found), config.checks)


def _unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(diagnostics))
