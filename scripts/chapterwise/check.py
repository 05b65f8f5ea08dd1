"""The validators as one command: run checks, apply the configured severities, report.

Each check returns Diagnostics whose ``code`` is its check id; ``config.yaml``'s ``checks:``
maps an id to ``error``, ``warning`` or ``off``. Reports go to the terminal as compiler-style
lines, as JSON (``build/reports/<check>.json``) or as GitHub workflow commands.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from chapterwise.diagnostics import Diagnostic, Severity, format_diagnostic, warning
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.project import TABLES_DIR, Project
from chapterwise.texlog import read_tex_log

FORMATS = ("text", "json", "github")
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
        **{f"{TABLES_DIR}/{name}.tex": "" for name in (*project.tables, *project.values)},
    }
    for output in sorted(generated):
        if output in used or not output.startswith(("figures/", f"{TABLES_DIR}/")):
            continue
        notebook = project.notebook(generated[output]) if generated[output] else None
        if notebook is not None:
            path, line = notebook.path, notebook.front.lines.get(output, 1)
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
