"""The thesis inventory: chapters, notebooks, generated artifacts and each chapter's inputs.

Built once per Snakemake invocation from the config and the files on disk. The Snakefile's input
functions are one call each into a ``Project``; the CLI steps use the same object, so the DAG and
the pre-flight checks never disagree about what a chapter needs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from chapterwise.chapterstate import TEX_SOURCE_SUFFIXES, LeftState, carried_chapters, left_state
from chapterwise.config import Config
from chapterwise.diagnostics import ChapterwiseError, Diagnostic, error
from chapterwise.frontmatter import (
    NOTEBOOK_SUFFIXES,
    FrontMatter,
    NotebookFormat,
    notebook_format,
    read_front_matter,
)
from chapterwise.scancache import cache_for
from chapterwise.texscan import CommandKind, TexCommand

RESULTS_DIR = "results"
TABLES_DIR = "tables"
FIGURES_DIR = "figures"
DIAGRAM_SUFFIX = ".dot"  # figures/<name>.dot -> figures/<name>.pdf (render_diagram)
BUILD_DIR = "build"
# pdfTeX's own search order for \includegraphics without an extension.
GRAPHICS_EXTENSIONS = (".pdf", ".png", ".jpg", ".mps", ".jpeg", ".jbig2", ".jb2")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Notebook:
    name: str
    path: str
    format: NotebookFormat
    front: FrontMatter

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.front.inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.front.outputs


@dataclass(frozen=True, slots=True)
class Chapter:
    name: str
    path: str  # e.g. chapters/methods.tex
    include: str  # the \include argument, e.g. chapters/methods
    line: int  # line of the \include in the main file


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Files a piece of LaTeX reads (existing or generated) and references nothing provides."""

    files: tuple[str, ...] = ()
    missing: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class Project:
    root: Path
    config: Config
    chapters: tuple[Chapter, ...]
    notebooks: tuple[Notebook, ...]
    producers: Mapping[str, str]  # generated file -> notebook name (notebook outputs only)
    tables: tuple[str, ...]  # names rendered from results/<name>.csv
    values: tuple[str, ...]  # names rendered from results/<name>.json
    preamble: Dependencies  # everything the main file reads outside its \include'd chapters
    chapter_deps: Mapping[str, Dependencies] = field(default_factory=dict)
    diagrams: Mapping[str, str] = field(default_factory=dict)  # figures/x.pdf -> figures/x.dot
    # What each chapter leaves defined for the next, and the earlier chapters (names) each
    # chapter's own job typesets with it for that state (chapterwise.chapterstate).
    left: Mapping[str, LeftState] = field(default_factory=dict)
    carried: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def main(self) -> str:
        return self.config.thesis

    @property
    def chapter_names(self) -> tuple[str, ...]:
        return tuple(chapter.name for chapter in self.chapters)

    def chapter(self, name: str) -> Chapter:
        for chapter in self.chapters:
            if chapter.name == name:
                return chapter
        raise ChapterwiseError(
            error(
                f"no chapter '{name}'",
                "unknown-chapter",
                self.main,
                hint="chapters are the \\include lines",
            )
        )

    def notebook(self, name: str) -> Notebook:
        for notebook in self.notebooks:
            if notebook.name == name or notebook.path == name:
                return notebook
        raise ChapterwiseError(error(f"no notebook '{name}'", "unknown-notebook"))

    def chapter_inputs(self, name: str) -> dict[str, list[str]]:
        """Inputs of the compile_chapter job, for Snakemake's unpack()."""
        inputs = {
            "main": [self.main],
            "preamble": list(self.preamble.files),
            "sources": list(self.chapter_deps[name].files),
        }
        carried = [f for c in self.carried.get(name, ()) for f in self.chapter_deps[c].files]
        if carried:  # typeset with the chapter for what they define (chapterwise.chapterstate)
            inputs["carried"] = list(dict.fromkeys(carried))
        return inputs

    def thesis_inputs(self) -> list[str]:
        """Every source and generated file the whole thesis reads."""
        files = dict.fromkeys([self.main, *self.preamble.files])
        for chapter in self.chapters:
            files.update(dict.fromkeys(self.chapter_deps[chapter.name].files))
        return list(files)

    def chapter_counters(self) -> dict[str, int]:
        """LaTeX's chapter counter at the end of each \\include, read from the sources."""
        main = (self.root / self.main).read_text(encoding="utf-8", errors="replace")
        sources = {
            c.include: (self.root / c.path).read_text(encoding="utf-8", errors="replace")
            for c in self.chapters
            if (self.root / c.path).is_file()
        }
        return chapter_counters(main, self.chapters, sources)

    def chapter_pdfs(self) -> list[str]:
        return [chapter_pdf(name) for name in self.chapter_names]

    def missing(self, chapter: str | None = None) -> tuple[Diagnostic, ...]:
        """Files referenced that neither exist nor are generated (preamble + a chapter, or all)."""
        names = [chapter] if chapter is not None else list(self.chapter_names)
        found = list(self.preamble.missing)
        for name in names:
            found.extend(self.chapter_deps[name].missing)
        return tuple(found)

    def table_source(self, name: str) -> str:
        return f"{RESULTS_DIR}/{name}.csv"

    def values_source(self, name: str) -> str:
        return f"{RESULTS_DIR}/{name}.json"

    def table_template(self, name: str) -> list[str]:
        """The user's jinja2 template for a table, when one exists beside the output."""
        template = f"{TABLES_DIR}/{name}.tex.j2"
        return [template] if (self.root / template).is_file() else []

    @property
    def diagram_names(self) -> tuple[str, ...]:
        """The stems of ``figures/*.dot``: the render_diagram wildcard's values."""
        return tuple(PurePosixPath(source).stem for source in self.diagrams.values())

    def notebook_outputs(self) -> list[str]:
        return list(self.producers)

    def rendered_tables(self) -> list[str]:
        """The ``tables/*.tex`` files rendered from results (tables and macro files)."""
        return [f"{TABLES_DIR}/{name}.tex" for name in (*self.tables, *self.values)]

    def generated_files(self) -> frozenset[str]:
        """Every file the build writes into the source tree: notebook outputs, tables, diagrams."""
        return frozenset([*self.producers, *self.rendered_tables(), *self.diagrams])


