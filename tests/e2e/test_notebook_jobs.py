"""Notebook jobs under real Snakemake: params, failures under -k, timeouts, retries, undeclared and
missing outputs, resources, profiles, and the build report (build.json, provenance, DAG)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, tool_env
from tests.e2e.conftest import copy_thesis, snakemake

MINI = Path(__file__).resolve().parent.parent / "data" / "mini_thesis"


def header(*lines: str) -> str:
    return "# ---\n" + "".join(f"# {line}\n" for line in lines) + "# ---\n"


def writer(path: str, text: str = "done") -> str:
    return f'open("{path}", "w").write({text!r})\n'


# Independent notebooks, each failing its own way, and one that works (but writes a stray file).
FAILING = {
    "good.py": header("outputs: [results/good.csv]")
    + "# %%\nimport os\n"
    + writer("results/good.csv")
    + 'os.makedirs("figures", exist_ok=True)\n'
    + writer("figures/extra.pdf"),
    "bad.py": header("outputs: [results/bad.csv]")
    + "# %%\nx = 1\n\n# %%\nraise ValueError('boom')\n",
    "hang.py": header("outputs: [results/hang.csv]", "timeout: 2")
    + "# %%\nimport time, os, ipykernel\n"
    + 'open("build/hang-kernel.txt", "w")'
    + '.write(f"{os.getpid()}\\n{ipykernel.get_connection_file()}")\n'
    + "time.sleep(600)\n",
    "lazy.py": header("outputs:", "  - results/lazy.csv", "  - figures/lazy.pdf")
    + "# %%\n"
    + writer("results/lazy.csv"),
}

# One core each, so with -j2 only the GPU keeps them apart.
GPU = header("outputs: [results/{name}.csv]", "resources: {{gpu: 1}}")
BIG = (
    header("outputs: [results/big.csv]", "resources: {cpus: 2, mem_mb: 500, gpu: 1, runtime: 5}")
    + "# %%\n"
    + writer("results/big.csv")
)
GPU_NOTEBOOKS = {
    f"{name}.py": GPU.format(name=name) + "# %%\n" + writer(f"results/{name}.csv")
    for name in ("g1", "g2")
}
# Notebooks that succeed: one with parameters, one only on its second attempt.
WORKING = {
    "p.py": header("outputs: [results/p.csv]", "params:", "  alpha: 1", "  label: first")
    + "# %% tags=['parameters']\nalpha = 0\nlabel = ''\n\n# %%\n"
    + 'open("results/p.csv", "w").write(f"{alpha},{label}")\n',
    # fails on its first run, succeeds on the second: the marker survives between attempts
    "flaky.py": header("outputs: [results/flaky.csv]")
    + "# %%\nimport os\nmarker = 'build/flaky-marker'\n"
    + "if not os.path.exists(marker):\n    open(marker, 'w').close()\n"
    + "    raise RuntimeError('first attempt')\n"
    + writer("results/flaky.csv"),
}


def with_notebooks(directory: Path, notebooks: dict[str, str]) -> Path:
    for name, text in notebooks.items():
        (directory / "notebooks" / name).write_text(text)
    return directory


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def read_report(directory: Path) -> dict:
    return json.loads((directory / "build" / "reports" / "build.json").read_text())


def job(report: dict, rule: str) -> dict:
    return next(entry for entry in report["jobs"] if entry["rule"] == rule)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory):
    """One `snakemake -k` run over four independent notebooks, three of which fail."""
    directory = with_notebooks(copy_thesis(MINI, tmp_path_factory.mktemp("failing")), FAILING)
    targets = [f"results/{Path(name).stem}.csv" for name in FAILING]
    result = snakemake(directory, "-k", *targets)
    return directory, result


def test_keep_going_finishes_the_independent_notebook(failed_run) -> None:
    directory, result = failed_run
    assert result.returncode != 0
    assert (directory / "results" / "good.csv").read_text() == "done"
    assert (directory / "build" / "notebooks" / "good.ipynb").is_file()
    assert (directory / "build" / "notebooks" / "good.html").read_text().startswith("<!DOCTYPE")


def test_each_failure_is_one_line_at_its_notebook_line(failed_run) -> None:
    _, result = failed_run
    lines = set(result.stderr.splitlines())
    bad_line = line_of(FAILING["bad.py"], "raise ValueError")
    assert (
        f"notebooks/bad.py:{bad_line}: error: cell 2 failed: ValueError: boom; "
        "see build/logs/render_notebook/bad.log [cell-failed]"
    ) in lines
    hang_line = line_of(FAILING["hang.py"], "import time")
    assert (
        f"notebooks/hang.py:{hang_line}: error: cell 1 timed out after 2 s [cell-timeout]" in lines
    )
    lazy_line = line_of(FAILING["lazy.py"], "figures/lazy.pdf")
    assert any(
        line.startswith(
            f"notebooks/lazy.py:{lazy_line}: error: declared output 'figures/lazy.pdf' was not "
            "written"
        )
        and line.endswith("[missing-output]")
        for line in lines
    )


def test_the_timed_out_kernel_is_gone(failed_run) -> None:
    """The hung kernel is killed, not left running after Snakemake has finished."""
    directory, _ = failed_run
    pid, connection_file = (directory / "build" / "hang-kernel.txt").read_text().splitlines()
    survivors = [
        process
        for process in psutil.process_iter(["pid", "cmdline", "status"])
        if process.info["status"] != psutil.STATUS_ZOMBIE
        and (
            connection_file in (process.info["cmdline"] or [])
            or (
                process.info["pid"] == int(pid)
                and "ipykernel_launcher" in " ".join(process.info["cmdline"] or [])
            )
        )
    ]
    assert survivors == []


def test_undeclared_output_is_a_warning(failed_run) -> None:
    _, result = failed_run
    assert (
        "notebooks/good.py:1: warning: wrote 'figures/extra.pdf', which its front matter does "
        "not declare [undeclared-output]"
    ) in result.stderr.splitlines()


def test_failed_notebook_is_kept_beside_its_log(failed_run) -> None:
    directory, _ = failed_run
    logs = directory / "build" / "logs" / "render_notebook"
    assert "ValueError" in (logs / "bad.log").read_text()
    kept = json.loads((logs / "bad.ipynb").read_text())
    assert kept["cells"][-1]["outputs"][0]["ename"] == "ValueError"
    assert (logs / "bad.html").is_file()
    assert not (directory / "build" / "notebooks" / "bad.ipynb").exists(), "Snakemake removed it"


def test_failed_build_writes_the_report(failed_run) -> None:
    directory, result = failed_run
    report = read_report(directory)
    assert report["status"] == "failed"
    statuses = {entry["rule"]: entry["status"] for entry in report["jobs"]}
    assert statuses == {
        "render_notebook_good": "ok",
        "render_notebook_bad": "failed",
        "render_notebook_hang": "failed",
        "render_notebook_lazy": "failed",
    }
    assert "chapterwise build: FAILED" in result.stderr
    assert not (directory / "build" / "reports" / "provenance.json").exists()


@pytest.fixture(scope="module")
def working_run(tmp_path_factory: pytest.TempPathFactory):
    """A notebook with parameters, and a flaky one under --retries."""
    directory = with_notebooks(copy_thesis(MINI, tmp_path_factory.mktemp("working")), WORKING)
    targets = [f"results/{Path(name).stem}.csv" for name in WORKING]
    result = snakemake(directory, *targets, "--retries", "1")
    assert result.returncode == 0, result.stderr[-4000:]
    return directory, targets


def test_params_reach_the_notebook(working_run) -> None:
    directory, _ = working_run
    assert (directory / "results" / "p.csv").read_text() == "1,first"
    cells = json.loads((directory / "build" / "notebooks" / "p.ipynb").read_text())["cells"]
    tags = [cell["metadata"].get("tags", []) for cell in cells]
    index = tags.index(["parameters"]) + 1
    assert tags[index] == ["injected-parameters"], "right after the cell tagged 'parameters'"
    injected = cells[index]
    assert "alpha = 1\nlabel = 'first'" in "".join(injected["source"])


def test_retries_rerun_a_failed_notebook(working_run) -> None:
    directory, _ = working_run
    assert (directory / "results" / "flaky.csv").read_text() == "done"
    flaky = job(read_report(directory), "render_notebook_flaky")
    assert (flaky["status"], flaky["attempts"]) == ("ok", 2)


def test_gpu_notebooks_run_one_at_a_time(tmp_path: Path) -> None:
    """Two one-core notebooks on two cores: only ``--resources gpu=1`` keeps them apart."""
    directory = with_notebooks(copy_thesis(MINI, tmp_path / "thesis"), GPU_NOTEBOOKS)
    result = snakemake(directory, "results/g1.csv", "results/g2.csv", "--resources", "gpu=1")
    assert result.returncode == 0, result.stderr[-4000:]
    report = read_report(directory)
    first, second = sorted(
        (job(report, "render_notebook_g1"), job(report, "render_notebook_g2")),
        key=lambda entry: entry["started"],
    )
    assert second["started"] >= first["finished"]


def test_a_params_change_is_seen_by_the_params_trigger(working_run) -> None:
    """The rule's ``params:`` carry the front matter's, so Snakemake's params trigger sees them.

    Any edit of the notebook reruns it anyway (it is the job's input); with the file's old
    mtime put back, only the recorded params can tell the two edits below apart.
    """
    directory, targets = working_run
    notebook = directory / "notebooks" / "p.py"
    original = notebook.read_text()
    stat = notebook.stat()

    def planned(text: str) -> str:
        notebook.write_text(text)
        os.utime(notebook, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        result = snakemake(directory, "-n", *targets)
        assert result.returncode == 0, result.stderr[-4000:]
        return result.stdout + result.stderr

    try:
        assert "render_notebook_p" not in planned(original + "\n# a comment, same params\n")
        plan = planned(original.replace("alpha: 1", "alpha: 2"))
        assert "rule render_notebook_p:" in plan
        assert "reason: Params have changed since last execution" in plan
    finally:
        notebook.write_text(original)
        os.utime(notebook, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_resources_become_threads_and_resources(tmp_path: Path) -> None:
    directory = with_notebooks(copy_thesis(MINI, tmp_path / "thesis"), {"big.py": BIG})
    result = snakemake(directory, "-n", "results/big.csv", "--resources", "gpu=1")
    assert result.returncode == 0, result.stderr[-4000:]
    text = result.stdout + result.stderr
    block = text[text.index("rule render_notebook_big:") :].split("\n[")[0]
    assert re.search(r"^\s+threads: 2$", block, re.MULTILINE)
    resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
    assert resources is not None
    assert {"mem_mb=500", "gpu=1", "runtime=5"} <= set(resources.group(1).split(", "))


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_profiles_plan_the_thesis(tmp_path: Path, profile: str) -> None:
    directory = copy_thesis(MINI, tmp_path / "thesis")
    shutil.copytree(REPO / "profiles", directory / "profiles")
    env = tool_env()
    if profile == "slurm":  # setup.sh installs the plugin apart from the venv's packages
        plugin = Path(sys.executable).parent.parent / "slurm"
        assert plugin.is_dir(), "run ./setup.sh: it installs the SLURM plugin into .venv/slurm"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), env.get("PYTHONPATH")]))
    result = snakemake(directory, "--profile", f"profiles/{profile}", "-n", "thesis.pdf", env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    text = result.stdout + result.stderr
    assert "render_notebook_analysis:" in text and "compile_thesis:" in text
    if profile == "slurm":
        # the profile's default-resources reach a notebook that declares none
        block = text[text.index("rule render_notebook_analysis:") :].split("\n[")[0]
        resources = re.search(r"resources: (.*)", block)
        assert resources is not None
        assert {"mem_mb=2000", "runtime=30"} <= set(resources.group(1).split(", "))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_json_after_a_real_build(built_mini: Path) -> None:
    report = read_report(built_mini)
    assert report["status"] == "ok"
    assert report["wall_seconds"] > 0 and report["job_seconds"] > 0
    assert report["speedup"] == pytest.approx(report["job_seconds"] / report["wall_seconds"], 0.01)
    # the fixture's last build re-ran the chapter previews and what follows them
    assert {entry["rule"] for entry in report["jobs"]} == {
        "compile_chapter",
        "compile_thesis",
        "publish_thesis",
    }
    assert {entry["key"] for entry in report["skipped"]} == {
        "render_notebook_analysis",
        "render_table[table=growth]",
        "render_macros[values=growth_values]",
    }
    assert report["counts"]["skipped"] == 3
    for entry in report["jobs"]:
        assert entry["status"] == "ok" and entry["seconds"] is not None
    chapter = job(report, "compile_chapter")
    assert chapter["timed_by"] == "benchmark"
    assert (built_mini / "build" / "notebooks" / "analysis.html").is_file()


def test_provenance_after_a_real_build(built_mini: Path) -> None:
    provenance = json.loads((built_mini / "build" / "reports" / "provenance.json").read_text())
    entries = {entry["path"]: entry for entry in provenance["artifacts"]}
    assert set(entries) == {
        "figures/growth.pdf",
        "results/growth.csv",
        "results/growth_values.json",
        "tables/growth.tex",
        "tables/growth_values.tex",
    }
    figure = entries["figures/growth.pdf"]
    assert figure["notebook"] == "notebooks/analysis.py"
    assert figure["notebook_sha256"] == sha256(built_mini / "notebooks" / "analysis.py")
    assert figure["inputs"] == {"data/points.csv": sha256(built_mini / "data" / "points.csv")}
    assert figure["sha256"] == sha256(built_mini / "figures" / "growth.pdf")
    assert figure["chapters"] == ["results"]
    assert entries["tables/growth.tex"]["rendered_from"] == "results/growth.csv"
    assert entries["tables/growth_values.tex"]["kind"] == "macros"


def test_dag_command_draws_an_svg(mini: Path) -> None:
    (mini / "chapters" / "intro.tex").write_text(
        (mini / "chapters" / "intro.tex").read_text() + "\nOne more sentence.\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "chapterwise", "--root", str(mini), "dag"],
        cwd=mini,
        env=tool_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    svg = ET.parse(mini / "build" / "reports" / "dag.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "render_notebook_analysis" in texts and "chapter: intro" in texts
    assert any(re.fullmatch(r"\d+\.\d s · skipped, .*", t) for t in texts)
    assert any(re.fullmatch(r"\d+\.\d s · ok, .*", t) for t in texts)
    dot = (mini / "build" / "reports" / "dag.dot").read_text()
    intro = next(line for line in dot.splitlines() if "chapter: intro" in line)
    assert 'style="rounded,filled"' in intro, "an edited chapter is drawn as needing a run"
