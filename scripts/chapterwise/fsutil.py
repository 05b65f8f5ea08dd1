"""Filesystem edge: atomic writes, write-if-changed, and refusing paths outside the project."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path, PurePosixPath

from chapterwise.diagnostics import ChapterwiseError, error


def _temporary_beside(path: Path) -> Path:
    """A new, empty file next to ``path`` with the umask's permissions (not mkstemp's 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and move it into place.

    A reader (a PDF viewer, a concurrent job) sees the old file or the new one, never half.
    """
    temporary = _temporary_beside(path)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it; True if written.

    Leaving an identical file untouched keeps its mtime, which is what stops a cascade.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.stat().st_size == len(payload) and path.read_bytes() == payload:
            return False
    except (FileNotFoundError, NotADirectoryError):
        pass
    atomic_write_bytes(path, payload)
    return True


def copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` so that ``target`` is never missing or partial."""
    temporary = _temporary_beside(target)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def copy_if_changed(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless the bytes are already identical; True if copied."""
    return write_if_changed(target, source.read_bytes())


def project_path(
    raw: str,
    *,
    root: Path,
    origin: str,
    line: int | None = None,
    what: str = "path",
) -> str:
    """Normalise a user-written path to POSIX form relative to ``root``; refuse escapes.

    ``origin`` and ``line`` say where the path was written, for the error message.
    """
    text = raw.strip()
    if not text:
        raise ChapterwiseError(error(f"empty {what}", "bad-path", origin, line))
    candidate = Path(text)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    try:
        relative = resolved.relative_to(root.resolve())
    except ValueError:
        raise ChapterwiseError(
            error(
                f"{what} '{text}' is outside the project",
                "outside-repo",
                origin,
                line,
                hint="write paths relative to the project root, without '..'",
            )
        ) from None
    posix = PurePosixPath(*relative.parts).as_posix()
    if posix in ("", "."):
        raise ChapterwiseError(
            error(f"{what} '{text}' names the project root", "bad-path", origin, line)
        )
    return posix
