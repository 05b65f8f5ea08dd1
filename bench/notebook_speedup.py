"""Parallel speedup of a clean build: the example thesis at -j1 and at -j2.

Each run starts from a copy of the sources with every generated file removed (the notebooks'
declared outputs and the rendered tables), so all notebook, table, chapter and thesis jobs run.
The numbers come from the build report each build writes (build/reports/build.json): the wall
time, the sum of the job times and their ratio, the achieved parallel speedup.

Usage: python bench/notebook_speedup.py [--thesis DIR] [--repeat N] [--cores 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, copy_thesis, precompile  # bench/common.py (this folder is on sys.path)

from chapterwise.config import read_config
from chapterwise.project import load_project


def clean_copy(source: Path, target: Path) -> Path:
    """Copy the thesis and delete every file a build generates."""
    copy_thesis(source, target)
    project = load_project(target, read_config(target))
    for generated in project.generated_files():
        (target / generated).unlink(missing_ok=True)
    return target


def build(work: Path, cores: int) -> dict[str, float]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), "thesis.pdf"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    report = json.loads((work / "build" / "reports" / "build.json").read_text())
    notebooks = sum(
        job["seconds"] or 0.0 for job in report["jobs"] if job["rule"].startswith("render_notebook")
    )
    return {
        "elapsed": elapsed,
        "wall": report["wall_seconds"],
        "jobs": report["job_seconds"],
        "speedup": report["speedup"],
        "notebooks": notebooks,
        "count": float(report["counts"]["run"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thesis", type=Path, default=REPO, help="default: this repository")
    parser.add_argument("--repeat", type=int, default=1, help="clean builds per core count")
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    precompile()

    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chapterwise-speedup-") as scratch:
        for cores in args.cores:
            runs = [
                build(clean_copy(args.thesis, Path(scratch) / f"j{cores}-{index}"), cores)
                for index in range(args.repeat)
            ]
            results[cores] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}

    baseline = results[args.cores[0]]["wall"]
    print(f"clean builds of {args.thesis} (median of {args.repeat}); from build/reports/build.json")
    print(
        f"{'':6s} {'jobs':>5s} {'wall':>8s} {'sum of jobs':>12s} {'notebooks':>10s} "
        f"{'speedup':>8s} {'wall vs -j' + str(args.cores[0]):>12s}"
    )
    for cores, r in results.items():
        print(
            f"-j{cores:<4d} {r['count']:5.0f} {r['wall']:7.1f}s {r['jobs']:11.1f}s "
            f"{r['notebooks']:9.1f}s {r['speedup']:7.2f}x {baseline / r['wall']:11.2f}x"
        )
    print(
        "speedup = sum of job times / wall time (build.json); the wall time includes "
        "Snakemake's own start-up and DAG building"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
