"""Notebook front matter (.qmd YAML header, jupytext .py comment header, .ipynb metadata).

Each notebook declares what it reads and writes (``inputs:``, ``outputs:``, lists of
project-relative paths) and how it runs: ``params:`` (values injected into the notebook),
``timeout:`` (seconds per cell), ``resources:`` (``cpus``, ``mem_mb``, ``gpu``, ``runtime`` in
minutes, which also limits the whole notebook's run) and ``kernel:``. This module parses and
validates those declarations and keeps the line of every key, so each problem is reported as
``file:line``.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error, warning
from chapterwise.fsutil import project_path


class NotebookFormat(enum.Enum):
    QMD = ".qmd"
    IPYNB = ".ipynb"
    PY = ".py"


NOTEBOOK_SUFFIXES = frozenset(f.value for f in NotebookFormat)
FRONT_MATTER_KEYS = ("inputs", "outputs", "params", "timeout", "resources", "kernel")
RESOURCE_KEYS = ("cpus", "mem_mb", "gpu", "runtime")
_RESOURCE_HINTS = {
    "cpus": "the cores the notebook uses, e.g. cpus: 4",
    "mem_mb": "megabytes, e.g. mem_mb: 16000",
    "gpu": "the GPUs the notebook uses, e.g. gpu: 1",
    "runtime": "minutes the whole notebook may run, e.g. runtime: 90",
}
_PY_HEADER_LINE = re.compile(r"^#( |$)")
_CODE = "bad-front-matter"
# A key this close to one of ours is almost certainly a typo of it (ouputs, param, resource).
_TYPO_CUTOFF = 0.8

Scalar = str | int | float | bool | None
ParamValue = Scalar | list[Scalar]


@dataclass(frozen=True, slots=True)
class Resources:
    """What one notebook job needs; ``runtime`` is in minutes (Snakemake's unit)."""

    cpus: int = 1
    mem_mb: int | None = None
    gpu: int | None = None
    runtime: int | None = None

    def snakemake_resources(self) -> dict[str, int]:
        """The rule's ``resources:``: only what was declared (``cpus`` becomes ``threads:``)."""
        declared = {"mem_mb": self.mem_mb, "gpu": self.gpu, "runtime": self.runtime}
        return {key: value for key, value in declared.items() if value is not None}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """What a notebook declares.

    ``lines`` maps each declared path to its line in the file, ``key_lines`` each key
    (``params``, ``params.alpha``, ``resources.cpus``, ...) to its line, ``header_line`` is where
    a problem with the whole header is reported and ``start_line`` where the header begins.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    header_line: int = 1
    params: dict[str, ParamValue] = field(default_factory=dict)
    timeout: int | None = None
    resources: Resources = field(default_factory=Resources)
    kernel: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    start_line: int = 1
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class _Header:
    """A header as read, before validation."""

    values: dict[str, Any]
    key_lines: dict[str, int]
    path_lines: dict[str, int]
    header_line: int
    start_line: int


_EMPTY = _Header({}, {}, {}, 1, 1)


def notebook_format(path: str) -> NotebookFormat:
    """The format of a notebook, from its suffix."""
    return NotebookFormat(Path(path).suffix)


def _yaml_header_block(text: str, fmt: NotebookFormat) -> tuple[str, int] | None:
    """Return the header's YAML text and the file line its first YAML line stands on."""
    lines = text.splitlines()
    if fmt is NotebookFormat.QMD:
        if not lines or lines[0].strip() != "---":
            return None
        for index in range(1, len(lines)):
            if lines[index].strip() in ("---", "..."):
                return "\n".join(lines[1:index]), 2
        return None
    # jupytext percent/light scripts: a commented YAML block between '# ---' lines,
    # possibly after a shebang or encoding line.
    start = 0
    while start < len(lines) and start < 2 and lines[start].startswith("#!"):
        start += 1
    if start >= len(lines) or lines[start].strip() != "# ---":
        return None
    body: list[str] = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.strip() == "# ---":
            return "\n".join(body), start + 2
        if not _PY_HEADER_LINE.match(line):
            return None
        body.append(line[2:])
    return None


def _yaml_lines(node: yaml.Node, offset: int) -> tuple[dict[str, int], dict[str, int]]:
    """Lines of top-level keys (and of keys one level below), and of declared paths."""
    keys: dict[str, int] = {}
    paths: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return keys, paths
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        name = str(key.value)
        keys.setdefault(name, key.start_mark.line + offset)
        if isinstance(value, yaml.MappingNode):
            for child, _ in value.value:
                if isinstance(child, yaml.ScalarNode):
                    keys.setdefault(f"{name}.{child.value}", child.start_mark.line + offset)
        if name in ("inputs", "outputs"):
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in items:
                if isinstance(item, yaml.ScalarNode):
                    paths.setdefault(str(item.value), item.start_mark.line + offset)
    return keys, paths


def _read_yaml_header(text: str, fmt: NotebookFormat, path: str) -> _Header:
    block = _yaml_header_block(text, fmt)
    if block is None:
        return _EMPTY
    body, first_line = block
    try:
        node = yaml.compose(body, Loader=yaml.SafeLoader)
        values = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        raise ChapterwiseError(
            error(
                f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}",
                _CODE,
                path,
                line,
            )
        ) from None
    if values is None:
        return _Header({}, {}, {}, first_line, first_line - 1)
    if not isinstance(values, dict):
        raise ChapterwiseError(error("front matter must be a mapping", _CODE, path, first_line))
    keys, paths = _yaml_lines(node, first_line) if node is not None else ({}, {})
    return _Header(values, keys, paths, first_line, first_line - 1)


