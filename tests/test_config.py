from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chapterwise.config import SCHEMA_PATH, parse_config, read_config
from chapterwise.diagnostics import ChapterwiseError

DATA = Path(__file__).parent / "data"


def test_defaults_come_from_the_schema(tmp_path: Path) -> None:
    config = read_config(tmp_path)  # no config.yaml at all
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert config.thesis == schema["properties"]["thesis"]["default"] == "thesis.tex"
    assert config.output == "thesis.pdf"
    assert config.notebook_dirs == ("notebooks",)
    assert config.notebook_timeout == schema["properties"]["notebook_timeout"]["default"]


def test_repository_config_is_valid(repo_root: Path) -> None:
    config = read_config(repo_root)
    assert config.thesis == "thesis.tex"
    assert config.title


def test_unknown_key_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\ntheses: x.tex\n")
    with pytest.raises(
        ChapterwiseError, match=r"config\.yaml: error: Additional properties .*'theses'"
    ):
        read_config(tmp_path)


def test_wrong_type_points_at_the_key(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\nnotebook_timeout: soon\n")
    with pytest.raises(
        ChapterwiseError, match=r"^config\.yaml:2: error: 'notebook_timeout': 'soon' is not of type"
    ):
        read_config(tmp_path)


def test_outside_repo_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text((DATA / "bad" / "outside-repo.yaml").read_text())
    with pytest.raises(
        ChapterwiseError, match=r"^config\.yaml:\d+: error: output '\.\./.*' is outside the project"
    ):
        read_config(tmp_path)


def test_broken_yaml_has_a_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\noutput: [unclosed\n")
    with pytest.raises(ChapterwiseError, match=r"^config\.yaml:\d+: error: not valid YAML"):
        read_config(tmp_path)


def test_parse_config_accepts_snakemake_filled_mapping(tmp_path: Path) -> None:
    config = parse_config({"thesis": "main.tex", "output": "out/main.pdf"}, root=tmp_path)
    assert (config.thesis, config.output) == ("main.tex", "out/main.pdf")


def test_check_severities_accept_a_bare_off(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("checks:\n  uncited-entry: off\n  duplicate-doi: error\n")
    config = read_config(tmp_path)
    assert config.checks == {"uncited-entry": "off", "duplicate-doi": "error"}


def test_an_unknown_check_severity_points_at_checks(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("title: T\nchecks:\n  uncited-entry: loud\n")
    with pytest.raises(ChapterwiseError) as caught:
        read_config(tmp_path)
    (problem,) = caught.value.diagnostics
    assert (problem.path, problem.line, problem.code) == ("config.yaml", 2, "bad-config")
    assert "'loud' is not one of" in problem.message


def test_valid_settings_are_remembered_and_invalid_ones_never(tmp_path: Path) -> None:
    from chapterwise.config import VALID_MEMO

    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\n")
    read_config(tmp_path)
    memo = tmp_path / VALID_MEMO
    remembered = memo.read_text()
    assert remembered
    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\nnotebook_timeout: soon\n")
    with pytest.raises(ChapterwiseError, match=r"config\.yaml:2: error: 'notebook_timeout'"):
        read_config(tmp_path)
    assert memo.read_text() == remembered  # the last valid settings, still


def test_a_stale_memo_does_not_hide_an_error(tmp_path: Path) -> None:
    from chapterwise.config import VALID_MEMO

    (tmp_path / "config.yaml").write_text("theses: x.tex\n")
    memo = tmp_path / VALID_MEMO
    memo.parent.mkdir(parents=True)
    memo.write_text("0" * 32)
    with pytest.raises(ChapterwiseError, match="Additional properties"):
        read_config(tmp_path)


def test_the_memo_does_not_import_jsonschema(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "config.yaml").write_text("thesis: thesis.tex\n")
    read_config(tmp_path)  # validated once: remembered
    probe = (
        "import sys; from pathlib import Path; from chapterwise.config import read_config; "
        f"read_config(Path({str(tmp_path)!r})); print('jsonschema' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
