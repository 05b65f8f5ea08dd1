"""Build-time benchmark: chapterwise through Snakemake vs plain latexmk, measured in one run.

Prints wall times and ratios (not absolute targets) for:
  clean build at -j1 and -j2, a no-op run, a one-word chapter edit;
  and, on the same sources with the generated artifacts in place, plain latexmk:
  a clean build, a no-op run and the same one-word edit.

Usage: python bench/build_times.py [--thesis DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# bench/common.py (this folder is on sys.path)
from common import REPO, copy_thesis, environment, precompile


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=environment(), check=True, capture_output=True)
    return time.perf_counter() - started


def snakemake(cwd: Path, cores: int) -> float:
    return run([sys.executable, "-m", "snakemake", "--cores", str(cores), "thesis.pdf"], cwd)


def latexmk(cwd: Path) -> float:
    return run(
        [
            "latexmk",
            "-pdf",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-outdir=build/plain",
            "thesis.tex",
        ],
        cwd,
    )


def word_edit(chapter: Path, counter: list[int]) -> None:
    """Change one word of a chapter (a different one each time, so every run is a real edit)."""
    counter[0] += 1
    text = chapter.read_text()
    chapter.write_text(text.rstrip("\n") + f" Word{counter[0]}.\n")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(repeat: int, action: Callable[[], float]) -> float:
    return median([action() for _ in range(repeat)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--thesis", type=Path, default=REPO, help="thesis sources (default: this repository)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chapter", default=None, help="chapter to edit (default: the middle one)")
    args = parser.parse_args()
    precompile()

    with tempfile.TemporaryDirectory(prefix="chapterwise-bench-") as scratch:
        base = Path(scratch)
        clean: dict[int, float] = {}
        for cores in (1, 2):
            samples = []
            for index in range(args.repeat):
                work = copy_thesis(args.thesis, base / f"clean-{cores}-{index}" / "thesis")
                samples.append(snakemake(work, cores))
            clean[cores] = median(samples)
        work = copy_thesis(args.thesis, base / "incremental" / "thesis")
        snakemake(work, 2)
        noop = measure(args.repeat, lambda: snakemake(work, 2))
        chapters = sorted((work / "chapters").glob("*.tex"))
        chapter = (
            work / "chapters" / f"{args.chapter}.tex"
            if args.chapter
            else chapters[len(chapters) // 2]
        )
        counter = [0]

        def edited_build() -> float:
            word_edit(chapter, counter)
            return snakemake(work, 2)

        edit = measure(args.repeat, edited_build)

        # Plain latexmk on the same sources, generated artifacts already in place.
        def fresh_latexmk() -> float:
            shutil.rmtree(work / "build" / "plain", ignore_errors=True)
            return latexmk(work)

        plain_clean = measure(args.repeat, fresh_latexmk)
        plain_noop = measure(args.repeat, lambda: latexmk(work))

        def plain_edit() -> float:
            word_edit(chapter, counter)
            return latexmk(work)

        plain_edited = measure(args.repeat, plain_edit)

    rows = [
        ("clean build, snakemake -j1", clean[1], "1.00 (baseline)"),
        ("clean build, snakemake -j2", clean[2], f"{clean[1] / clean[2]:.2f}x speedup over -j1"),
        (
            "plain latexmk, clean (LaTeX only)",
            plain_clean,
            f"{clean[2] / plain_clean:.2f}x: chapterwise -j2 / latexmk",
        ),
        ("no-op, snakemake", noop, f"{noop / plain_noop:.2f}x: / latexmk no-op"),
        ("no-op, plain latexmk", plain_noop, ""),
        (
            f"one-word edit in {chapter.name}, snakemake",
            edit,
            f"{edit / plain_edited:.2f}x: / latexmk edit",
        ),
        ("one-word edit, plain latexmk", plain_edited, ""),
    ]
    print(f"median of {args.repeat}; sources: {args.thesis}")
    for label, seconds, ratio in rows:
        print(f"{label:45s} {seconds:7.2f} s   {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
