"""The one way chapterwise runs an external tool: output to a log file, failures as data."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
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
    # The limit the tool was killed at (seconds), or None when it ended on its own.
    timed_out: float | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.timed_out is None


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
    timeout: float | None = None,
) -> ToolResult:
    """Run ``command`` with stdout and stderr appended to ``log``; never raises for exit codes.

    With ``timeout`` the tool runs in its own process group, and the whole group (the tool and
    whatever it started, e.g. quarto's Jupyter kernel) is killed when the limit passes or when
    chapterwise itself is interrupted; the result then has ``timed_out`` set.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(f"$ {shlex.join(command)}\n")
        handle.flush()
        try:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=timeout is not None,
            )
        except FileNotFoundError:
            raise ChapterwiseError(
                error(
                    f"'{command[0]}' is not installed",
                    "missing-tool",
                    hint="run the set-up command from the README (./setup.sh)",
                )
            ) from None
        timed_out: float | None = None
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = timeout
            _kill_group(process)
            returncode = process.wait()
            handle.write(f"chapterwise: timed out after {timeout:g} s; killed its process group\n")
        except BaseException:  # interrupted: do not leave the tool running (subprocess.run's way)
            if timeout is not None:
                _kill_group(process)  # its own session: Ctrl-C did not reach it
            else:
                process.kill()
            process.wait()
            raise
    return ToolResult(tuple(command), returncode, time.monotonic() - started, log, timed_out)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group led by ``process`` (its own session, see run_tool)."""
    with contextlib.suppress(ProcessLookupError):  # already gone, group and all
        os.killpg(process.pid, signal.SIGKILL)


def failure_message(result: ToolResult, *, root: Path) -> str:
    """``<tool> exited with N; see <log>`` (or timed out), the log relative to the project."""
    try:
        log = result.log.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        log = str(result.log)
    tool = Path(result.command[0]).name
    if result.timed_out is not None:
        return f"{tool} timed out after {result.timed_out:g} s; see {log}"
    return f"{tool} exited with {result.returncode}; see {log}"
