"""chapterwise: a Snakemake-based build system for a dissertation and its research artifacts."""

from __future__ import annotations

__version__ = "0.1.0"
