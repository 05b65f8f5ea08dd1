"""Diagnostics: the one shape every problem takes until the CLI prints it."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, located in a file (POSIX path relative to the project root) when known."""

    severity: Severity
    message: str
    code: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None


def error(
    message: str,
    code: str,
    path: str | None = None,
    line: int | None = None,
    column: int | None = None,
    hint: str | None = None,
) -> Diagnostic:
    """Shorthand for an error-severity Diagnostic."""
    return Diagnostic(Severity.ERROR, message, code, path, line, column, hint)


def warning(
    message: str,
    code: str,
    path: str | None = None,
    line: int | None = None,
    column: int | None = None,
    hint: str | None = None,
) -> Diagnostic:
    """Shorthand for a warning-severity Diagnostic."""
    return Diagnostic(Severity.WARNING, message, code, path, line, column, hint)


def format_diagnostic(diag: Diagnostic) -> str:
    """Render compiler style: ``path:line:col: severity: message[; hint] [code]``."""
    location = ""
    if diag.path is not None:
        location = diag.path
        if diag.line is not None:
            location += f":{diag.line}"
            if diag.column is not None:
                location += f":{diag.column}"
        location += ": "
    text = f"{location}{diag.severity.value}: {diag.message}"
    if diag.hint:
        text += f"; {diag.hint}"
    return f"{text} [{diag.code}]"


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error."""
    return any(d.severity is Severity.ERROR for d in diagnostics)


class ChapterwiseError(Exception):
    """A failure that can be explained to the user by its diagnostics."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]) -> None:
        items = (diagnostics,) if isinstance(diagnostics, Diagnostic) else tuple(diagnostics)
        super().__init__("\n".join(format_diagnostic(d) for d in items))
        self.diagnostics: tuple[Diagnostic, ...] = items