def _json_key_offsets(text: str) -> dict[tuple[str, ...], int]:
    """Offset of every object key in a JSON text, by its path of keys (arrays are opaque)."""
    offsets: dict[tuple[str, ...], int] = {}
    stack: list[tuple[str, tuple[str, ...]]] = []  # (bracket, path of the container)
    pending: tuple[str, ...] = ()  # path a value opened now would have
    expect_key = False
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if char == '"':
            end = index + 1
            while end < size and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if expect_key and stack and stack[-1][0] == "{":
                try:
                    key = str(json.loads(text[index : end + 1]))
                except ValueError:
                    key = text[index + 1 : end]
                pending = (*stack[-1][1], key)
                offsets.setdefault(pending, index)
                expect_key = False
            index = end + 1
            continue
        if char in "{[":
            stack.append((char, pending))
            expect_key = char == "{"
            pending = (*pending, "#") if char == "[" else pending
        elif char in "}]":
            if stack:
                stack.pop()
            expect_key = False
        elif char == ",":
            if stack and stack[-1][0] == "{":
                expect_key = True
            elif stack:
                pending = (*stack[-1][1], "#")
        index += 1
    return offsets


def _read_ipynb_header(text: str, path: str) -> _Header:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ChapterwiseError(
            error(
                f"not a valid .ipynb (JSON): {exc.msg}", "bad-notebook", path, exc.lineno, exc.colno
            )
        ) from None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return _EMPTY

    def line_at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    offsets = _json_key_offsets(text)
    keys = {
        ".".join(key_path[1:]): line_at(offset)
        for key_path, offset in offsets.items()
        if key_path[0] == "metadata" and 2 <= len(key_path) <= 3 and "#" not in key_path
    }
    paths: dict[str, int] = {}
    for key in ("inputs", "outputs"):
        entries = metadata.get(key)
        start = offsets.get(("metadata", key))
        if not isinstance(entries, list) or start is None:
            continue
        for entry in entries:
            if isinstance(entry, str):
                position = text.find(json.dumps(entry), start)
                if position >= 0:
                    paths.setdefault(entry, line_at(position))
    metadata_line = line_at(offsets.get(("metadata",), 0))
    header_line = keys.get("outputs", metadata_line)
    return _Header(metadata, keys, paths, header_line, metadata_line)


