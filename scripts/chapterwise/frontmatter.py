"""Notebook front matter (.qmd YAML header, jupytext .py comment header, .ipynb metadata).

Each notebook declares what it reads and writes: ``inputs:`` and ``outputs:`` lists of
project-relative paths. This module parses those declarations and keeps their line numbers.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error
from chapterwise.fsutil import project_path


class NotebookFormat(enum.Enum):
    QMD = ".qmd"
    IPYNB = ".ipynb"
    PY = ".py"


NOTEBOOK_SUFFIXES = frozenset(f.value for f in NotebookFormat)
_PY_HEADER_LINE = re.compile(r"^#( |$)")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """What a notebook declares; ``lines`` maps each declared path to its line in the file."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    header_line: int = 1


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


def _yaml_value_lines(node: yaml.Node, offset: int) -> dict[str, int]:
    """Line of every scalar under the top-level ``inputs``/``outputs`` keys."""
    found: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return found
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value in ("inputs", "outputs"):
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in items:
                if isinstance(item, yaml.ScalarNode):
                    found.setdefault(str(item.value), item.start_mark.line + offset)
    return found


def _parse_yaml_header(
    text: str, fmt: NotebookFormat, path: str
) -> tuple[dict[str, Any], dict[str, int], int]:
    block = _yaml_header_block(text, fmt)
    if block is None:
        return {}, {}, 1
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
                "bad-front-matter",
                path,
                line,
            )
        ) from None
    if values is None:
        return {}, {}, first_line
    if not isinstance(values, dict):
        raise ChapterwiseError(
            error("front matter must be a mapping", "bad-front-matter", path, first_line)
        )
    lines = _yaml_value_lines(node, first_line) if node is not None else {}
    return values, lines, first_line


def _parse_ipynb_header(text: str, path: str) -> tuple[dict[str, Any], dict[str, int], int]:
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
        return {}, {}, 1
    lines: dict[str, int] = {}
    for key in ("inputs", "outputs"):
        entries = metadata.get(key)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, str):
                    position = text.find(json.dumps(entry))
                    if position >= 0:
                        lines.setdefault(entry, text.count("\n", 0, position) + 1)
    key_position = text.find('"outputs"')
    header_line = text.count("\n", 0, key_position) + 1 if key_position >= 0 else 1
    return metadata, lines, header_line


def _path_list(values: dict[str, Any], key: str, path: str, line: int) -> tuple[str, ...]:
    raw = values.get(key, [])
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ChapterwiseError(
            error(f"'{key}' must be a list of paths", "bad-front-matter", path, line)
        )
    return tuple(raw)


def parse_front_matter(text: str, *, path: str, root: Path) -> FrontMatter:
    """Parse a notebook's declarations; paths come back relative to ``root`` in POSIX form."""
    fmt = notebook_format(path)
    if fmt is NotebookFormat.IPYNB:
        values, lines, header_line = _parse_ipynb_header(text, path)
    else:
        values, lines, header_line = _parse_yaml_header(text, fmt, path)
    problems: list[Diagnostic] = []
    declared: dict[str, tuple[str, ...]] = {}
    for key in ("inputs", "outputs"):
        normalised: list[str] = []
        for raw in _path_list(values, key, path, header_line):
            line = lines.get(raw, header_line)
            try:
                normalised.append(
                    project_path(raw, root=root, origin=path, line=line, what=f"{key[:-1]}")
                )
            except ChapterwiseError as exc:
                problems.extend(exc.diagnostics)
        declared[key] = tuple(normalised)
    for output in declared["outputs"]:
        if output == path or output in declared["inputs"]:
            problems.append(
                error(
                    f"output '{output}' is also an input",
                    "bad-front-matter",
                    path,
                    lines.get(output, header_line),
                )
            )
    if problems:
        raise ChapterwiseError(problems)
    line_of = {
        project_path(raw, root=root, origin=path): line
        for raw, line in lines.items()
        if raw.strip()
    }
    return FrontMatter(
        inputs=declared["inputs"],
        outputs=declared["outputs"],
        values=values,
        lines=line_of,
        header_line=header_line,
    )


def read_front_matter(path: Path, *, root: Path) -> FrontMatter:
    """Read and parse the front matter of the notebook at ``path``."""
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    return parse_front_matter(path.read_text(encoding="utf-8"), path=relative, root=root)
