"""Turn computed results into LaTeX: CSV files into booktabs tables, JSON objects into macros."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import math
import os
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error
from chapterwise.fsutil import write_if_changed

__all__ = [
    "Table",
    "escape_latex",
    "format_column_spec",
    "parse_csv_table",
    "parse_macro_values",
    "parse_macros",
    "parse_rendered_table",
    "render_macros",
    "render_macros_file",
    "render_table",
    "render_table_file",
    "unescape_latex",
]

TABLE_TEMPLATE = "booktabs.tex.j2"
MACROS_TEMPLATE = "macros.tex.j2"

# ---------------------------------------------------------------------------------------------
# Escaping

_ESCAPES: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_UNESCAPES = {latex: char for char, latex in _ESCAPES.items()}
_ESCAPED_TOKEN = re.compile("|".join(re.escape(latex) for latex in _UNESCAPES))
# TeX rejects most control characters, and a tabular row or a macro definition must stay on
# one line, so control characters in cell text and string values become spaces.
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")


def escape_latex(text: str) -> str:
    """Escape the ten characters that are special in LaTeX text, in one pass."""
    return text.translate(_ESCAPE_TABLE)


def unescape_latex(text: str) -> str:
    """Undo `escape_latex`; other LaTeX is left as it is."""
    return _ESCAPED_TOKEN.sub(lambda match: _UNESCAPES[match.group()], text)


def _latex_text(text: str) -> str:
    """Escape text for a one-line context: control characters (line breaks too) become spaces."""
    return escape_latex(_CONTROL_RUN.sub(" ", text))


# ---------------------------------------------------------------------------------------------
# Jinja2 with LaTeX-safe delimiters


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["escape"] = escape_latex
    return env


@functools.cache
def _packaged_template(name: str) -> jinja2.Template:
    """Compile a template shipped in `chapterwise/templates/` (cached: it never changes)."""
    text = (resources.files("chapterwise") / "templates" / name).read_text(encoding="utf-8")
    return _environment().from_string(text)


def _template_line(exc: BaseException) -> int | None:
    """The template line a render error happened on; Jinja2 puts it in the traceback."""
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == "<template>" and frame.lineno is not None
    ]
    return lines[-1] if lines else None


def _render_user_template(template_text: str, variables: Mapping[str, object]) -> str:
    """Render a user-supplied template; every failure becomes a `bad-template` diagnostic."""
    try:
        template = _environment().from_string(template_text)
    except jinja2.TemplateSyntaxError as exc:
        raise ChapterwiseError(
            error(f"template syntax error: {exc.message}", "bad-template", line=exc.lineno)
        ) from exc
    try:
        return template.render(variables)
    # A user template is user code: whatever it raises is the user's problem to fix.
    except Exception as exc:
        raise ChapterwiseError(
            error(
                f"template failed: {type(exc).__name__}: {exc}",
                "bad-template",
                line=_template_line(exc),
                hint="available: columns, rows, align, raw_columns, raw_rows, source, |escape",
            )
        ) from exc


def _one_line(text: str) -> str:
    """Make text safe inside a `%` comment line."""
    return _CONTROL_RUN.sub(" ", text)


# ---------------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True, slots=True)
class Table:
    """A header row and data rows of raw (unescaped) cell text."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _cells(count: int) -> str:
    return f"{count} cell" if count == 1 else f"{count} cells"


