"""The build report: Snakemake log and benchmark parsing, build.json, provenance, the DAG view."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from chapterwise.config import parse_config
from chapterwise.project import load_project
from chapterwise.report import (
    BuildReport,
    JobRecord,
    JobStatus,
    format_dag_title,
    format_report_summary,
    format_report_table,
    job_key,
    parse_benchmark,
    parse_build_report,
    parse_dot_dag,
    parse_snakemake_log,
    render_dag_dot,
    report_build,
    summarise_build,
)

# The shape of a Snakemake 9 log: a retried job, a failed one, one never finished, rule all.
LOG = """Assuming unrestricted shared filesystem usage.

SNAKEMAKE
=========
  Date: 2026-11-23 00:24:27
  Command: /venv/bin/snakemake -j2 -k --retries 1 thesis.pdf
  Snakefile: /p/Snakefile

Building DAG of jobs...
Job stats:
job      count
-----  -------
total        5

Select jobs to execute...
Execute 2 jobs...
[Mon Nov 23 00:24:27 2026]
localrule render_notebook_fit:
    input: notebooks/fit.py, data/x.csv
    output: figures/fit.pdf, results/fit.csv, build/notebooks/fit.ipynb
    log: build/logs/render_notebook/fit.log
    jobid: 1
    benchmark: build/benchmarks/render_notebook/fit.tsv
    reason: Missing output files: figures/fit.pdf
    threads: 2
    resources: tmpdir=/tmp, gpu=1
[Mon Nov 23 00:24:27 2026]
rule render_notebook_flaky:
    output: results/flaky.csv
    jobid: 2
    benchmark: build/benchmarks/render_notebook/flaky.tsv
    resources: tmpdir=/tmp
RuleException:
CalledProcessError in file "/p/rules/notebooks.smk", line 12:
Command 'set -euo pipefail;  chapterwise render-notebook' returned non-zero exit status 1.
[Mon Nov 23 00:24:29 2026]
Error in rule render_notebook_flaky:
    message: None
    jobid: 2
    output: results/flaky.csv
    shell:
        chapterwise render-notebook notebooks/flaky.py
        (command exited with non-zero exit code)
Trying to restart job 2.
Select jobs to execute...
[Mon Nov 23 00:24:29 2026]
rule render_notebook_flaky:
    output: results/flaky.csv
    jobid: 2
    benchmark: build/benchmarks/render_notebook/flaky.tsv
    resources: tmpdir=/tmp
[Mon Nov 23 00:24:33 2026]
Finished jobid: 2 (Rule: render_notebook_flaky)
1 of 5 steps (20%) done
[Mon Nov 23 00:24:35 2026]
Error in rule render_notebook_fit:
    message: None
    jobid: 1
    output: figures/fit.pdf, results/fit.csv, build/notebooks/fit.ipynb
[Mon Nov  3 00:24:35 2026]
localrule compile_chapter:
    input: thesis.tex, chapters/intro.tex
    output: build/chapters/intro.pdf
    jobid: 4
    benchmark: build/benchmarks/compile_chapter/intro.tsv
    wildcards: chapter=intro
[Mon Nov 23 00:24:36 2026]
localrule render_table:
    output: tables/a_b.tex
    jobid: 5
    wildcards: table=a_b, other=x=y
[Mon Nov 23 00:24:37 2026]
Finished jobid: 5 (Rule: render_table)
[Mon Nov 23 00:24:37 2026]
localrule all:
    input: thesis.pdf
    jobid: 0
