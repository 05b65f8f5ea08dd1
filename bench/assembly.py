"""Benchmark: incremental thesis.pdf (chapter pass + splice) vs latexmk, measured in one run.

Generates theses of about 110 and 330 pages (8 and 24 chapters; tests/synthetic_thesis.py with
realistic=True: microtype, author-year biblatex citations in most paragraphs, mathematics,
matplotlib plots, booktabs tables, hyperref, cleveref, ToC/LoF/LoT, cross-chapter
references), builds each twice (plain latexmk, and chapterwise through Snakemake), then
toggles one word in the middle chapter and times, per edit:

  latexmk        plain latexmk on the whole thesis (what the edit costs without chapterwise)
  snakemake      `snakemake -j4 thesis.pdf` (the chapter's pass, the assembly, publishing)
  chapter path   `chapterwise compile-chapter` (the pass) then `chapterwise assemble-thesis`:
                 the chapter-level path without Snakemake, which watch mode runs in-process
  assembly       `chapterwise assemble-thesis` alone, after the chapter's pass, with its
                 peak resident memory
  first edit     the edit before those, through Snakemake: the first chapter pass after a
                 full build also makes the precompiled preamble (once per preamble change)

and prints medians and the ratios (latexmk / ours). Every chapterwise result is checked by
the differential oracle (tests/pdforacle.py) against the plain latexmk PDF of the same sources.

Usage: python bench/assembly.py [--chapters 8,24] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import common  # noqa: E402  (bench/common.py: this folder is on sys.path)

from tests.pdforacle import differences  # noqa: E402
from tests.synthetic_thesis import write_thesis  # noqa: E402

NOTE = re.compile(r"^thesis\.pdf: note: (.*)$", re.MULTILINE)
# Peak RSS of the one child process run by this wrapper, in kB (Linux: ru_maxrss).
RSS_WRAPPER = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


def environment() -> dict[str, str]:
    return {**common.environment(), "SOURCE_DATE_EPOCH": "1704067200"}


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    """Wall time and stderr of ``command`` (which must succeed)."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stderr[-3000:]}")
    return seconds, result.stderr + result.stdout


def latexmk(cwd: Path) -> float:
    command = ["latexmk", "-pdf", "-silent", "-interaction=nonstopmode", "-halt-on-error"]
    return run([*command, "-outdir=out", "thesis.tex"], cwd)[0]


def snakemake(cwd: Path) -> tuple[float, str]:
    return run([sys.executable, "-m", "snakemake", "--cores", "4", "thesis.pdf"], cwd)


def chapterwise(cwd: Path, *args: str) -> tuple[float, str]:
    return run([sys.executable, "-m", "chapterwise", *args], cwd)


def edit_word(path: Path, number: int) -> None:
    """A one-word edit: the first 'population' (or its last replacement) becomes a new word.

    Every edit writes new content, so Snakemake's recorded checksums never match an older one.
    """
    text = path.read_text()
    new = f"population{number}"
    found = re.search(r" population\d* ", text)
    if found is None:
        raise SystemExit(f"no word to edit in {path}")
    path.write_text(text[: found.start()] + f" {new} " + text[found.end() :])


@dataclass
class Sample:
    pages: int = 0
    first: float = 0.0  # the first edit through Snakemake (makes the precompiled preamble)
    latexmk: list[float] = field(default_factory=list)
    snakemake: list[float] = field(default_factory=list)
    assembly: list[float] = field(default_factory=list)
    chapter_path: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    oracle: list[str] = field(default_factory=list)


