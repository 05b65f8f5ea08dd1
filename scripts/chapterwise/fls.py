"""Parse the ``-recorder`` file list (.fls) TeX writes: what a run really read and wrote.

The dependency scan is the promise; the .fls is the receipt. A project file that TeX read but
the scan did not declare is a file whose edits Snakemake would not notice.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from chapterwise.diagnostics import Diagnostic, warning


class FileKind(enum.Enum):
    INPUT = "input"  # read only
    OUTPUT = "output"  # written only
    AUX = "aux"  # read and written (.aux, .toc, ...): state between passes, not a source


@dataclass(frozen=True, slots=True)
class Recording:
    """The files of one TeX run, as written in its .fls, each with its kind."""

    pwd: str | None
    files: tuple[tuple[str, FileKind], ...]

    def of_kind(self, kind: FileKind) -> tuple[str, ...]:
        return tuple(path for path, found in self.files if found is kind)


def parse_fls(text: str) -> Recording:
    """Parse .fls text; unknown lines are ignored, the order of first mention is kept."""
    pwd: str | None = None
    read: dict[str, None] = {}
    written: dict[str, None] = {}
    order: dict[str, None] = {}
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if not rest:
            continue
        if word == "PWD" and pwd is None:
            pwd = rest
        elif word in ("INPUT", "OUTPUT"):
            (read if word == "INPUT" else written)[rest] = None
            order[rest] = None
    files = tuple(
        (
            path,
            FileKind.AUX
            if path in read and path in written
            else FileKind.INPUT
            if path in read
            else FileKind.OUTPUT,
        )
        for path in order
    )
    return Recording(pwd, files)


def read_fls(path: Path) -> Recording:
    """Read a .fls file; a missing one is an empty recording."""
    try:
        return parse_fls(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return Recording(None, ())


def project_inputs(
    recording: Recording, *, root: Path, build_dir: str = "build"
) -> tuple[str, ...]:
    """Source files TeX read from inside ``root`` (POSIX, relative), outside ``build_dir``."""
    base = Path(recording.pwd) if recording.pwd else root
    real_root = root.resolve()
    found: dict[str, None] = {}
    for raw in recording.of_kind(FileKind.INPUT):
        absolute = Path(os.path.normpath(base / raw))
        try:
            relative = PurePosixPath(*absolute.resolve().relative_to(real_root).parts)
        except (ValueError, OSError):
            continue  # TeX distribution files and anything else outside the project
        if relative.parts and relative.parts[0] != build_dir:
            found[relative.as_posix()] = None
    return tuple(found)


def check_undeclared(
    recording: Recording, *, root: Path, declared: Iterable[str], job: str
) -> tuple[Diagnostic, ...]:
    """A warning for every project file the run read that the dependency scan missed."""
    known = set(declared)
    return tuple(
        warning(
            f"{job} read '{path}', which its dependency scan did not find",
            "undeclared-input",
            path,
            hint="edits to it will not trigger a rebuild; reference it with a literal "
            "\\input/\\includegraphics path",
        )
        for path in project_inputs(recording, root=root)
        if path not in known
    )
