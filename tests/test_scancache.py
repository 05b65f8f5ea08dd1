from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chapterwise import scancache
from chapterwise.scancache import CACHE_FILE, ScanCache, cache_for
from chapterwise.texscan import scan_global_state, scan_tex

CHAPTER = r"""\chapter{Methods}\label{ch:methods}
\newcommand{\speed}{42}
\input{tables/speed}
See \cref{fig:loss} and \pageref{sec:data}, after \citet{knuth1984}.
\begin{figure}\includegraphics{figures/loss}\caption{Loss}\label{fig:loss}\end{figure}
"""

TEX_PIECES = st.sampled_from(
    [
        "\\label{a}",
        "\\ref{a}",
        "\\cite{k}",
        "\\input{x}",
        "\\newcommand{\\x}{1}",
        "{",
        "}",
        "\\begin{figure}",
        "\\end{figure}",
        "%",
        "\n",
        " text ",
        "\\def\\y{2}",
        "\\setlength",
        "\\verb|\\label{v}|",
        "\\iffalse",
        "\\fi",
        "é",
    ]
)
TEXTS = st.lists(TEX_PIECES, max_size=30).map("".join) | st.text(max_size=200)


@given(TEXTS)
def test_cached_scans_equal_the_scanners(text: str) -> None:
    cache = ScanCache(None)
    for _ in range(2):  # the first scan fills the cache, the second answers from it
        assert cache.scan("scan_tex", text) == scan_tex(text)
        assert cache.scan("scan_global_state", text) == scan_global_state(text)


@given(TEXTS)
def test_a_saved_cache_answers_the_same_in_a_new_process(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "texscan.json"
        first = ScanCache(path)
        first.scan("scan_tex", text)
        first.scan("scan_global_state", text)
        first.save()
        second = ScanCache(path)  # what the next job reads
        assert second.scan("scan_tex", text) == scan_tex(text)
        assert second.scan("scan_global_state", text) == scan_global_state(text)
        assert not second._dirty  # answered from the file, not rescanned


def test_the_file_is_written_only_when_a_scan_was_added(tmp_path: Path) -> None:
    path = tmp_path / "texscan.json"
    cache = ScanCache(path)
    cache.scan("scan_tex", CHAPTER)
    cache.save()
    saved = json.loads(path.read_text())
    assert saved["version"] == scancache.scanner_version()
    assert len(saved["scans"]["scan_tex"]) == 1
    os.utime(path, (1, 1))
    again = ScanCache(path)
    assert again.scan("scan_tex", CHAPTER) == scan_tex(CHAPTER)
    again.save()
    assert path.stat().st_mtime == 1  # nothing new: the file was not rewritten


def test_a_cache_from_another_scanner_version_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "texscan.json"
    cache = ScanCache(path)
    cache.scan("scan_tex", CHAPTER)
    cache.save()
    data = json.loads(path.read_text())
    (key,) = data["scans"]["scan_tex"]
    data["scans"]["scan_tex"][key] = [["label", "label", ["wrong"], 1, 1]]
    data["version"] = "an older texscan.py"
    path.write_text(json.dumps(data))
    assert ScanCache(path).scan("scan_tex", CHAPTER) == scan_tex(CHAPTER)


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"version": null}', '{"scans": 3}'])
def test_an_unreadable_cache_is_an_empty_one(tmp_path: Path, content: str) -> None:
    path = tmp_path / "texscan.json"
    path.write_text(content)
    cache = ScanCache(path)
    assert cache.scan("scan_tex", CHAPTER) == scan_tex(CHAPTER)
    cache.save()
    assert json.loads(path.read_text())["version"] == scancache.scanner_version()


def test_a_damaged_entry_is_scanned_again(tmp_path: Path) -> None:
    path = tmp_path / "texscan.json"
    cache = ScanCache(path)
    cache.scan("scan_tex", CHAPTER)
    cache.save()
    data = json.loads(path.read_text())
    (key,) = data["scans"]["scan_tex"]
    data["scans"]["scan_tex"][key] = [["no such kind", "x", [], 1, 1]]
    path.write_text(json.dumps(data))
    assert ScanCache(path).scan("scan_tex", CHAPTER) == scan_tex(CHAPTER)


def test_the_file_keeps_the_most_recent_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scancache, "LIMIT", 3)
    path = tmp_path / "texscan.json"
    cache = ScanCache(path)
    texts = [f"\\label{{l{n}}}" for n in range(5)]
    for text in texts:
        cache.scan("scan_tex", text)
    cache.scan("scan_tex", texts[0])  # used again: now among the most recent
    cache.save()
    kept = ScanCache(path)
    for text in (texts[0], texts[3], texts[4]):
        kept.scan("scan_tex", text)
    assert not kept._dirty
    kept.scan("scan_tex", texts[1])
    assert kept._dirty


def test_a_read_only_tree_keeps_no_cache_and_still_scans(tmp_path: Path) -> None:
    (tmp_path / "build").write_text("a file where the build folder would be")
    cache = ScanCache(tmp_path / CACHE_FILE)
    assert cache.scan("scan_tex", CHAPTER) == scan_tex(CHAPTER)
    cache.save()  # cannot create build/cache/: no error


def test_one_cache_per_project(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert cache_for(tmp_path / "a") is cache_for(tmp_path / "a" / ".." / "a")
    assert cache_for(tmp_path / "a") is not cache_for(tmp_path)
    assert cache_for(tmp_path).path == tmp_path.resolve() / CACHE_FILE


def test_a_changed_scanner_changes_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "texscan.py"
    source.write_text("# one scanner\n")
    monkeypatch.setattr(scancache.texscan, "__file__", str(source))
    before = scancache.scanner_version()
    source.write_text("# the scanner, fixed\n")
    assert scancache.scanner_version() != before
