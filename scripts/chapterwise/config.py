"""config.yaml -> a frozen, validated Config. The schema (shipped as package data) owns defaults."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error
from chapterwise.fsutil import atomic_write_bytes, project_path

SCHEMA_PATH: Path = Path(str(resources.files("chapterwise") / "schemas" / "config.schema.yaml"))
CONFIG_NAME = "config.yaml"
# The last settings found valid, by digest: every job re-reads config.yaml, and importing
# jsonschema alone costs a job about 0.1 s.
VALID_MEMO = "build/cache/config-valid"


@dataclass(frozen=True, slots=True)
class Config:
    thesis: str
    output: str
    notebook_dirs: tuple[str, ...]
    notebook_timeout: int
    source_date_epoch: int
    title: str
    author: str
    assembly: str  # "auto" (splice when provably identical) or "full"
    checks: Mapping[str, str] = field(default_factory=dict)  # check id -> error|warning|off


def read_schema() -> dict[str, Any]:
    """The config JSON schema as a dict."""
    loaded: dict[str, Any] = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _key_lines(text: str) -> dict[str, int]:
    """Line (1-based) of each top-level key in a YAML mapping, for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def schema_problems(
    values: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    origin: str = CONFIG_NAME,
    lines: Mapping[str, int] | None = None,
) -> list[Diagnostic]:
    """Every way ``values`` breaks the schema, each at its key's line."""
    import jsonschema

    lines = lines or {}
    problems: list[Diagnostic] = []
    validator = jsonschema.Draft202012Validator(schema)
    for issue in sorted(validator.iter_errors(dict(values)), key=lambda e: list(e.path)):
        key = str(issue.path[0]) if issue.path else None
        where = f"'{key}': " if key else ""
        problems.append(
            error(
                f"{where}{issue.message}",
                "bad-config",
                origin,
                lines.get(key) if key else None,
                hint="see the settings in the README",
            )
        )
    return problems


def _validation_digest(values: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """Names the pair (settings, schema): equal digests validate the same way."""
    canonical = json.dumps([values, schema], sort_keys=True, default=repr)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def _memo_holds(memo: Path, digest: str) -> bool:
    try:
        return memo.read_text(encoding="ascii") == digest
    except (OSError, ValueError):
        return False


def _with_defaults(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    filled = dict(copy.deepcopy(values))
    for key, spec in schema.get("properties", {}).items():
        if key not in filled and "default" in spec:
            filled[key] = copy.deepcopy(spec["default"])
    return filled


def parse_config(
    values: Mapping[str, Any], *, root: Path, origin: str = CONFIG_NAME, text: str = ""
) -> Config:
    """Validate ``values`` against the schema, fill defaults and refuse paths outside ``root``."""
    schema = read_schema()
    lines = _key_lines(text)
    memo = root / VALID_MEMO
    digest = _validation_digest(values, schema)
    if not _memo_holds(memo, digest):
        problems = schema_problems(values, schema, origin=origin, lines=lines)
        if problems:
            raise ChapterwiseError(problems)
        with contextlib.suppress(OSError):  # a read-only tree validates every time
            atomic_write_bytes(memo, digest.encode("ascii"))
    filled = _with_defaults(values, schema)
    paths = {
        key: project_path(filled[key], root=root, origin=origin, line=lines.get(key), what=key)
        for key in ("thesis", "output")
    }
    dirs = tuple(
        project_path(
            d, root=root, origin=origin, line=lines.get("notebook_dirs"), what="notebook dir"
        )
        for d in filled["notebook_dirs"]
    )
    return Config(
        thesis=paths["thesis"],
        output=paths["output"],
        notebook_dirs=dirs,
        notebook_timeout=int(filled["notebook_timeout"]),
        source_date_epoch=int(filled["source_date_epoch"]),
        title=str(filled["title"]),
        author=str(filled["author"]),
        assembly=str(filled["assembly"]),
        checks={
            str(key): "off" if value is False else str(value)
            for key, value in filled["checks"].items()
        },
    )


def read_config(root: Path, name: str = CONFIG_NAME) -> Config:
    """Read ``root/config.yaml`` (a missing file means all defaults)."""
    path = root / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parse_config({}, root=root, origin=name)
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ChapterwiseError(
            error(f"not valid YAML: {getattr(exc, 'problem', exc)}", "bad-config", name, line)
        ) from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ChapterwiseError(error("expected a mapping of settings", "bad-config", name, 1))
    return parse_config(values, root=root, origin=name, text=text)


def load_config(values: Mapping[str, Any], *, root: Path, name: str = CONFIG_NAME) -> Config:
    """Check Snakemake's ``config`` mapping, reading ``config.yaml`` only to locate errors."""
    path = root / name
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return parse_config(values, root=root, origin=name, text=text)
