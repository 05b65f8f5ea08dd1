"""Real Snakemake runs on copies of the example theses (no fake latexmk, no mocks)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO, copy_workflow, tool_env

MINI = DATA / "mini_thesis"
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    ".snakemake",
    "__pycache__",
    "thesis.pdf",
    "thesis.synctex.gz",
    "results",
    ".hypothesis",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


def snakemake(
    directory: Path, *args: str, cores: int = 2, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real snakemake CLI in ``directory``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            str(cores),
            "--directory",
            str(directory),
            *args,
        ],
        cwd=directory,
        env=env or tool_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def build(directory: Path, target: str = "thesis.pdf") -> subprocess.CompletedProcess[str]:
    result = snakemake(directory, target)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\s*$")


def planned_jobs(directory: Path, target: str = "thesis.pdf") -> set[tuple[str, str]]:
    """(rule, first output) of every job ``snakemake -n`` plans, from its dry-run listing."""
    result = snakemake(directory, "-n", target)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs: set[tuple[str, str]] = set()
    rule: str | None = None
    for line in (result.stdout + result.stderr).splitlines():
        match = _JOB.match(line)
        if match:
            rule = match.group(1)
            continue
        if rule and line.strip().startswith("output:"):
            jobs.add((rule, line.split(":", 1)[1].split(",")[0].strip()))
            rule = None
    return jobs


def copy_thesis(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=IGNORED, symlinks=True, dirs_exist_ok=True)
    copy_workflow(target)
    return target


@pytest.fixture(scope="session")
def built_mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini thesis, built once per session; tests take copies of this state."""
    directory = copy_thesis(MINI, tmp_path_factory.mktemp("mini-built"))
    build(directory)
    # Previews typeset before the first thesis build carry chapter numbers but not yet the
    # thesis' cross-references; rebuilding them once reaches the state of a working tree.
    result = snakemake(directory, "thesis.pdf", "--forcerun", "compile_chapter")
    assert result.returncode == 0, result.stderr[-4000:]
    return directory


@pytest.fixture
def mini(built_mini: Path, tmp_path: Path) -> Path:
    """A private copy of the built mini thesis (sources, build/ state and Snakemake metadata)."""
    target = tmp_path / "thesis"
    shutil.copytree(built_mini, target, symlinks=True)
    return target


@pytest.fixture
def fresh_mini(tmp_path: Path) -> Path:
    """An unbuilt copy of the mini thesis."""
    return copy_thesis(MINI, tmp_path / "thesis")


__all__ = ["REPO", "build", "copy_thesis", "planned_jobs", "snakemake"]