[Mon Nov 23 00:24:37 2026]
Finished jobid: 0 (Rule: all)
Exiting because a job execution failed. Look above for error messages
"""
LOG_NAME = "2026-11-23T002427.250000.snakemake.log"


def test_log_jobs_statuses_and_times() -> None:
    log = parse_snakemake_log(LOG, name=LOG_NAME)
    assert log.started == datetime(2026, 11, 23, 0, 24, 27, 250000)
    assert log.command == "/venv/bin/snakemake -j2 -k --retries 1 thesis.pdf"
    jobs = {job.jobid: job for job in log.jobs}
    fit, flaky, chapter, table, rule_all = jobs[1], jobs[2], jobs[4], jobs[5], jobs[0]
    assert fit.status is JobStatus.FAILED
    assert fit.outputs == ("figures/fit.pdf", "results/fit.csv", "build/notebooks/fit.ipynb")
    assert fit.benchmark == "build/benchmarks/render_notebook/fit.tsv"
    assert (fit.started, fit.finished) == (
        datetime(2026, 11, 23, 0, 24, 27),
        datetime(2026, 11, 23, 0, 24, 35),
    )
    assert (flaky.status, flaky.attempts) == (JobStatus.OK, 2)
    assert flaky.finished == datetime(2026, 11, 23, 0, 24, 33)
    assert chapter.status is JobStatus.INCOMPLETE
    assert chapter.started == datetime(2026, 11, 3, 0, 24, 35), "asctime pads the day"
    assert chapter.key == "compile_chapter[chapter=intro]"
    assert table.wildcards == (("table", "a_b"), ("other", "x=y"))
    assert rule_all.outputs == () and rule_all.status is JobStatus.OK


def test_log_without_a_file_name_starts_at_its_date_line() -> None:
    assert parse_snakemake_log(LOG).started == datetime(2026, 11, 23, 0, 24, 27)


def test_job_key_sorts_wildcards() -> None:
    assert job_key("r", [("b", "2"), ("a", "1")]) == "r[a=1,b=2]"
    assert job_key("render_notebook_fit") == "render_notebook_fit"


BENCHMARK = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    "8.04\t0:00:08\t131.08\t175.86\t106.31\t115.62\t0.00\t2.59\t66.35\t6.49\n"
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param(BENCHMARK, 8.04, id="one_run"),
        pytest.param(BENCHMARK + "2.00\t0:00:02\n", 5.02, id="repeats_are_averaged"),
        pytest.param("s\th:m:s\n", None, id="header_only"),
        pytest.param("", None, id="empty"),
        pytest.param("x\ty\n1\t2\n", None, id="no_seconds_column"),
        pytest.param("s\n-\n", None, id="not_a_number"),
    ],
)
def test_benchmark_seconds(text: str, seconds: float | None) -> None:
    assert parse_benchmark(text) == (pytest.approx(seconds) if seconds is not None else None)


FINISHED = datetime(2026, 11, 23, 0, 24, 47, 250000)  # 20 s after the log's start


def make_report(**kwargs: object) -> BuildReport:
    log = parse_snakemake_log(LOG, name=LOG_NAME)
    options: dict[str, object] = {
        "ok": False,
        "finished": FINISHED,
        "benchmarks": {"build/benchmarks/render_notebook/flaky.tsv": 3.5},
    }
    options.update(kwargs)
    return summarise_build(log, **options)  # type: ignore[arg-type]


def test_summary_prefers_benchmarks_and_falls_back_to_log_times() -> None:
    report = make_report()
    by_rule = {job.rule: job for job in report.jobs}
    assert "all" not in by_rule, "a target rule without outputs is not a job worth timing"
    assert (
        by_rule["render_notebook_flaky"].seconds,
        by_rule["render_notebook_flaky"].timed_by,
    ) == (
        3.5,
        "benchmark",
    )
    fit = by_rule["render_notebook_fit"]
    assert (fit.seconds, fit.timed_by, fit.status) == (8.0, "log", JobStatus.FAILED)
    assert by_rule["compile_chapter"].seconds is None
    assert by_rule["render_table"].seconds == 1.0
    assert report.wall_seconds == pytest.approx(20.0)
    assert report.job_seconds == pytest.approx(12.5)
    assert report.speedup == pytest.approx(12.5 / 20.0)


def test_a_failed_jobs_old_benchmark_is_not_its_time() -> None:
    report = make_report(benchmarks={"build/benchmarks/render_notebook/fit.tsv": 99.0})
    fit = next(job for job in report.jobs if job.rule == "render_notebook_fit")
    assert fit.seconds == 8.0


def test_jobs_of_earlier_builds_that_did_not_run_are_skipped() -> None:
    previous = [
        JobRecord("render_notebook_fit", "render_notebook_fit", "figures/fit.pdf", JobStatus.OK, 1),
        JobRecord("compile_thesis", "compile_thesis", "build/thesis.pdf", JobStatus.OK, 7.0),
        JobRecord("render_macros[values=v]", "render_macros", "tables/v.tex", JobStatus.SKIPPED, 1),
        JobRecord("render_table[table=gone]", "render_table", "tables/gone.tex", JobStatus.OK, 1),
        JobRecord("render_table[table=bad]", "render_table", "tables/bad.tex", JobStatus.FAILED, 1),
    ]
    report = make_report(previous=previous, exists=lambda target: target != "tables/gone.tex")
    assert [(job.key, job.status, job.seconds) for job in report.skipped] == [
        ("compile_thesis", JobStatus.SKIPPED, 7.0),
        ("render_macros[values=v]", JobStatus.SKIPPED, 1),
    ]


def test_build_json_round_trip() -> None:
    report = make_report(ok=True, previous=[JobRecord("k", "r", "t", JobStatus.OK, 2.0)])
    data = report.to_json()
    assert data["status"] == "ok"
    assert data["counts"] == {"run": 4, "ok": 2, "failed": 1, "incomplete": 1, "skipped": 1}
    assert data["wall_seconds"] == 20.0 and data["job_seconds"] == 12.5
    assert data["speedup"] == 0.625
    assert data["started"] == "2026-11-23T00:24:27"
    records = parse_build_report(json.dumps(data))
    assert len(records) == 5
    assert records[:4] == report.jobs
    assert records[4] == report.skipped[0]


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"jobs": [{"key": "x"}, 3, {"status": "nonsense"}]}']
)
def test_unreadable_build_json_gives_no_records(text: str) -> None:
    assert parse_build_report(text) == ()


def render(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_terminal_table_lists_the_slowest_jobs_and_the_totals() -> None:
    report = make_report(previous=[JobRecord("k", "r", "t", JobStatus.OK, 2.0)])
    text = render(format_report_table(report, rows=2))
    assert "chapterwise build: FAILED" in text
    lines = [line for line in text.splitlines() if "render_notebook" in line]
    assert "render_notebook_fit" in lines[0] and "8.0 s" in lines[0] and "failed" in lines[0]
    assert "render_notebook_flaky" in lines[1] and "ok (2 attempts)" in lines[1]
    assert "2 more jobs" in text
    assert format_report_summary(report) == (
        "wall 20.0 s, jobs 12.5 s (speedup 0.62x); 4 run, 1 not run; "
        "details in build/reports/build.json"
    )


def test_report_hook_without_a_log_only_warns(tmp_path: Path, capsys) -> None:
    report_build([], None, ok=True)  # type: ignore[arg-type]
    assert "no Snakemake log file" in capsys.readouterr().err


DOT = r"""Building DAG of jobs...
digraph snakemake_dag {
    graph[bgcolor=white, margin=0];
    node[shape=box, style=rounded, fontname=sans,                 fontsize=10, penwidth=2];
    edge[penwidth=2, color=grey];
	0[label = "publish_thesis", color = "0.22 0.6 0.85", style="rounded"];
	1[label = "compile_thesis", color = "0.15 0.6 0.85", style="rounded"];
	2[label = "compile_chapter\nchapter: intro", color = "0.07 0.6 0.85", style="rounded,dashed"];
	3[label = "render_notebook_fit", color = "0.37 0.6 0.85", style="rounded,dashed"];
	1 -> 0
	2 -> 1
	3 -> 2
}
"""


def test_dot_from_snakemake_is_parsed() -> None:
    dag = parse_dot_dag(DOT)
    assert [node.key for node in dag.nodes] == [
        "publish_thesis",
        "compile_thesis",
        "compile_chapter[chapter=intro]",
        "render_notebook_fit",
    ]
    assert [node.up_to_date for node in dag.nodes] == [False, False, True, True]
    assert dag.edges == (("1", "0"), ("2", "1"), ("3", "2"))


def test_dag_labels_and_colours_come_from_the_records() -> None:
    records = [
        JobRecord(
            "compile_chapter[chapter=intro]",
            "compile_chapter",
            "x",
            JobStatus.OK,
            5.25,
            finished="2026-11-23T00:24:35",
        ),
        JobRecord("render_notebook_fit", "render_notebook_fit", "y", JobStatus.FAILED, 8.0),
        JobRecord("compile_thesis", "compile_thesis", "z", JobStatus.SKIPPED, 7.0),
    ]
    dot = render_dag_dot(parse_dot_dag(DOT), records, title='last "build"')
    assert 'label="last \\"build\\""' in dot
    assert (
        'n2 [label="compile_chapter\\nchapter: intro\\n5.2 s · ok, 2026-11-23 00:24:35", '
        'fillcolor="#c7e9c0", style="rounded,filled,dashed"];'
    ) in dot
    assert 'n3 [label="render_notebook_fit\\n8.0 s · failed", fillcolor="#fcbba1"' in dot
    assert 'n1 [label="compile_thesis\\n7.0 s · skipped", fillcolor="#e5f5e0"' in dot
    assert 'n0 [label="publish_thesis\\nnot built yet", fillcolor="#ffffff"' in dot
    assert "n3 -> n2;" in dot


def test_dag_title_from_build_json() -> None:
    data = {"status": "ok", "finished": "2026-11-23T00:24:47", "wall_seconds": 20, "speedup": 1.5}
    title = format_dag_title(json.dumps(data))
    assert (
        title.splitlines()[0] == "last build: ok, 2026-11-23 00:24:47; wall 20.0 s, speedup 1.50x"
    )
    assert format_dag_title("") == "" and format_dag_title("[1]") == ""


def write_project(root: Path) -> None:
    files = {
        "thesis.tex": "\\documentclass{report}\\input{tables/setup}\n\\begin{document}\n"
        "\\include{chapters/intro}\n\\include{chapters/results}\n\\end{document}\n",
        "chapters/intro.tex": "\\chapter{Intro}\\input{tables/vals}\\includegraphics{figures/a}\n",
        "chapters/results.tex": "\\chapter{Results}\\input{tables/tab}\\input{tables/vals}\n",
        "notebooks/nb.py": "# ---\n# inputs: [data/in.csv]\n# outputs:\n#   - figures/a.pdf\n"
        "#   - results/tab.csv\n#   - results/vals.json\n#   - results/setup.json\n# ---\n",
        "data/in.csv": "x\n1\n",
        "figures/a.pdf": "%PDF",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_provenance_names_notebook_inputs_and_chapters(tmp_path: Path) -> None:
    from chapterwise.report import build_provenance

    write_project(tmp_path)
    project = load_project(tmp_path, parse_config({}, root=tmp_path))
    digests = {"notebooks/nb.py": "n", "data/in.csv": "i", "figures/a.pdf": "f"}
    provenance = build_provenance(project, digests.get)
    entries = {entry["path"]: entry for entry in provenance["artifacts"]}
    assert sorted(entries) == [
        "figures/a.pdf",
        "results/setup.json",
        "results/tab.csv",
        "results/vals.json",
        "tables/setup.tex",
        "tables/tab.tex",
        "tables/vals.tex",
    ]
    figure = entries["figures/a.pdf"]
    assert figure == {
        "path": "figures/a.pdf",
        "kind": "figure",
        "sha256": "f",
        "rendered_from": None,
        "notebook": "notebooks/nb.py",
        "notebook_sha256": "n",
        "inputs": {"data/in.csv": "i"},
        "chapters": ["intro"],
        "preamble": False,
    }
    assert entries["tables/vals.tex"]["kind"] == "macros"
    assert entries["tables/vals.tex"]["rendered_from"] == "results/vals.json"
    assert entries["tables/vals.tex"]["chapters"] == ["intro", "results"]
    assert entries["results/tab.csv"]["chapters"] == ["results"], "used through tables/tab.tex"
    assert entries["tables/tab.tex"]["kind"] == "table"
    assert entries["tables/setup.tex"]["preamble"] is True
    assert entries["tables/setup.tex"]["chapters"] == []


def test_provenance_names_the_dot_file_of_a_diagram(tmp_path: Path) -> None:
    from chapterwise.report import build_provenance

    write_project(tmp_path)
    (tmp_path / "figures/flow.dot").write_text("digraph { a -> b }\n")
    results = tmp_path / "chapters/results.tex"
    results.write_text(results.read_text() + "\\includegraphics{figures/flow}\n")
    project = load_project(tmp_path, parse_config({}, root=tmp_path))
    digests = {"figures/flow.dot": "d", "figures/flow.pdf": "p"}
    entries = {e["path"]: e for e in build_provenance(project, digests.get)["artifacts"]}
    assert entries["figures/flow.pdf"] == {
        "path": "figures/flow.pdf",
        "kind": "diagram",
        "sha256": "p",
        "rendered_from": "figures/flow.dot",
        "notebook": None,
        "notebook_sha256": None,
        "inputs": {"figures/flow.dot": "d"},
        "chapters": ["results"],
        "preamble": False,
    }
    assert [e["path"] for e in build_provenance(project, digests.get)["artifacts"]] == sorted(
        entries
    )


@given(st.text(max_size=400))
def test_parsers_tolerate_any_text(text: str) -> None:
    parse_snakemake_log(text, name=text[:40])
    parse_benchmark(text)
    parse_build_report(text)
    parse_dot_dag(text)
    format_dag_title(text)


LOG_LINES = st.sampled_from(
    [
        "[Mon Nov 23 00:24:27 2026]",
        "[Mon Feb 30 00:24:27 2026]",
        "[Mon Xyz 23 00:24:27 2026]",
        "rule r:",
        "localrule r:",
        "    jobid: 1",
        "    jobid: 2",
        "    jobid: x",
        "    output: a, b",
        "    wildcards: a=1, b",
        "Error in rule r:",
        "Finished jobid: 1 (Rule: r)",
        "Finished job 2.",
        "Trying to restart job 1.",
        "  Date: 2026-02-30 00:00:00",
        "",
    ]
)


@given(st.lists(LOG_LINES, max_size=30).map("\n".join))
def test_log_fragments_never_raise_and_give_consistent_jobs(text: str) -> None:
    log = parse_snakemake_log(text)
    assert len({job.jobid for job in log.jobs}) == len(log.jobs)
    for job in log.jobs:
        assert job.rule == "r" and job.jobid in (1, 2) and job.attempts >= 1
        assert job.finished is None or job.started is None or job.finished >= job.started