def measure(chapters: int, repeat: int, into: Path) -> Sample:
    sources = into / "sources"
    thesis = write_thesis(
        sources, chapters=chapters, sections=5, paragraphs=4, words=130, realistic=True
    )
    (sources / "config.yaml").write_text("notebook_dirs: []\n")
    plain = into / "latexmk"
    ours = into / "chapterwise"
    shutil.copytree(sources, plain)
    shutil.copytree(sources, ours)
    for name in ("Snakefile", "rules"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, ours / name)
    (plain / "out" / "chapters").mkdir(parents=True)
    print(f"  first builds ({chapters} chapters) ...", file=sys.stderr, flush=True)
    latexmk(plain)
    snakemake(ours)
    middle = thesis.chapters[len(thesis.chapters) // 2]
    edited = [root / "chapters" / f"{middle}.tex" for root in (plain, ours)]
    sample = Sample()
    from pypdf import PdfReader

    sample.pages = len(PdfReader(plain / "out" / "thesis.pdf").pages)
    # The first edit after a full build also makes the precompiled preamble (once per
    # preamble): timed apart, not in the medians.
    for path in edited:
        edit_word(path, 1000)
    latexmk(plain)
    sample.first, output = snakemake(ours)
    sample.notes.extend(NOTE.findall(output))
    sample.oracle.extend(differences(plain / "out" / "thesis.pdf", ours / "thesis.pdf"))
    for number in range(repeat):
        # One edit through Snakemake, compared with latexmk on the same edit.
        for path in edited:
            edit_word(path, 2 * number)
        sample.latexmk.append(latexmk(plain))
        seconds, output = snakemake(ours)
        sample.snakemake.append(seconds)
        sample.notes.extend(NOTE.findall(output))
        sample.oracle.extend(differences(plain / "out" / "thesis.pdf", ours / "thesis.pdf"))
    for number in range(repeat):
        # The chapter's pass, then the assembly step alone (time and memory), outside
        # Snakemake (after these, Snakemake would see its outputs changed behind its back).
        for path in edited:
            edit_word(path, 2 * number + 1)
        sample.latexmk.append(latexmk(plain))
        pass_seconds, _ = chapterwise(
            ours, "compile-chapter", middle, "--pdf", f"build/chapters/{middle}.pdf"
        )
        started = time.perf_counter()
        _, output = run(
            [
                sys.executable,
                "-c",
                RSS_WRAPPER,
                sys.executable,
                "-m",
                "chapterwise",
                "assemble-thesis",
                "--pdf",
                "build/thesis.pdf",
            ],
            ours,
        )
        sample.assembly.append(time.perf_counter() - started)
        sample.chapter_path.append(pass_seconds + sample.assembly[-1])
        sample.rss_mb.append(int(output.strip().splitlines()[-1]) / 1024)
        sample.notes.extend(NOTE.findall(output))
        sample.oracle.extend(
            differences(plain / "out" / "thesis.pdf", ours / "build" / "thesis.pdf")
        )
    return sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", default="8,24", help="chapter counts (default 8,24)")
    parser.add_argument("--repeat", type=int, default=3, help="edits per measurement")
    parser.add_argument("--keep", default=None, help="build here and keep the files")
    args = parser.parse_args()
    common.precompile()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="chapterwise-bench-"))
    results: list[tuple[int, Sample]] = []
    try:
        for chapters in (int(c) for c in args.chapters.split(",")):
            print(f"measuring {chapters} chapters ...", file=sys.stderr, flush=True)
            target = base / f"ch{chapters}"
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            results.append((chapters, measure(chapters, args.repeat, target)))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    median = statistics.median
    print(
        f"{'chapters':>8} {'pages':>5} {'latexmk':>8} {'snakemake':>9} {'ratio':>6} "
        f"{'chapter path':>12} {'ratio':>6} {'assembly':>8} {'ratio':>6} {'peak RSS':>9}  oracle"
        f"  {'first edit':>10}"
    )
    for chapters, s in results:
        lx, sm, asm = median(s.latexmk), median(s.snakemake), median(s.assembly)
        cp = median(s.chapter_path)
        verdict = "identical" if not s.oracle else f"{len(s.oracle)} differences"
        print(
            f"{chapters:>8} {s.pages:>5} {lx:>7.2f}s {sm:>8.2f}s {lx / sm:>5.1f}x "
            f"{cp:>11.2f}s {lx / cp:>5.1f}x "
            f"{asm:>7.2f}s {lx / asm:>5.1f}x {max(s.rss_mb):>6.0f} MB  {verdict}"
            f"  {s.first:>9.2f}s"
        )
    print("\npaths taken:")
    for chapters, s in results:
        for note in dict.fromkeys(re.sub(r"in [\d.]+ s", "in _ s", n) for n in s.notes):
            print(f"  {chapters} chapters: {note}")
    print(
        "\nlatexmk: one-word edit in the middle chapter, plain latexmk (median of "
        f"{2 * args.repeat}); snakemake: the same edit through `snakemake -j4 thesis.pdf` "
        f"(median of {args.repeat}; first edit: the one before them, which also makes the "
        "precompiled preamble, as the first edit after a preamble change does); chapter path: "
        "`chapterwise compile-chapter` then "
        "`chapterwise assemble-thesis` (two processes, no Snakemake); assembly: the second "
        "alone, after the chapter's pass; process wall times including Python start-up; "
        "ratios are latexmk's time over ours, measured in this run."
    )
    return 0 if all(not s.oracle for _, s in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
