"""Watch-mode latency: save -> chapter preview and save -> thesis.pdf, beside latexmk -pvc.

One run, on copies of the same sources (built once by Snakemake, so the generated tables and
figures are in place for both tools):

  chapterwise watch   save -> build/chapters/<chapter>.pdf replaced, save -> thesis.pdf replaced
  latexmk -pvc        save -> its thesis PDF replaced (it polls every $sleep_time, 2 s by default)

Each edit appends a sentence with a new word to the chapter; a PDF counts as updated when its
file is replaced after the save (at the end, the last word is checked to be in all three PDFs).
The two watchers run side by side but are edited in turn, so they never compete for the CPU
during a measurement.
Prints medians and ratios; the target for the preview is 1.5 s for a chapter of about 15 pages.

Usage: python bench/watch_latency.py [--thesis DIR] [--chapter NAME] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

# bench/common.py (this folder is on sys.path)
from common import REPO, copy_thesis, environment, precompile
from pypdf import PdfReader

from chapterwise.config import read_config
from chapterwise.latex import ENGINE_OPTIONS, LATEX_FLAGS
from chapterwise.project import chapter_pdf, load_project

TARGET_SECONDS = 1.5
TIMEOUT = 300.0


def pages(path: Path) -> int:
    return len(PdfReader(path).pages)


def text_of(path: Path) -> str:
    reader = PdfReader(path)
    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in reader.pages))


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def wait_replaced(paths: list[Path], since: dict[Path, int], started: float) -> dict[Path, float]:
    """Seconds from ``started`` until each path's mtime moved past ``since``."""
    done: dict[Path, float] = {}
    while len(done) < len(paths):
        now = time.perf_counter()
        if now - started > TIMEOUT:
            raise SystemExit(f"timed out waiting for {[p for p in paths if p not in done]}")
        for path in paths:
            if path not in done and mtime(path) != since[path]:
                done[path] = now - started
        time.sleep(0.005)
    return done


def settle(paths: list[Path], quiet: float = 1.5) -> None:
    """Wait until none of ``paths`` changed for ``quiet`` seconds (a build has finished)."""
    last = {path: mtime(path) for path in paths}
    still = time.perf_counter()
    while time.perf_counter() - still < quiet:
        time.sleep(0.05)
        now = {path: mtime(path) for path in paths}
        if now != last:
            last, still = now, time.perf_counter()


def edit(chapter: Path, word: str) -> float:
    text = chapter.read_text(encoding="utf-8")
    started = time.perf_counter()
    chapter.write_text(text.rstrip("\n") + f"\n\nThe {word} sentence.\n", encoding="utf-8")
    return started


def wait_for_line(log: Path, pattern: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(encoding="utf-8", errors="replace"), re.MULTILINE):
            return
        time.sleep(0.1)
    raise SystemExit(f"no {pattern!r} in {log}:\n{log.read_text(errors='replace')[-3000:]}")


