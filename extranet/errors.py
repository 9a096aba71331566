"""Errors shared by every stage: a problem names its file and line, a SiteError carries them all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located in a file (and a line when known)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ExtranetError(Exception):
    """An error the command line reports as one clear line, without a traceback."""


class BuildError(ExtranetError):
    """The build failed (warnings under --strict, a failed audit); nothing was written."""


class SiteError(ExtranetError):
    """The site's sources are invalid; carries every problem found, sorted by file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.line or 0, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems:
    """Collects problems while loading, so that a build reports all of them together."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Problem] = []

    def add(self, path: Path | str, line: int | None, message: str) -> None:
        """Record a problem; absolute paths are shown relative to the site root."""
        p = Path(path)
        try:
            shown = str(p.relative_to(self.root)) if p.is_absolute() else str(p)
        except ValueError:
            shown = str(p)
        self.items.append(Problem(shown, line, message))

    def raise_if_any(self) -> None:
        """Raise a SiteError if anything was recorded."""
        if self.items:
            raise SiteError(self.items)


class WarningCounter(logging.Handler):
    """Counts (and keeps) warnings, so that --strict can fail the build on any of them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
