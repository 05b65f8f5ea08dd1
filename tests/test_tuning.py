"""The Snakemake adjustments the Snakefile makes at onstart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from snakemake.scheduling.job_scheduler import JobRateLimiter
from snakemake.settings.types import MaxJobsPerTimespan

from chapterwise.tuning import release_local_rate_limit


def workflow(local: bool) -> SimpleNamespace:
    limiter = JobRateLimiter(MaxJobsPerTimespan.parse_choice("100/1s"))
    return SimpleNamespace(local_exec=local, scheduler=SimpleNamespace(job_rate_limiter=limiter))


def test_a_local_run_loses_the_rate_limiter_and_its_exit_timer() -> None:
    local = workflow(local=True)
    assert release_local_rate_limit(local)
    assert local.scheduler.job_rate_limiter is None
    assert not release_local_rate_limit(local), "once is enough"


def test_a_cluster_run_keeps_it() -> None:
    cluster = workflow(local=False)
    assert not release_local_rate_limit(cluster)
    assert isinstance(cluster.scheduler.job_rate_limiter, JobRateLimiter)


def test_no_scheduler_yet_is_left_alone() -> None:
    assert not release_local_rate_limit(SimpleNamespace(local_exec=True))


def test_the_scheduler_still_reads_the_attribute_this_relies_on() -> None:
    # If Snakemake renames it, this fails instead of the fix silently doing nothing.
    import inspect

    from snakemake.scheduling import job_scheduler

    source = inspect.getsource(job_scheduler.JobScheduler)
    assert "self.job_rate_limiter is not None" in source
    assert "threading.Timer(" in source


def test_objects_alive_at_startup_are_frozen_except_in_a_long_lived_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from chapterwise import tuning

    monkeypatch.setattr(tuning, "_long_lived", False)
    try:
        assert tuning.freeze_startup_objects()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    tuning.mark_long_lived()
    assert not tuning.freeze_startup_objects()
    assert gc.get_freeze_count() == 0
