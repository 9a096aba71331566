"""Shared test helpers: copying fixture sites, building them, reading output trees."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

SITES = Path(__file__).resolve().parent / "sites"
NOW = dt.datetime(2026, 6, 1, 12, 0)


def copy_site(name: str, dest: Path) -> Path:
    """Copy a fixture site from tests/sites/ into `dest` and return its root."""
    root = dest / name
    shutil.copytree(SITES / name, root)
    return root


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative POSIX path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write(path: Path, text: str) -> Path:
    """Write a text file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
