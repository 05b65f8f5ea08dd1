"""What the Snakefile adjusts in Snakemake itself for a thesis build.

Both make a build end sooner after its last job, which is most of what an edit of one
chapter costs above LaTeX itself.

Snakemake's job rate limiter (``--max-jobs-per-timespan``, default 100 jobs per second) arms
a one-second, non-daemon ``threading.Timer`` on every scheduling pass, and the interpreter
waits for the last of them before it exits: measured here, 1.1-1.3 s added to the end of every
local run, more than the whole splice of a chapter. On the local executor there is no queue
to protect, so the limiter goes; cluster executors (the SLURM profile) keep it.
"""

from __future__ import annotations

import gc
from typing import Any

# An in-process runner (watch mode) outlives its builds: it keeps the collector as it is.
_long_lived = False


def mark_long_lived() -> None:
    """Say that this process runs many builds (``chapterwise watch``)."""
    global _long_lived
    _long_lived = True


def freeze_startup_objects() -> bool:
    """``gc.freeze()`` once the Snakefile is read, in a process that ends with its build.

    Everything alive then (Snakemake, its plugins, pandas, the workflow) moves to the
    collector's permanent generation: later collections, and the ones the interpreter runs
    while it shuts down, no longer traverse it. Measured here: 0.4-0.5 s less between
    Snakemake's last line and the process' exit. Not in a long-lived process, where the
    frozen objects would never be freed. True if frozen.
    """
    if _long_lived:
        return False
    gc.freeze()
    return True


def release_local_rate_limit(workflow: Any) -> bool:
    """Drop the rate limiter of a local run's scheduler (call from ``onstart``); True if done."""
    scheduler = getattr(workflow, "scheduler", None)
    if scheduler is None or not getattr(workflow, "local_exec", False):
        return False
    if getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True