def wait_until_exists(path: Path, log: Path, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"no {path}; see {log}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for the watcher, as a user would stop it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thesis", type=Path, default=REPO, help="default: this repository")
    parser.add_argument("--chapter", default=None, help="default: the preview nearest 15 pages")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    precompile()
    env = environment()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the watchers on SIGTERM too

    with tempfile.TemporaryDirectory(prefix="chapterwise-watch-bench-") as scratch:
        base = Path(scratch)
        ours = copy_thesis(args.thesis, base / "watch")
        print("building the thesis once with snakemake ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", "thesis.pdf"],
            cwd=ours,
            env=env,
            check=True,
            capture_output=True,
        )
        # The same sources with the generated tables and figures, for plain latexmk; TeX
        # writes each \include's .aux below the output directory, which must exist.
        theirs = copy_thesis(ours, base / "pvc", shutil.ignore_patterns("build", ".snakemake"))
        project = load_project(theirs, read_config(theirs))
        for included in project.chapters:
            (theirs / "build/pvc" / PurePosixPath(included.include).parent).mkdir(
                parents=True, exist_ok=True
            )
        previews = sorted((ours / "build" / "chapters").glob("*.pdf"))
        counts = {path.stem: pages(path) for path in previews}
        chapter = args.chapter or min(counts, key=lambda name: (abs(counts[name] - 15), name))
        print(f"editing chapters/{chapter}.tex; its preview has {counts[chapter]} pages")

        watch_log = base / "watch.out"
        pvc_log = base / "pvc.out"
        with watch_log.open("wb") as out_watch, pvc_log.open("wb") as out_pvc:
            watcher = subprocess.Popen(
                [sys.executable, "-m", "chapterwise", "watch", "--cores", "2"],
                cwd=ours,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_watch,
                stderr=subprocess.STDOUT,
            )
            pvc = subprocess.Popen(
                [
                    "latexmk",
                    "-pdf",
                    "-pvc",
                    "-view=none",
                    *LATEX_FLAGS,
                    *(f"-latexoption={option}" for option in ENGINE_OPTIONS),
                    "-outdir=build/pvc",
                    "thesis.tex",
                ],
                cwd=theirs,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_pvc,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for_line(watch_log, r"^watching ")
                # latexmk's own output is block-buffered into the log: wait for its files.
                pvc_dir = theirs / "build" / "pvc"
                pvc_pdf = pvc_dir / "thesis.pdf"
                wait_until_exists(pvc_pdf, pvc_log)
                settle([pvc_pdf, pvc_dir / "thesis.log", pvc_dir / "thesis.aux"], quiet=5.0)
                preview = ours / chapter_pdf(chapter)
                thesis = ours / "thesis.pdf"
                samples: dict[str, list[float]] = {"preview": [], "thesis": [], "pvc": []}
                for index in range(args.repeat):
                    word = f"Benchword{index}x"
                    settle([preview, thesis])
                    since = {preview: mtime(preview), thesis: mtime(thesis)}
                    started = edit(ours / "chapters" / f"{chapter}.tex", word)
                    done = wait_replaced([preview, thesis], since, started)
                    samples["preview"].append(done[preview])
                    samples["thesis"].append(done[thesis])
                    settle([pvc_pdf])
                    since = {pvc_pdf: mtime(pvc_pdf)}
                    started = edit(theirs / "chapters" / f"{chapter}.tex", word)
                    samples["pvc"].append(wait_replaced([pvc_pdf], since, started)[pvc_pdf])
                    print(
                        f"  edit {index + 1}: preview {done[preview]:.2f} s, "
                        f"thesis {done[thesis]:.2f} s, latexmk -pvc {samples['pvc'][-1]:.2f} s",
                        flush=True,
                    )
                settle([preview, thesis, pvc_pdf], quiet=3.0)
                last = f"Benchword{args.repeat - 1}x"
                for path in (preview, thesis, pvc_pdf):
                    if last not in text_of(path):
                        raise SystemExit(f"{path} does not show the last edit")
            finally:
                stop(watcher)
                if pvc.poll() is None:
                    os.killpg(pvc.pid, signal.SIGTERM)
                    pvc.wait(timeout=30)

        reported = re.findall(
            rf"✓ build/chapters/{re.escape(chapter)}\.pdf in ([\d.]+) s", watch_log.read_text()
        )
        thesis_steps = re.findall(r"✓ thesis\.pdf in ([\d.]+) s", watch_log.read_text())

    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"\nmedian of {args.repeat} edits; sources: {args.thesis}; 2 jobs")
    rows = [
        ("save -> chapter preview (watch)", median["preview"]),
        ("save -> thesis.pdf (watch)", median["thesis"]),
        ("save -> thesis PDF (latexmk -pvc)", median["pvc"]),
    ]
    for label, seconds in rows:
        print(f"{label:40s} {seconds:6.2f} s")
    print(f"{'preview / latexmk -pvc':40s} {median['preview'] / median['pvc']:6.2f}x")
    print(f"{'thesis.pdf / latexmk -pvc':40s} {median['thesis'] / median['pvc']:6.2f}x")
    verdict = "met" if median["preview"] <= TARGET_SECONDS else "NOT met"
    print(f"target: preview within {TARGET_SECONDS} s for {counts[chapter]} pages: {verdict}")
    if reported:
        steps = statistics.median(float(value) for value in reported[-args.repeat :])
        print(f"(watch's own timing of the preview step: {steps:.2f} s median", end="")
        if thesis_steps:
            snake = statistics.median(float(value) for value in thesis_steps[-args.repeat :])
            print(f"; of the in-process Snakemake run for thesis.pdf: {snake:.2f} s)")
        else:
            print(")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