def _path_list(values: dict[str, Any], key: str, path: str, line: int) -> tuple[str, ...]:
    raw = values.get(key, [])
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ChapterwiseError(error(f"'{key}' must be a list of paths", _CODE, path, line))
    return tuple(raw)


def _describe(value: object) -> str:
    """A short description of a YAML value for an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."


def _is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _count(value: object, *, minimum: int) -> int | None:
    """``value`` if it is a whole number >= minimum (YAML booleans are not numbers)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    return None


@dataclass(frozen=True, slots=True)
class _Checked:
    params: dict[str, ParamValue]
    timeout: int | None
    resources: Resources
    kernel: str | None


def _check_params(header: _Header, path: str, problems: list[Diagnostic]) -> dict[str, ParamValue]:
    raw = header.values.get("params")
    line = header.key_lines.get("params", header.header_line)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(
            error(
                f"'params' must be a mapping of names to values, not {_describe(raw)}",
                _CODE,
                path,
                line,
                hint="e.g. params: {alpha: 0.5, labels: [a, b]}",
            )
        )
        return {}
    params: dict[str, ParamValue] = {}
    for name, value in raw.items():
        where = header.key_lines.get(f"params.{name}", line)
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(
                error(
                    f"parameter name {name!r} is not a Python identifier",
                    _CODE,
                    path,
                    where,
                    hint="use letters, digits and '_', not starting with a digit",
                )
            )
            continue
        if _is_scalar(value):
            params[name] = value
        elif isinstance(value, list) and all(_is_scalar(item) for item in value):
            params[name] = list(value)
        else:
            problems.append(
                error(
                    f"'params.{name}' must be a scalar or a list of scalars, "
                    f"not {_describe(value)}",
                    _CODE,
                    path,
                    where,
                    hint="numbers, strings, true/false, null (quote dates; no nan/inf)",
                )
            )
    return params


def _check_resources(header: _Header, path: str, problems: list[Diagnostic]) -> Resources:
    raw = header.values.get("resources")
    line = header.key_lines.get("resources", header.header_line)
    if raw is None:
        return Resources()
    known = ", ".join(RESOURCE_KEYS)
    if not isinstance(raw, dict):
        problems.append(
            error(
                f"'resources' must be a mapping, not {_describe(raw)}",
                _CODE,
                path,
                line,
                hint=f"keys: {known}",
            )
        )
        return Resources()
    found: dict[str, int] = {}
    for name, value in raw.items():
        where = header.key_lines.get(f"resources.{name}", line)
        if name not in RESOURCE_KEYS:
            close = difflib.get_close_matches(str(name), RESOURCE_KEYS, n=1, cutoff=0.5)
            problems.append(
                error(
                    f"unknown resource {name!r}"
                    + (f"; did you mean '{close[0]}'?" if close else ""),
                    _CODE,
                    path,
                    where,
                    hint=f"known resources: {known} (runtime in minutes)",
                )
            )
            continue
        minimum = 0 if name == "gpu" else 1
        count = _count(value, minimum=minimum)
        if count is None:
            what = "a whole number >= 0" if minimum == 0 else "a positive whole number"
            problems.append(
                error(
                    f"'resources.{name}' must be {what}, not {_describe(value)}",
                    _CODE,
                    path,
                    where,
                    hint=_RESOURCE_HINTS[name],
                )
            )
            continue
        found[name] = count
    return Resources(
        cpus=found.get("cpus", 1),
        mem_mb=found.get("mem_mb"),
        gpu=found.get("gpu"),
        runtime=found.get("runtime"),
    )


