"""Shared fixtures and hypothesis profiles."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile(
    "ci", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def tool_env() -> dict[str, str]:
    """The environment for subprocesses: this interpreter's bin/ first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty project root with the standard folders."""
    for folder in ("chapters", "notebooks", "figures", "tables", "results", "bib", "data"):
        (tmp_path / folder).mkdir()
    return tmp_path


def copy_workflow(target: Path) -> None:
    """Copy the Snakefile and rules/ (the workflow a user copies into their thesis)."""
    shutil.copy2(REPO / "Snakefile", target / "Snakefile")
    shutil.copytree(REPO / "rules", target / "rules", dirs_exist_ok=True)


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write text or bytes files under ``root``, making their folders."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
