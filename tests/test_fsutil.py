from __future__ import annotations

import os
from pathlib import Path

import pytest

from chapterwise.diagnostics import ChapterwiseError
from chapterwise.fsutil import atomic_write_bytes, copy_atomic, project_path, write_if_changed


def test_write_if_changed_keeps_identical_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out" / "table.tex"
    assert write_if_changed(target, "a & b\n") is True
    os.utime(target, (1_000_000, 1_000_000))
    assert write_if_changed(target, "a & b\n") is False
    assert target.stat().st_mtime == 1_000_000
    assert write_if_changed(target, b"a & c\n") is True
    assert target.read_text() == "a & c\n"


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "thesis.pdf"
    atomic_write_bytes(target, b"%PDF-1.5 one")
    atomic_write_bytes(target, b"%PDF-1.5 two")
    assert target.read_bytes() == b"%PDF-1.5 two"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.pdf"]


def test_copy_atomic_failure_keeps_target(tmp_path: Path) -> None:
    target = tmp_path / "thesis.pdf"
    target.write_bytes(b"last good")
    with pytest.raises(FileNotFoundError):
        copy_atomic(tmp_path / "missing.pdf", target)
    assert target.read_bytes() == b"last good"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.pdf"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("figures/a.pdf", "figures/a.pdf", id="plain"),
        pytest.param("./figures//a.pdf", "figures/a.pdf", id="dot_and_double_slash"),
        pytest.param(
            "figures/../tables/t.tex", "tables/t.tex", id="inner_dotdot_that_stays_inside"
        ),
    ],
)
def test_project_path_normalises(tmp_path: Path, raw: str, expected: str) -> None:
    assert project_path(raw, root=tmp_path, origin="nb.py") == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("../elsewhere.pdf", id="parent"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("figures/../../x.csv", id="escapes_through_subfolder"),
    ],
)
def test_project_path_refuses_outside(tmp_path: Path, raw: str) -> None:
    with pytest.raises(
        ChapterwiseError, match=r"^nb\.py:7: error: output '.*' is outside the project"
    ):
        project_path(raw, root=tmp_path, origin="nb.py", line=7, what="output")


def test_written_files_get_umask_permissions_not_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.pdf", b"x")
        (tmp_path / "src.pdf").write_bytes(b"y")
        copy_atomic(tmp_path / "src.pdf", tmp_path / "b.pdf")
    finally:
        os.umask(old)
    assert (tmp_path / "a.pdf").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.pdf").stat().st_mode & 0o777 == 0o644
