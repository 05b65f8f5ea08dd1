"""What the Snakefile adjusts in Snakemake itself for a thesis build.

Snakemake's job rate limiter (``--max-jobs-per-timespan``, default 100 jobs per second) arms
a one-second, non-daemon ``threading.Timer`` on every scheduling pass, and the interpreter
waits for the last of them before it exits: measured here, 1.1-1.3 s added to the end of every
local run, more than the whole splice of a chapter. On the local executor there is no queue
to protect, so the limiter goes; cluster executors (the SLURM profile) keep it.
"""

from __future__ import annotations

from typing import Any


def release_local_rate_limit(workflow: Any) -> bool:
    """Drop the rate limiter of a local run's scheduler (call from ``onstart``); True if done."""
    scheduler = getattr(workflow, "scheduler", None)
    if scheduler is None or not getattr(workflow, "local_exec", False):
        return False
    if getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True