def _check_settings(header: _Header, path: str, problems: list[Diagnostic]) -> _Checked:
    """Validate params, timeout, resources and kernel; problems are appended."""
    params = _check_params(header, path, problems)
    resources = _check_resources(header, path, problems)
    timeout: int | None = None
    if header.values.get("timeout") is not None:
        raw = header.values["timeout"]
        timeout = _count(raw, minimum=1)
        if timeout is None:
            problems.append(
                error(
                    f"'timeout' must be a positive whole number of seconds, not {_describe(raw)}",
                    _CODE,
                    path,
                    header.key_lines.get("timeout", header.header_line),
                    hint="the longest one cell may run, e.g. timeout: 600",
                )
            )
    kernel: str | None = None
    if header.values.get("kernel") is not None:
        raw = header.values["kernel"]
        if isinstance(raw, str) and raw.strip() and not any(c.isspace() for c in raw):
            kernel = raw
        else:
            problems.append(
                error(
                    f"'kernel' must be a kernel name, not {_describe(raw)}",
                    _CODE,
                    path,
                    header.key_lines.get("kernel", header.header_line),
                    hint="see `jupyter kernelspec list`, e.g. kernel: python3",
                )
            )
    return _Checked(params, timeout, resources, kernel)


def _typo_warnings(header: _Header, path: str) -> tuple[Diagnostic, ...]:
    """Unknown top-level keys that look like misspellings of ours.

    Quarto, Jupyter and jupytext own many other keys (title, format, execute, jupyter,
    kernelspec, ...); only near-misses of our own are worth a warning.
    """
    found: list[Diagnostic] = []
    for key in header.values:
        if not isinstance(key, str) or key in FRONT_MATTER_KEYS:
            continue
        close = difflib.get_close_matches(key, FRONT_MATTER_KEYS, n=1, cutoff=_TYPO_CUTOFF)
        if close:
            found.append(
                warning(
                    f"unknown front matter key '{key}'; did you mean '{close[0]}'?",
                    "unknown-key",
                    path,
                    header.key_lines.get(key, header.header_line),
                )
            )
    return tuple(found)


def parse_front_matter(text: str, *, path: str, root: Path) -> FrontMatter:
    """Parse a notebook's declarations; paths come back relative to ``root`` in POSIX form."""
    fmt = notebook_format(path)
    if fmt is NotebookFormat.IPYNB:
        header = _read_ipynb_header(text, path)
    else:
        header = _read_yaml_header(text, fmt, path)
    problems: list[Diagnostic] = []
    declared: dict[str, tuple[str, ...]] = {}
    for key in ("inputs", "outputs"):
        normalised: list[str] = []
        line = header.key_lines.get(key, header.header_line)
        for raw in _path_list(header.values, key, path, line):
            try:
                normalised.append(
                    project_path(
                        raw,
                        root=root,
                        origin=path,
                        line=header.path_lines.get(raw, line),
                        what=f"{key[:-1]}",
                    )
                )
            except ChapterwiseError as exc:
                problems.extend(exc.diagnostics)
        declared[key] = tuple(normalised)
    for output in declared["outputs"]:
        if output == path or output in declared["inputs"]:
            problems.append(
                error(
                    f"output '{output}' is also an input",
                    _CODE,
                    path,
                    header.path_lines.get(output, header.header_line),
                )
            )
    checked = _check_settings(header, path, problems)
    if problems:
        raise ChapterwiseError(problems)
    line_of = {
        project_path(raw, root=root, origin=path): line
        for raw, line in header.path_lines.items()
        if raw.strip()
    }
    return FrontMatter(
        inputs=declared["inputs"],
        outputs=declared["outputs"],
        values=header.values,
        lines=line_of,
        header_line=header.header_line,
        params=checked.params,
        timeout=checked.timeout,
        resources=checked.resources,
        kernel=checked.kernel,
        key_lines=header.key_lines,
        start_line=max(header.start_line, 1),
        warnings=_typo_warnings(header, path),
    )


def read_front_matter(path: Path, *, root: Path) -> FrontMatter:
    """Read and parse the front matter of the notebook at ``path``."""
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    return parse_front_matter(path.read_text(encoding="utf-8"), path=relative, root=root)