_COMMENT = re.compile(r"(?<!\\)%.*")
_NUMBERED_CHAPTER = re.compile(r"\\chapter(?![A-Za-z@*])\s*[\[{]")
_APPENDIX = re.compile(r"\\appendix(?![A-Za-z@])")


def chapter_counters(
    main: str, chapters: Iterable[Chapter], sources: Mapping[str, str]
) -> dict[str, int]:
    """The chapter counter after each \\include: numbered \\chapter commands, reset by \\appendix.

    ``sources`` maps an include name to its text. This is what a chapter typeset before the
    first thesis build needs to carry its own number; after that the thesis' .aux files say it.
    """
    appendix_lines = [
        number
        for number, line in enumerate(main.splitlines(), start=1)
        if _APPENDIX.search(_COMMENT.sub("", line))
    ]
    counters: dict[str, int] = {}
    counter = 0
    previous = 0
    for chapter in sorted(chapters, key=lambda c: c.line):
        if any(previous < line < chapter.line for line in appendix_lines):
            counter = 0
        text = _COMMENT.sub("", sources.get(chapter.include, ""))
        counter += len(_NUMBERED_CHAPTER.findall(text))
        counters[chapter.include] = counter
        previous = chapter.line
    return counters


def chapter_pdf(name: str) -> str:
    """Where the per-chapter preview PDF of ``name`` is published."""
    return f"{BUILD_DIR}/chapters/{name}.pdf"


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def discover_notebooks(root: Path, config: Config) -> tuple[Notebook, ...]:
    """Every notebook under the configured folders that declares outputs."""
    found: list[Notebook] = []
    problems: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for folder in config.notebook_dirs:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            parts = path.relative_to(root).parts
            if (
                not path.is_file()
                or path.suffix not in NOTEBOOK_SUFFIXES
                or any(part.startswith((".", "_")) for part in parts)
            ):
                continue
            relative = _relative(path, root)
            try:
                front = read_front_matter(path, root=root)
            except ChapterwiseError as exc:
                problems.extend(exc.diagnostics)
                continue
            if not front.outputs:
                continue  # a helper module or a scratch notebook: not part of the build
            name = path.stem
            if name in seen:
                problems.append(
                    error(
                        f"notebook name '{name}' is used twice (also {seen[name]})",
                        "duplicate-notebook",
                        relative,
                        hint=(
                            "give every notebook its own file stem; "
                            "pair .ipynb/.py with jupytext elsewhere"
                        ),
                    )
                )
                continue
            seen[name] = relative
            found.append(Notebook(name, relative, notebook_format(relative), front))
    if problems:
        raise ChapterwiseError(problems)
    return tuple(found)


