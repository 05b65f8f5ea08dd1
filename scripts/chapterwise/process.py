"""The one way chapterwise runs an external tool: output to a log file, failures as data."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chapterwise.diagnostics import ChapterwiseError, error


@dataclass(frozen=True, slots=True)
class ToolResult:
    command: tuple[str, ...]
    returncode: int
    seconds: float
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def with_scripts_dir(path: str, executable: str = sys.executable) -> str:
    """``path`` (a PATH value) with the scripts folder of ``executable``'s environment first.

    The rules run ``chapterwise``; this finds the one installed beside the Python running the
    workflow also when its environment is not activated (``.venv/bin/snakemake``).
    """
    scripts = os.path.dirname(executable)
    entries = path.split(os.pathsep) if path else []
    if not scripts or scripts in entries:
        return path
    return os.pathsep.join([scripts, *entries])


def run_tool(
    command: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    append: bool = True,
) -> ToolResult:
    """Run ``command`` with stdout and stderr appended to ``log``; never raises for exit codes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(f"$ {shlex.join(command)}\n")
        handle.flush()
        try:
            completed = subprocess.run(
                list(command),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                check=False,
            )
        except FileNotFoundError:
            raise ChapterwiseError(
                error(
                    f"'{command[0]}' is not installed",
                    "missing-tool",
                    hint="run the set-up command from the README (./setup.sh)",
                )
            ) from None
    return ToolResult(tuple(command), completed.returncode, time.monotonic() - started, log)


def failure_message(result: ToolResult, *, root: Path) -> str:
    """``<tool> exited with N; see <log>`` with the log path relative to the project."""
    try:
        log = result.log.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        log = str(result.log)
    return f"{Path(result.command[0]).name} exited with {result.returncode}; see {log}"
