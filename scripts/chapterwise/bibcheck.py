"""Bibliography checks: a bibtexparser v2 library through a tuple of small ``check_*`` functions.

Each check returns Diagnostics whose code is its id. Entries keep the line of their ``@type{``;
citations keep the file, line and column of the citing command.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bibtexparser.entrypoint import parse_string
from bibtexparser.model import DuplicateBlockKeyBlock, ParsingFailedBlock

from chapterwise.diagnostics import Diagnostic, Severity, error, warning
from chapterwise.texscan import CommandKind, scan_tex

SEVERITIES: Mapping[str, Severity] = {
    "bib-parse-error": Severity.ERROR,
    "duplicate-key": Severity.ERROR,
    "duplicate-doi": Severity.WARNING,
    "missing-field": Severity.ERROR,
    "malformed-doi": Severity.WARNING,
    "malformed-year": Severity.WARNING,
    "malformed-month": Severity.WARNING,
    "malformed-pages": Severity.WARNING,
    "undefined-citation": Severity.ERROR,
    "uncited-entry": Severity.WARNING,
    "missing-bibliography": Severity.ERROR,
    "empty-file": Severity.WARNING,
}

# Required fields of the common types (biblatex manual, sec. 2.1.1); a tuple is "one of".
_AUTHOR = ("author",)
_AUTHOR_OR_EDITOR = ("author", "editor")
_DATE = ("date", "year")
REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "article": (_AUTHOR, ("title",), ("journaltitle", "journal"), _DATE),
    "book": (_AUTHOR_OR_EDITOR, ("title",), _DATE),
    "inbook": (_AUTHOR, ("title",), ("booktitle",), _DATE),
    "incollection": (_AUTHOR, ("title",), ("booktitle",), _DATE),
    "inproceedings": (_AUTHOR, ("title",), ("booktitle",), _DATE),
    "thesis": (_AUTHOR, ("title",), ("type",), ("institution", "school"), _DATE),
    "phdthesis": (_AUTHOR, ("title",), ("institution", "school"), _DATE),
    "mastersthesis": (_AUTHOR, ("title",), ("institution", "school"), _DATE),
    "report": (_AUTHOR, ("title",), ("type",), ("institution",), _DATE),
    "techreport": (_AUTHOR, ("title",), ("institution",), _DATE),
    "online": (_AUTHOR_OR_EDITOR, ("title",), ("url", "doi", "eprint"), _DATE),
    "manual": (_AUTHOR_OR_EDITOR, ("title",), _DATE),
    "misc": (_AUTHOR_OR_EDITOR, ("title",), _DATE),
    "unpublished": (_AUTHOR, ("title",), _DATE),
}
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(https?://(dx\.)?doi\.org/|doi:)", re.IGNORECASE)
_YEAR = re.compile(r"^\d{4}$")
_DATE_VALUE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?(/(\d{4}(-\d{2}(-\d{2})?)?)?)?$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PAGE = r"(\d+|[ivxlcdm]+|[A-Za-z]?\d+[A-Za-z]?)"
_PAGES = re.compile(
    rf"^{_PAGE}(\s*(-{{1,2}}|–)\s*{_PAGE})?(\s*,\s*{_PAGE}(\s*-{{1,2}}\s*{_PAGE})?)*$"
)


@dataclass(frozen=True, slots=True)
class BibEntry:
    key: str
    type: str
    fields: Mapping[str, str]
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Citation:
    key: str  # "*" for \nocite{*}
    path: str
    line: int
    column: int


def citations_in(text: str, path: str) -> tuple[Citation, ...]:
    """Every key cited in a .tex text (all \\cite families; comments ignored)."""
    return tuple(
        Citation(key, path, command.line, command.column)
        for command in scan_tex(text)
        if command.kind is CommandKind.CITE
        for key in command.targets
    )


def bib_resources(text: str, path: str) -> tuple[tuple[str, str, int], ...]:
    """(bib file, citing path, line) of each \\addbibresource / \\bibliography."""
    found = []
    for command in scan_tex(text):
        if command.kind is CommandKind.BIBRESOURCE:
            for target in command.targets:
                name = target if target.endswith(".bib") else f"{target}.bib"
                found.append((name, path, command.line))
    return tuple(found)


def parse_bibliography(text: str, path: str) -> tuple[list[BibEntry], list[Diagnostic]]:
    """Entries of one .bib text, and its parse errors and duplicate keys (or that it is empty)."""
    problems: list[Diagnostic] = []
    if not text.strip():
        return [], [warning("file is empty", "empty-file", path, hint="add entries or drop it")]
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # reported below instead
    try:
        library = parse_string(text)
    except Exception as exc:  # the parser's own failure is this file's problem, not a crash
        return [], [error(f"cannot parse: {exc}", "bib-parse-error", path, 1)]
    entries = [
        BibEntry(
            entry.key,
            entry.entry_type.lower(),
            {f.key.lower(): str(f.value) for f in entry.fields},
            path,
            (entry.start_line or 0) + 1,
        )
        for entry in library.entries
    ]
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            problems.append(
                error(
                    f"entry key '{block.key}' is defined twice",
                    "duplicate-key",
                    path,
                    line,
                    hint="keep one entry, or give one a new key",
                )
            )
        elif isinstance(block, ParsingFailedBlock):
            lines = str(block.error or "").strip().splitlines()
            reason = lines[-1].strip() if lines else "syntax error"
            problems.append(
                error(
                    f"this block cannot be parsed: {reason}",
                    "bib-parse-error",
                    path,
                    line,
                    hint="check its braces, commas and quotes",
                )
            )
    return entries, problems


def check_duplicate_keys(entries: Sequence[BibEntry]) -> list[Diagnostic]:
    """A key defined in two .bib files, or keys that differ only in case (biber: one key).

    The same key twice in one file is bibtexparser's DuplicateBlockKeyBlock, reported by
    ``parse_bibliography``.
    """
    seen: dict[str, BibEntry] = {}
    found = []
    for entry in entries:
        folded = entry.key.casefold()
        other = seen.get(folded)
        if other is None:
            seen[folded] = entry
        elif other.key != entry.key:
            found.append(
                error(
                    f"key '{entry.key}' differs from '{other.key}' ({other.path}:{other.line}) "
                    "only in case, which biber treats as the same key",
                    "duplicate-key",
                    entry.path,
                    entry.line,
                    hint="rename one of them",
                )
            )
        elif other.path != entry.path:
            found.append(
                error(
                    f"key '{entry.key}' is already defined at {other.path}:{other.line}",
                    "duplicate-key",
                    entry.path,
                    entry.line,
                    hint="keep one entry, or give one a new key",
                )
            )
    return found


def _doi(value: str) -> str:
    return _DOI_PREFIX.sub("", value.strip()).lower()


def check_duplicate_dois(entries: Sequence[BibEntry]) -> list[Diagnostic]:
    seen: dict[str, BibEntry] = {}
    found = []
    for entry in entries:
        doi = _doi(entry.fields.get("doi", ""))
        if not doi:
            continue
        if doi in seen:
            other = seen[doi]
            found.append(
                warning(
                    f"entry '{entry.key}' has the DOI of '{other.key}' ({other.path}:{other.line})",
                    "duplicate-doi",
                    entry.path,
                    entry.line,
                    hint="the same work is in the bibliography twice",
                )
            )
        else:
            seen[doi] = entry
    return found


def check_required_fields(entries: Sequence[BibEntry]) -> list[Diagnostic]:
    found = []
    for entry in entries:
        for options in REQUIRED.get(entry.type, ()):
            if not any(entry.fields.get(name, "").strip() for name in options):
                alternatives = f" (or {', '.join(options[1:])})" if len(options) > 1 else ""
                found.append(
                    error(
                        f"entry '{entry.key}' ({entry.type}) has no '{options[0]}'",
                        "missing-field",
                        entry.path,
                        entry.line,
                        hint=f"add {options[0]} = {{...}}{alternatives}",
                    )
                )
    return found


def _month_ok(value: str) -> bool:
    text = value.strip().lower()
    if text.isdigit():
        return 1 <= int(text) <= 12
    return text[:3] in _MONTHS and (len(text) == 3 or text.isalpha())


def check_field_formats(entries: Sequence[BibEntry]) -> list[Diagnostic]:
    found = []
    for entry in entries:
        fields = entry.fields
        rules: list[tuple[str, str, Callable[[str], bool], str]] = [
            ("doi", "malformed-doi", lambda v: bool(_DOI.match(_doi(v))), "10.NNNN/suffix"),
            ("year", "malformed-year", lambda v: bool(_YEAR.match(v.strip())), "four digits"),
            (
                "date",
                "malformed-year",
                lambda v: bool(_DATE_VALUE.match(v.strip())),
                "YYYY, YYYY-MM or YYYY-MM-DD (ranges with /)",
            ),
            ("month", "malformed-month", _month_ok, "1-12 or jan..dec"),
            ("pages", "malformed-pages", lambda v: bool(_PAGES.match(v.strip())), "12--34"),
        ]
        for name, code, valid, expected in rules:
            value = fields.get(name)
            if value is not None and value.strip() and not valid(value):
                found.append(
                    warning(
                        f"entry '{entry.key}': {name} '{value.strip()}' is malformed",
                        code,
                        entry.path,
                        entry.line,
                        hint=f"write {expected}",
                    )
                )
    return found


ENTRY_CHECKS: tuple[Callable[[Sequence[BibEntry]], list[Diagnostic]], ...] = (
    check_duplicate_keys,
    check_duplicate_dois,
    check_required_fields,
    check_field_formats,
)


def check_citations(entries: Sequence[BibEntry], citations: Sequence[Citation]) -> list[Diagnostic]:
    """Citations with no entry (errors) and entries never cited (warnings; \\nocite{*} aside)."""
    keys = {entry.key.casefold(): entry for entry in entries}
    found = []
    for citation in citations:
        if citation.key == "*" or citation.key.casefold() in keys:
            continue
        close = difflib.get_close_matches(citation.key, [e.key for e in entries], n=1)
        found.append(
            error(
                f"citation '{citation.key}' has no bibliography entry",
                "undefined-citation",
                citation.path,
                citation.line,
                citation.column,
                hint=f"did you mean '{close[0]}'?" if close else "add it to a .bib file",
            )
        )
    if any(c.key == "*" for c in citations):
        return found
    cited = {c.key.casefold() for c in citations}
    for entry in entries:
        if entry.key.casefold() not in cited:
            found.append(
                warning(
                    f"entry '{entry.key}' is never cited",
                    "uncited-entry",
                    entry.path,
                    entry.line,
                    hint="cite it, remove it, or \\nocite it",
                )
            )
    return found


def check_bibliography(bibs: Mapping[str, str], citations: Sequence[Citation]) -> list[Diagnostic]:
    """All checks over .bib texts (path -> text) and the thesis' citations."""
    entries: list[BibEntry] = []
    found: list[Diagnostic] = []
    for path, text in bibs.items():
        parsed, problems = parse_bibliography(text, path)
        entries.extend(parsed)
        found.extend(problems)
    for check in ENTRY_CHECKS:
        found.extend(check(entries))
    found.extend(check_citations(entries, citations))
    return found