def discover_diagrams(root: Path) -> dict[str, str]:
    """``figures/<name>.pdf -> figures/<name>.dot`` for every diagram source in the folder."""
    base = root / FIGURES_DIR
    if not base.is_dir():
        return {}
    found: dict[str, str] = {}
    for path in sorted(base.glob(f"*{DIAGRAM_SUFFIX}")):
        if path.is_file() and NAME_PATTERN.match(path.stem):
            found[f"{FIGURES_DIR}/{path.stem}.pdf"] = f"{FIGURES_DIR}/{path.name}"
    return found


def _artifact_names(producers: Mapping[str, str], suffix: str) -> tuple[str, ...]:
    names = []
    for output in producers:
        pure = PurePosixPath(output)
        if pure.parts[:1] == (RESULTS_DIR,) and pure.suffix == suffix:
            names.append(pure.relative_to(RESULTS_DIR).with_suffix("").as_posix())
    return tuple(sorted(names))


class _Resolver:
    """Resolves what LaTeX would read for each command, against disk and generated files."""

    def __init__(self, root: Path, generated: Iterable[str]) -> None:
        self.root = root
        self.generated = frozenset(generated)
        self.graphics_dirs: list[str] = [""]

    def exists(self, path: str) -> bool:
        return path in self.generated or (self.root / path).is_file()

    def tex_file(self, target: str) -> str | None:
        candidates = [target] if target.endswith(".tex") else [f"{target}.tex", target]
        return next((c for c in candidates if self._inside(c) and self.exists(c)), None)

    def graphic(self, target: str) -> str | None:
        has_ext = PurePosixPath(target).suffix.lower() in GRAPHICS_EXTENSIONS
        for directory in self.graphics_dirs:
            stem = f"{directory}{target}"
            candidates = [stem] if has_ext else [stem + ext for ext in GRAPHICS_EXTENSIONS]
            for candidate in candidates:
                if self._inside(candidate) and self.exists(candidate):
                    return candidate
        return None

    def _inside(self, path: str) -> bool:
        if PurePosixPath(path).is_absolute():
            return False
        return ".." not in PurePosixPath(path).parts