def parse_csv_table(text: str, *, path: str) -> Table:
    """Parse CSV text: the first non-blank row is the header, every other row must match it."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            if record:  # csv yields [] for a blank line
                records.append((start, record))
    except csv.Error as exc:
        raise ChapterwiseError(
            error(
                f"malformed CSV: {exc}",
                "bad-table",
                path,
                max(1, reader.line_num),
                hint="quote cells that contain commas, quotes or line breaks",
            )
        ) from exc
    if not records:
        raise ChapterwiseError(
            error(
                "empty table: no header row",
                "bad-table",
                path,
                1,
                hint="write a header row, then one line per data row",
            )
        )
    (_, header), *body = records
    problems = [
        error(
            f"row {number} has {_cells(len(cells))}, header has {_cells(len(header))}",
            "bad-table",
            path,
            line,
        )
        for number, (line, cells) in enumerate(body, start=1)
        if len(cells) != len(header)
    ]
    if problems:
        raise ChapterwiseError(problems)
    return Table(tuple(header), tuple(tuple(cells) for _, cells in body))


_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf(?:inity)?)",
    re.IGNORECASE,
)


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell.strip()) is not None


def format_column_spec(table: Table) -> str:
    """`r` for a column whose non-empty cells are all numbers (at least one), else `l`."""
    spec = []
    for index in range(len(table.columns)):
        cells = [row[index] for row in table.rows if row[index].strip()]
        spec.append("r" if cells and all(_is_number(cell) for cell in cells) else "l")
    return "".join(spec)


# After `\\` (and after booktabs rules) LaTeX looks ahead, skipping spaces, for `*` or an
# optional `[...]` argument; an empty group in front of such a cell stops the look-ahead.
_LOOKAHEAD_PROTECT = "{}"


def _cell_latex(text: str) -> str:
    latex = _latex_text(text)
    if latex.lstrip(" ").startswith(("[", "*")):
        return _LOOKAHEAD_PROTECT + latex
    return latex


def _check_shape(table: Table) -> None:
    problems = [error("table has no columns", "bad-table")] if not table.columns else []
    problems += [
        error(
            f"row {n} has {_cells(len(row))}, header has {_cells(len(table.columns))}",
            "bad-table",
        )
        for n, row in enumerate(table.rows, start=1)
        if len(row) != len(table.columns)
    ]
    if problems:
        raise ChapterwiseError(problems)


def render_table(table: Table, *, template_text: str | None = None, source: str = "") -> str:
    """Render a table body (a booktabs tabular, no float) with the default or a user template."""
    _check_shape(table)
    variables: dict[str, object] = {
        "columns": [_cell_latex(cell) for cell in table.columns],
        "rows": [[_cell_latex(cell) for cell in row] for row in table.rows],
        "align": format_column_spec(table),
        "raw_columns": list(table.columns),
        "raw_rows": [list(row) for row in table.rows],
        "source": _one_line(source),
    }
    if template_text is None:
        return _packaged_template(TABLE_TEMPLATE).render(variables)
    return _render_user_template(template_text, variables)


_ROW_END = " \\\\"
_ROW_TOKEN = re.compile(r"\\textbackslash\{\}|\\textasciitilde\{\}|\\textasciicircum\{\}|\\.|&")


def _split_row(line: str) -> tuple[str, ...]:
    """Split a rendered row at its bare `&`s and unescape the cells."""
    body = line.removesuffix(_ROW_END)
    pieces: list[str] = []
    start = 0
    for match in _ROW_TOKEN.finditer(body):
        if match.group() == "&":
            pieces.append(body[start : match.start()])
            start = match.end()
    pieces.append(body[start:])
    cells = []
    for index, piece in enumerate(pieces):
        if index > 0:
            piece = piece.removeprefix(" ")
        if index < len(pieces) - 1:
            piece = piece.removesuffix(" ")
        cells.append(unescape_latex(piece.removeprefix(_LOOKAHEAD_PROTECT)))
    return tuple(cells)


def parse_rendered_table(tex: str) -> Table:
    """Read back what `render_table` wrote with the default template (for round-trip tests)."""
    lines = tex.split("\n")
    try:
        top, mid, bottom = (
            lines.index(rule) for rule in (r"\toprule", r"\midrule", r"\bottomrule")
        )
    except ValueError as exc:
        raise ChapterwiseError(error(f"not a rendered table: {exc}", "bad-table")) from exc
    if mid != top + 2 or bottom < mid:
        raise ChapterwiseError(error("not a rendered table: unexpected layout", "bad-table"))
    return Table(
        _split_row(lines[top + 1]), tuple(_split_row(line) for line in lines[mid + 1 : bottom])
    )


# ---------------------------------------------------------------------------------------------
# Macros

_MACRO_NAME = re.compile(r"[A-Za-z]+")
_NAME_HINT = "use letters only, e.g. 'bestScore'"
_VALUE_HINT = 'use a string, a number, true/false or {"value": <number>, "format": "<spec>"}'
# Width and precision in a format spec are capped so a typo cannot allocate gigabytes.
_MAX_FORMAT_NUMBER = 1000


@dataclass(frozen=True, slots=True)
class _JsonObject:
    """A JSON object as its key/value pairs in order, so duplicate keys stay visible."""

    pairs: tuple[tuple[str, object], ...]


class _BadValue(Exception):
    """Raised inside this module only; parse_macro_values turns it into a Diagnostic."""


def _check_macro_name(name: str) -> tuple[str, str] | None:
    """Why `\\<name>` can't be defined with newcommand and a hint, or None when it can."""
    if _MACRO_NAME.fullmatch(name) is None:
        return f"bad macro name {name!r}", _NAME_HINT
    # LaTeX's \@ifdefinable refuses these two whatever is defined.
    if name.startswith("end") or name == "relax":
        return (
            f"bad macro name {name!r}: LaTeX refuses to define \\relax and names starting 'end'",
            "rename it, e.g. 'finalScore' instead of 'endScore'",
        )
    return None


