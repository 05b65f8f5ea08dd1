"""run_tool: output goes to the log, failures come back as data, a missing tool is explained."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import psutil
import pytest

from chapterwise.diagnostics import ChapterwiseError
from chapterwise.process import failure_message, run_tool


def test_output_is_appended_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "tool.log"
    log.parent.mkdir()
    log.write_text("before\n")
    result = run_tool([sys.executable, "-c", "print('hello')"], cwd=tmp_path, log=log)
    assert result.ok and result.returncode == 0
    text = log.read_text()
    assert text.startswith("before\n$ ") and "hello\n" in text


def test_failure_is_data_with_a_message_naming_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build" / "tool.log"
    result = run_tool(
        [sys.executable, "-c", "import sys; sys.exit(4)"], cwd=tmp_path, log=log, append=False
    )
    assert not result.ok
    message = failure_message(result, root=tmp_path)
    assert message == f"{Path(sys.executable).name} exited with 4; see build/tool.log"


def test_missing_tool_is_a_diagnostic(tmp_path: Path) -> None:
    with pytest.raises(ChapterwiseError, match=r"'no-such-tool-xyz' is not installed"):
        run_tool(["no-such-tool-xyz"], cwd=tmp_path, log=tmp_path / "x.log")


def test_timeout_kills_the_tool_and_what_it_started(tmp_path: Path) -> None:
    """A real shell that starts a real ``sleep`` and waits: both are gone after the limit."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    pid_file = tmp_path / "sleep.pid"
    script = f"{sleep} 300 & echo $! > {pid_file}; wait"
    log = tmp_path / "build" / "quarto.log"
    result = run_tool(["sh", "-c", script], cwd=tmp_path, log=log, timeout=1)
    assert result.timed_out == 1 and not result.ok
    assert 1 <= result.seconds < 60
    grandchild = int(pid_file.read_text())
    try:
        process = psutil.Process(grandchild)
    except psutil.NoSuchProcess:
        return
    # The group was sent SIGKILL; the kernel may still be tearing the process down.
    _, alive = psutil.wait_procs([process], timeout=10)
    assert not alive or process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD), (
        "the sleep the tool started outlived the timeout"
    )
    assert failure_message(result, root=tmp_path) == (
        "sh timed out after 1 s; see build/quarto.log"
    )
    assert log.read_text().splitlines()[-1] == (
        "chapterwise: timed out after 1 s; killed its process group"
    )


def test_a_tool_within_its_timeout_is_not_timed_out(tmp_path: Path) -> None:
    result = run_tool(
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        cwd=tmp_path,
        log=tmp_path / "x.log",
        timeout=60,
    )
    assert (result.returncode, result.timed_out, result.ok) == (3, None, False)
    assert failure_message(result, root=tmp_path).endswith("exited with 3; see x.log")


def test_the_scripts_folder_of_the_running_python_goes_first_once() -> None:
    from chapterwise.process import with_scripts_dir

    python = "/work/.venv/bin/python"
    assert with_scripts_dir("/usr/bin:/bin", python) == "/work/.venv/bin:/usr/bin:/bin"
    assert with_scripts_dir("/usr/bin:/work/.venv/bin", python) == "/usr/bin:/work/.venv/bin"
    assert with_scripts_dir("", python) == "/work/.venv/bin"