def _scan_file(path: str, root: Path) -> tuple[TexCommand, ...]:
    try:
        text = (root / path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return cache_for(root).scan("scan_tex", text)


def _collect(
    source: str,
    resolver: _Resolver,
    *,
    files: dict[str, None],
    missing: list[Diagnostic],
    visited: set[str],
    skip_includes: bool,
) -> list[tuple[str, TexCommand]]:
    """Walk ``source`` and what it inputs; returns the \\include commands met (with their file)."""
    includes: list[tuple[str, TexCommand]] = []
    if source in visited:
        return includes
    visited.add(source)
    for command in _scan_file(source, resolver.root):
        if command.kind is CommandKind.GRAPHICSPATH:
            resolver.graphics_dirs = [
                "",
                *(d if d.endswith("/") else f"{d}/" for d in command.targets),
            ]
            continue
        if command.kind is CommandKind.INCLUDE and skip_includes:
            includes.append((source, command))
            continue
        for target in command.targets:
            resolved: str | None
            if command.kind in (CommandKind.INPUT, CommandKind.INCLUDE):
                resolved = resolver.tex_file(target)
                what = "file"
            elif command.kind is CommandKind.GRAPHICS:
                resolved = resolver.graphic(target)
                what = "figure"
            elif command.kind is CommandKind.BIBRESOURCE:
                name = (
                    target
                    if command.name == "addbibresource" or target.endswith(".bib")
                    else f"{target}.bib"
                )
                resolved = name if resolver.exists(name) else None
                target = name
                what = "bibliography"
            else:
                continue
            if resolved is None:
                missing.append(
                    error(
                        f"{what} '{target}' not found and no notebook declares it",
                        "missing-file",
                        source,
                        command.line,
                        command.column,
                        hint="add the file, or list it under a notebook's outputs:",
                    )
                )
                continue
            files[resolved] = None
            if (
                command.kind in (CommandKind.INPUT, CommandKind.INCLUDE)
                and resolved not in resolver.generated
            ):
                includes.extend(
                    _collect(
                        resolved,
                        resolver,
                        files=files,
                        missing=missing,
                        visited=visited,
                        skip_includes=skip_includes,
                    )
                )
    return includes


def find_missing(root: Path, main: str, generated: Iterable[str] = ()) -> list[Diagnostic]:
    """What ``main`` and every file it inputs reference that neither exists nor is
    ``generated``, resolved as LaTeX would (``\\graphicspath``, extension search)."""
    missing: list[Diagnostic] = []
    resolver = _Resolver(root, generated)
    _collect(main, resolver, files={}, missing=missing, visited=set(), skip_includes=False)
    cache_for(root).save()
    return missing


def load_project(root: Path, config: Config) -> Project:
    """Build the inventory: raises ChapterwiseError for declarations that cannot work."""
    if not (root / config.thesis).is_file():
        raise ChapterwiseError(
            error(
                f"main file '{config.thesis}' not found",
                "missing-main",
                "config.yaml",
                hint="set 'thesis:'",
            )
        )
    notebooks = discover_notebooks(root, config)
    diagrams = discover_diagrams(root)
    producers: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for notebook in notebooks:
        for output in notebook.outputs:
            if output in producers:
                problems.append(
                    error(
                        f"output '{output}' is also declared by notebook '{producers[output]}'",
                        "duplicate-output",
                        notebook.path,
                        notebook.front.lines.get(output),
                    )
                )
            elif output in diagrams:
                problems.append(
                    error(
                        f"output '{output}' is also rendered from '{diagrams[output]}'",
                        "duplicate-output",
                        notebook.path,
                        notebook.front.lines.get(output),
                        hint="rename the diagram or the notebook's figure",
                    )
                )
            producers[output] = notebook.name
    tables = _artifact_names(producers, ".csv")
    values = _artifact_names(producers, ".json")
    for clash in sorted(set(tables) & set(values)):
        problems.append(
            error(
                f"'{RESULTS_DIR}/{clash}.csv' and '{RESULTS_DIR}/{clash}.json' would both become "
                f"'{TABLES_DIR}/{clash}.tex'",
                "duplicate-output",
                hint="rename one of them",
            )
        )
    if problems:
        raise ChapterwiseError(problems)
    generated = [
        *producers,
        *(f"{TABLES_DIR}/{n}.tex" for n in (*tables, *values)),
        *diagrams,
    ]
    resolver = _Resolver(root, generated)

    files: dict[str, None] = {}
    missing: list[Diagnostic] = []
    includes = _collect(
        config.thesis, resolver, files=files, missing=missing, visited=set(), skip_includes=True
    )
    preamble = Dependencies(tuple(files), tuple(missing))

    chapters: list[Chapter] = []
    chapter_deps: dict[str, Dependencies] = {}
    for origin, command in includes:
        for target in command.targets:
            path = resolver.tex_file(target)
            if path is None:
                problems.append(
                    error(
                        f"chapter '{target}' not found",
                        "missing-file",
                        origin,
                        command.line,
                        command.column,
                        hint=f"create {target}.tex or remove the \\include",
                    )
                )
                continue
            name = PurePosixPath(target).name
            if not NAME_PATTERN.match(name) or name in chapter_deps:
                problems.append(
                    error(
                        f"chapter name '{name}' is not unique or not a plain file name",
                        "bad-chapter-name",
                        origin,
                        command.line,
                        hint="chapters are named by their file stem; rename one",
                    )
                )
                continue
            chapter_files: dict[str, None] = {path: None}
            chapter_missing: list[Diagnostic] = []
            _collect(
                path,
                resolver,
                files=chapter_files,
                missing=chapter_missing,
                visited=set(),
                skip_includes=False,
            )
            chapters.append(Chapter(name, path, target, command.line))
            chapter_deps[name] = Dependencies(tuple(chapter_files), tuple(chapter_missing))
    macro_files = {f"{TABLES_DIR}/{name}.tex" for name in values}
    left = {
        name: left_state(_tex_texts(root, deps.files), _scan_state(root), macro_files)
        for name, deps in chapter_deps.items()
    }
    cache_for(root).save()
    if problems:
        raise ChapterwiseError(problems)
    return Project(
        root=root,
        config=config,
        chapters=tuple(chapters),
        notebooks=notebooks,
        producers=producers,
        tables=tables,
        values=values,
        preamble=preamble,
        chapter_deps=chapter_deps,
        diagrams=diagrams,
        left=left,
        carried=carried_chapters([c.name for c in chapters], left),
    )


def _tex_texts(root: Path, files: Iterable[str]) -> dict[str, str]:
    """The text of each TeX source among ``files`` ("" for one not generated yet)."""
    texts: dict[str, str] = {}
    for path in files:
        if path.endswith(TEX_SOURCE_SUFFIXES):
            try:
                texts[path] = (root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                texts[path] = ""
    return texts


def _scan_state(root: Path) -> Callable[[str], tuple[TexCommand, ...]]:
    return functools.partial(cache_for(root).scan, "scan_global_state")


def wildcard_pattern(names: Iterable[str]) -> str:
    """A regex matching exactly ``names`` (and nothing when there are none)."""
    escaped = [re.escape(name) for name in sorted(names, key=len, reverse=True)]
    return "|".join(escaped) if escaped else "(?!)"