def _format_number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValue(f"has a non-number value {json.dumps(value, default=str)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _BadValue(f"is {value}, not a finite number")
    return str(value) if isinstance(value, int) else format(value, ".6g")


def _format_object(obj: _JsonObject) -> str:
    fields = dict(obj.pairs)
    if sorted(fields) != ["format", "value"] or len(obj.pairs) != 2:
        keys = ", ".join(key for key, _ in obj.pairs) or "none"
        raise _BadValue(f'must have exactly the keys "value" and "format" (has {keys})')
    value, spec = fields["value"], fields["format"]
    _format_number(value)
    if not isinstance(spec, str):
        raise _BadValue('has a "format" that is not a string')
    if any(int(digits) > _MAX_FORMAT_NUMBER for digits in re.findall(r"[0-9]+", spec)):
        raise _BadValue(f"has format {spec!r} with a width or precision over {_MAX_FORMAT_NUMBER}")
    try:
        text = format(value, spec)
    except (ValueError, TypeError) as exc:
        raise _BadValue(f"has format {spec!r} that Python rejects: {exc}") from exc
    return escape_latex(text)


def _format_value(value: object) -> str:
    """A JSON value as LaTeX text, or `_BadValue` saying why it can't be one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _latex_text(value)
    if isinstance(value, int | float):
        return _format_number(value)
    if isinstance(value, _JsonObject):
        return _format_object(value)
    kind = "null" if value is None else "a list" if isinstance(value, list) else repr(value)
    raise _BadValue(f"is {kind}")


def _top_level_key_offsets(text: str) -> list[int]:
    """Offsets of the top-level object's keys, in order, in text that is valid JSON."""
    offsets: list[int] = []
    depth, index, size = 0, 0, len(text)
    while index < size:
        char = text[index]
        if char == '"':
            start = index
            index += 1
            while index < size and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            index += 1
            after = index
            while after < size and text[after] in " \t\r\n":
                after += 1
            if depth == 1 and after < size and text[after] == ":":
                offsets.append(start)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    return offsets


def _line_count(text: str) -> int:
    """Number of lines in text, counting an unterminated last line; at least 1."""
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def parse_macro_values(text: str, *, path: str) -> dict[str, str]:
    """Parse a JSON object into macro name -> formatted, escaped LaTeX value, in file order."""
    try:
        data = json.loads(text, object_pairs_hook=lambda pairs: _JsonObject(tuple(pairs)))
    except json.JSONDecodeError as exc:
        # At the end of text that ends in a newline JSON counts one line more than the file has.
        line, column = (exc.lineno, exc.colno) if exc.lineno <= _line_count(text) else (None, None)
        raise ChapterwiseError(
            error(f"invalid JSON: {exc.msg}", "bad-json", path, line or _line_count(text), column)
        ) from exc
    except (ValueError, RecursionError) as exc:  # huge integers, very deep nesting
        raise ChapterwiseError(error(f"invalid JSON: {exc}", "bad-json", path)) from exc
    if not isinstance(data, _JsonObject):
        stripped = len(text) - len(text.lstrip())
        line, column = _line_column(text, stripped)
        raise ChapterwiseError(
            error(
                "expected a JSON object of macro names and values",
                "bad-json",
                path,
                line,
                column,
                hint='e.g. {"bestScore": 0.93}',
            )
        )
    offsets = _top_level_key_offsets(text)
    values: dict[str, str] = {}
    first_line: dict[str, int | None] = {}
    problems: list[Diagnostic] = []
    for index, (name, raw) in enumerate(data.pairs):
        line, column = _line_column(text, offsets[index]) if index < len(offsets) else (None, None)
        bad_name = _check_macro_name(name)
        if bad_name is not None:
            message, hint = bad_name
            problems.append(error(message, "bad-macro-name", path, line, column, hint))
        elif name in first_line:
            problems.append(
                error(
                    f"duplicate macro name {name!r} (first at line {first_line[name]})",
                    "duplicate-macro-name",
                    path,
                    line,
                    column,
                )
            )
        else:
            first_line[name] = line
        try:
            values[name] = _format_value(raw)
        except _BadValue as exc:
            problems.append(
                error(f"macro {name!r} {exc}", "bad-macro-value", path, line, column, _VALUE_HINT)
            )
    if problems:
        raise ChapterwiseError(problems)
    return values


def _guard_name(name: str) -> str:
    """`name` spelled with characters that are safe in \\csname, one-to-one."""
    return "".join(
        char if char.isascii() and (char.isalnum() or char in "./-") else f"+{ord(char):x}+"
        for char in name
    )


def render_macros(values: Mapping[str, str], *, name: str, source: str = "") -> str:
    """Render `\\newcommand`s for LaTeX values inside a guard that makes re-inputs no-ops."""
    problems = [
        error(bad_name[0], "bad-macro-name", hint=bad_name[1])
        for macro in values
        if (bad_name := _check_macro_name(macro)) is not None
    ]
    if problems:
        raise ChapterwiseError(problems)
    return _packaged_template(MACROS_TEMPLATE).render(
        values=list(values.items()), guard=_guard_name(name), source=_one_line(source)
    )


_DEFINITION = re.compile(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}%")


def parse_macros(tex: str) -> dict[str, str]:
    """Read back the definitions `render_macros` wrote (for round-trip tests)."""
    return {
        match.group(1): match.group(2)
        for line in tex.split("\n")
        if (match := _DEFINITION.fullmatch(line)) is not None
    }


# ---------------------------------------------------------------------------------------------
# File edge


def _display_path(path: Path, root: Path) -> str:
    """`path` relative to `root` in POSIX form when it is inside root, else as given."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.as_posix()


def _read_text(path: Path, root: Path) -> str:
    shown = _display_path(path, root)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ChapterwiseError(
            error(f"cannot read file: {exc.strerror or exc}", "unreadable-file", shown)
        ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ChapterwiseError(
            error("file is not valid UTF-8", "bad-encoding", shown, line, hint="save it as UTF-8")
        ) from exc


def _write_output(path: Path, text: str, root: Path) -> bool:
    try:
        return write_if_changed(path, text)
    except OSError as exc:
        raise ChapterwiseError(
            error(
                f"cannot write file: {exc.strerror or exc}",
                "unwritable-file",
                _display_path(path, root),
            )
        ) from exc


def _with_path(diagnostics: Iterable[Diagnostic], path: str) -> list[Diagnostic]:
    return [d if d.path is not None else dataclasses.replace(d, path=path) for d in diagnostics]


def render_table_file(
    csv_path: Path, out_path: Path, *, template_path: Path | None, root: Path
) -> bool:
    """Render `csv_path` to `out_path` (optionally with a user template); True when it changed."""
    source = _display_path(csv_path, root)
    table = parse_csv_table(_read_text(csv_path, root), path=source)
    template_text = None if template_path is None else _read_text(template_path, root)
    try:
        tex = render_table(table, template_text=template_text, source=source)
    except ChapterwiseError as exc:
        shown = source if template_path is None else _display_path(template_path, root)
        raise ChapterwiseError(_with_path(exc.diagnostics, shown)) from exc
    return _write_output(out_path, tex, root)


def render_macros_file(json_path: Path, out_path: Path, *, root: Path) -> bool:
    """Render `json_path` to macros in `out_path`; True when the file changed.

    The guard is named after the output path, the identity of the file chapters input.
    """
    source = _display_path(json_path, root)
    values = parse_macro_values(_read_text(json_path, root), path=source)
    guard = _display_path(out_path.with_suffix(""), root)
    return _write_output(out_path, render_macros(values, name=guard, source=source), root)
