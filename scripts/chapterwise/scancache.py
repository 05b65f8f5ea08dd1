"""Scans of TeX sources remembered by content, across processes (``build/cache/texscan.json``).

Every ``chapterwise`` job and Snakemake's own start-up scan each chapter of the thesis
(``texscan.scan_tex`` for the project inventory, ``scan_global_state`` for the splice's
safety check); at 24 chapters that is about 0.15 s of pure Python per process, repeated for
text that did not change. The cache maps (scanner, digest of the text) to the commands the
scanner returned, and is keyed on the bytes of ``texscan.py`` itself, so a changed scanner
never answers from an old cache. A missing, unreadable or foreign cache file is an empty
cache; concurrent jobs each replace the file atomically (the last one wins, nothing is
corrupted, a lost entry is scanned again).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from chapterwise import texscan
from chapterwise.fsutil import atomic_write_bytes
from chapterwise.texscan import CommandKind, TexCommand

Scanner = Callable[[str], tuple[TexCommand, ...]]

CACHE_FILE: Final = "build/cache/texscan.json"
# Entries kept per scanner: the sources of a thesis, plus a few edits' worth of old texts.
LIMIT: Final = 1024
_SCANNERS: Final[dict[str, Scanner]] = {
    "scan_tex": texscan.scan_tex,
    "scan_global_state": texscan.scan_global_state,
}


def scanner_version() -> str:
    """A digest of the scanner's own source: scans made by other code are never reused."""
    source = Path(texscan.__file__).read_bytes()
    return hashlib.blake2b(source, digest_size=16).hexdigest()


def _encode(commands: tuple[TexCommand, ...]) -> list[list[Any]]:
    return [[c.kind.value, c.name, list(c.targets), c.line, c.column] for c in commands]


def _decode(rows: list[list[Any]]) -> tuple[TexCommand, ...]:
    return tuple(
        TexCommand(CommandKind(kind), name, tuple(targets), line, column)
        for kind, name, targets, line, column in rows
    )


class ScanCache:
    """Scans by text digest, read from and saved to one JSON file (or memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.version = scanner_version()
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, list[list[Any]]]] = {name: {} for name in _SCANNERS}
        self._decoded: dict[tuple[str, str], tuple[TexCommand, ...]] = {}
        self._dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("version") != self.version:
            return
        scans = data.get("scans")
        if not isinstance(scans, dict):
            return
        for name in _SCANNERS:
            entries = scans.get(name)
            if isinstance(entries, dict):
                self._entries[name] = entries

    def scan(self, scanner: str, text: str) -> tuple[TexCommand, ...]:
        """What ``texscan.<scanner>(text)`` returns, from the cache when the text was seen."""
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16)
        key = digest.hexdigest()
        with self._lock:
            found = self._decoded.get((scanner, key))
            entries = self._entries[scanner]
            if found is not None and key in entries:
                entries[key] = entries.pop(key)  # most recently used last
                return found
            rows = self._entries[scanner].pop(key, None)
            if rows is not None:
                try:
                    found = _decode(rows)
                except (TypeError, ValueError):  # a hand-edited or damaged entry
                    found = None
            if found is None or rows is None:
                found = _SCANNERS[scanner](text)
                rows = _encode(found)
                self._dirty = True
            self._entries[scanner][key] = rows  # most recently used last
            if len(self._decoded) >= 4 * LIMIT:  # a long watch session: forget old texts
                self._decoded.clear()
            self._decoded[(scanner, key)] = found
            return found

    def save(self) -> None:
        """Write the cache if a scan was added (best effort: a read-only tree keeps none)."""
        if self.path is None:
            return
        with self._lock:
            if not self._dirty:
                return
            scans = {name: dict(list(e.items())[-LIMIT:]) for name, e in self._entries.items()}
            payload = json.dumps({"version": self.version, "scans": scans}, separators=(",", ":"))
            try:
                atomic_write_bytes(self.path, payload.encode("utf-8"))
            except OSError:
                return
            self._dirty = False


_caches: dict[Path, ScanCache] = {}
_caches_lock = threading.Lock()


def cache_for(root: Path) -> ScanCache:
    """The one cache of the project at ``root`` in this process."""
    key = root.resolve()
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = ScanCache(key / CACHE_FILE)
        return cache
