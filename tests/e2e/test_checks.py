"""Validators for real: as Snakemake rules, as the check command, as pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import tool_env
from tests.e2e.conftest import REPO, planned_jobs, snakemake

ARTICLE = """\\documentclass{article}
\\usepackage{biblatex}
\\addbibresource{refs.bib}
\\begin{document}
\\section{One}\\label{sec:one}
As \\textcite{smith2020} showed in \\cref{sec:one}.
\\end{document}
"""
BIB = "@misc{smith2020, author = {Smith, A.}, title = {Hares}, year = {2020}}\n"


def chapterwise(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chapterwise", *args],
        cwd=cwd,
        env=tool_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def article(directory: Path, body: str = ARTICLE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tex").write_text(body)
    (directory / "refs.bib").write_text(BIB)
    return directory


CHECK_NAMES = ("bibliography", "crossrefs", "artifacts", "logs", "pdf")


def test_check_rules_pass_on_a_clean_thesis_and_write_reports(mini: Path) -> None:
    result = snakemake(mini, "check")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in CHECK_NAMES:
        report = json.loads((mini / "build" / "reports" / f"{name}.json").read_text())
        assert report["errors"] == 0, report
    assert {rule for rule, _ in planned_jobs(mini, "check")} == set()
    config = mini / "config.yaml"
    config.write_text(config.read_text() + "checks:\n  uncited-entry: error\n")
    # the check rules carry their settings as params: a changed severity reruns them all
    assert {rule for rule, _ in planned_jobs(mini, "check")} == {
        f"check_{name}" for name in CHECK_NAMES
    }


def test_a_check_rule_fails_the_build_with_the_file_and_line(mini: Path) -> None:
    chapter = mini / "chapters" / "intro.tex"
    lines = chapter.read_text().splitlines()
    lines.insert(1, "As \\parencite{nobody1900} argued.")
    chapter.write_text("\n".join(lines) + "\n")
    result = snakemake(mini, "check_bibliography")
    assert result.returncode != 0
    assert re.search(
        r"^chapters/intro\.tex:2:4: error: citation 'nobody1900' has no bibliography entry",
        result.stderr,
        re.MULTILINE,
    ), result.stderr[-3000:]
    # Snakemake deletes the outputs of a failed job; the report is a log: it is kept
    report = json.loads((mini / "build" / "reports" / "bibliography.json").read_text())
    assert report["errors"] == 1
    assert [(d["code"], d["path"], d["line"]) for d in report["diagnostics"]] == [
        ("undefined-citation", "chapters/intro.tex", 2)
    ]


def test_check_command_exit_codes_and_formats(tmp_path: Path) -> None:
    clean = article(tmp_path / "clean")
    assert chapterwise(clean, "check", "main.tex").returncode == 0
    broken = article(tmp_path / "broken", ARTICLE.replace("sec:one}.", "sec:two}."))
    result = chapterwise(broken, "check", "main.tex")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "main.tex:6:35: error: \\cref to undefined label 'sec:two'; did you mean 'sec:one'? "
        "[undefined-reference]"
    ]
    github = chapterwise(broken, "check", "main.tex", "--format", "github")
    assert github.stdout.startswith("::error file=main.tex,line=6,col=35,title=undefined-reference")
    parsed = json.loads(chapterwise(broken, "check", "main.tex", "--format", "json").stdout)
    assert [d["code"] for d in parsed] == ["undefined-reference"]
    assert chapterwise(broken, "check", "absent.tex").returncode == 2
    assert chapterwise(broken, "check", "--checks", "spelling").returncode == 2


def test_config_sets_a_check_off(tmp_path: Path) -> None:
    thesis = article(tmp_path / "t", ARTICLE + "\n")
    (thesis / "refs.bib").write_text(BIB + BIB.replace("smith2020", "jones2021"))
    assert chapterwise(thesis, "check", "main.tex").returncode == 0, "uncited is a warning"
    (thesis / "config.yaml").write_text("thesis: main.tex\nchecks:\n  uncited-entry: error\n")
    assert chapterwise(thesis, "check").returncode == 1
    (thesis / "config.yaml").write_text("thesis: main.tex\nchecks:\n  uncited-entry: off\n")
    result = chapterwise(thesis, "check")
    assert (result.returncode, result.stderr) == (0, "")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=T", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def pre_commit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = tool_env()
    env["PRE_COMMIT_HOME"] = str(cwd.parent / "pre-commit-home")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def committed_repo() -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    head = subprocess.run(
        ["git", "ls-files", ".pre-commit-hooks.yaml"], cwd=REPO, capture_output=True, text=True
    )
    if not head.stdout.strip():
        pytest.skip(".pre-commit-hooks.yaml is not committed yet")
    return REPO


HOOK_IDS = [hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())]
BROKEN = ARTICLE.replace("smith2020", "smyth2020").replace("sec:one}.", "sec:two}.")
CITE_LINE = "main.tex:6:4: error: citation 'smyth2020' has no bibliography entry"
REF_LINE = "main.tex:6:35: error: \\cref to undefined label 'sec:two'"
HOOK_FINDS = {  # what each exported hook reports on BROKEN; a new hook needs its entry
    "chapterwise-check": (CITE_LINE, REF_LINE),
    "chapterwise-bibliography": (CITE_LINE,),
    "chapterwise-crossrefs": (REF_LINE,),
}
_HOOK_STATUS = re.compile(r"^.*?\.{3,}\s*(Passed|Failed|Skipped|\(no files to check\)Skipped)$")


def hook_results(output: str) -> dict[str, tuple[str, str]]:
    """hook id -> (status, its output) from a ``pre-commit --verbose`` run."""
    results: dict[str, tuple[str, str]] = {}
    status, hook, lines = "", "", []
    for line in [*output.splitlines(), "end...Passed"]:
        match = _HOOK_STATUS.match(line)
        if match:
            if hook:
                results[hook] = (status, "\n".join(lines))
            status, hook, lines = match.group(1), "", []
        elif line.startswith("- hook id: "):
            hook = line.removeprefix("- hook id: ").strip()
        else:
            lines.append(line)
    return results


@pytest.fixture(scope="module")
def hook_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Every exported hook, in one pre-commit run on a clean article and one on BROKEN."""
    repo = committed_repo()
    other = article(tmp_path_factory.mktemp("hooks") / "other")
    git(other, "init", "-q")
    git(other, "add", ".")
    passed = pre_commit(other, "try-repo", str(repo), "--all-files", "--verbose")
    (other / "main.tex").write_text(BROKEN)
    git(other, "add", ".")
    failed = pre_commit(other, "try-repo", str(repo), "--all-files", "--verbose")
    return passed, failed


@pytest.mark.slow
@pytest.mark.parametrize("hook", HOOK_IDS)
def test_each_exported_hook_works_in_another_repository(
    hook_runs: tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]],
    hook: str,
) -> None:
    passed, failed = hook_runs
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert hook_results(passed.stdout)[hook][0] == "Passed", passed.stdout[-3000:]
    assert failed.returncode == 1
    status, output = hook_results(failed.stdout)[hook]
    assert status == "Failed", failed.stdout[-3000:]
    for line in HOOK_FINDS[hook]:
        assert line in output, output


@pytest.mark.slow
def test_this_repository_passes_its_own_hooks(tmp_path: Path) -> None:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copy = tmp_path / "repo"
    for name in filter(None, listing.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    os.symlink(Path(sys.executable).parent.parent, copy / ".venv")
    git(copy, "init", "-q")
    git(copy, "add", ".")
    result = pre_commit(copy, "run", "--all-files")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "chapterwise check" in result.stdout and "Passed" in result.stdout
