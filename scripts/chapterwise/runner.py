"""Run the workflow through Snakemake's public Python API, in this process.

The only module that imports snakemake. Watch mode calls it once per change: the interpreter
and Snakemake are already loaded, so a run costs the DAG (about 0.1 s) instead of a fresh
``snakemake`` process (about 2 s). The Snakefile is read anew on every run, so the project
inventory it builds is always current; only Python modules it imports are not reloaded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error

log = logging.getLogger(__name__)

# The API changes the process' working directory for the length of a run: one run at a time.
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class SnakemakeRun:
    """What one Snakemake run did: the files it (re)made, or why it failed."""

    targets: tuple[str, ...]
    ok: bool
    seconds: float
    updated: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


def format_failure(exc: BaseException) -> str:
    """One line from a Snakemake exception: its first non-empty lines, whitespace collapsed."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:3]) if lines else type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def run_snakemake(
    root: Path,
    targets: Sequence[str],
    *,
    cores: int,
    snakefile: str = "Snakefile",
    dry_run: bool = False,
) -> SnakemakeRun:
    """Bring ``targets`` (paths relative to ``root``) up to date; failures come back as data.

    Jobs run as the rules say (``chapterwise <verb>`` shell commands) and inherit this
    process' stdout and stderr. A ChapterwiseError raised while the Snakefile is read (a bad
    config, an \\include of a missing file) keeps its file:line diagnostics.
    """
    from snakemake.api import SnakemakeApi

    from chapterwise.tuning import mark_long_lived

    mark_long_lived()
    from snakemake.scheduling.greedy import SchedulerSettings as GreedySettings
    from snakemake.settings.types import (
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
        SchedulingSettings,
    )

    wanted = tuple(targets)
    updated: list[str] = []
    started = time.monotonic()
    with _RUN_LOCK:
        try:
            with SnakemakeApi(OutputSettings(dryrun=dry_run)) as api:
                workflow = api.workflow(
                    resource_settings=ResourceSettings(cores=cores),
                    snakefile=root / snakefile,
                    workdir=root,
                )
                dag = workflow.dag(DAGSettings(targets=frozenset(wanted)))
                dag.execute_workflow(
                    executor="dryrun" if dry_run else "local",
                    execution_settings=ExecutionSettings(),
                    # A thesis DAG is small: the greedy scheduler picks as well as the ILP
                    # one and does not start a solver for every round of jobs.
                    scheduling_settings=SchedulingSettings(scheduler="greedy"),
                    scheduler_settings=GreedySettings(),
                    updated_files=updated,
                )
        except ChapterwiseError as exc:
            return SnakemakeRun(wanted, False, time.monotonic() - started, (), exc.diagnostics)
        except Exception as exc:  # Snakemake reports everything (bad rule, failed job) this way
            log.info("snakemake failed", exc_info=True)
            diagnostic = error(
                f"snakemake: {format_failure(exc)}",
                "snakemake-failed",
                hint="the full report is in .snakemake/log/",
            )
            return SnakemakeRun(wanted, False, time.monotonic() - started, (), (diagnostic,))
    seconds = time.monotonic() - started
    return SnakemakeRun(wanted, True, seconds, tuple(dict.fromkeys(updated)))