def read_bib(path: Path, shown: str) -> tuple[str | None, list[Diagnostic]]:
    """A .bib file's text; non-UTF-8 bytes are replaced with a warning at their line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [error(f"cannot read '{shown}': {exc.strerror}", "missing-bibliography")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = warning(
            "not UTF-8; undecodable bytes were replaced",
            "not-utf8",
            shown,
            line,
            hint="save the file as UTF-8 (biber reads UTF-8)",
        )
        return data.decode("utf-8", errors="replace"), [problem]


def check_thesis_bibliography(files: Mapping[str, str], *, root: Path) -> list[Diagnostic]:
    """The bibliography checks for a thesis: its .tex texts (path -> text) name the .bib files."""
    citations: list[Citation] = []
    resources: list[tuple[str, str, int]] = []
    for path, text in files.items():
        citations.extend(citations_in(text, path))
        resources.extend(bib_resources(text, path))
    bibs: dict[str, str] = {}
    found: list[Diagnostic] = []
    for name, origin, line in _unique(resources):
        if name in bibs:
            continue
        bib_text, problems = read_bib(root / name, name)
        if bib_text is None:
            found.append(
                error(
                    f"bibliography '{name}' not found",
                    "missing-bibliography",
                    origin,
                    line,
                    hint="check the path in \\addbibresource",
                )
            )
            continue
        found.extend(problems)
        bibs[name] = bib_text
    if not bibs:
        return found  # nothing to check citations against
    return found + check_bibliography(bibs, citations)


def _unique(items: Iterable[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    seen: dict[str, tuple[str, str, int]] = {}
    for item in items:
        seen.setdefault(item[0], item)
    return list(seen.values())
