"""What rendering a zone produces (a module of its own: a build that finds nothing changed
reports its page counts with it, without loading the render stage)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ZoneOutput:
    """Rendered files of one zone: path -> bytes (or Deferred), and path -> scope (absent for public files)."""

    zone: str
    files: dict[str, bytes] = field(default_factory=dict)
    scopes: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    keys: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # path -> (page key, warnings)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group key -> its memoised paths
    moved: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> where protect placed it
    sealed: dict[str, tuple[bytes, bytes, bytes]] = field(default_factory=dict)  # sealed ahead (protect/zone.py)

    def add(self, path: str, data: bytes, scope: str | None) -> None:
        """Add one file; a scope of None means public (static assets only)."""
        if path in self.files:
            raise ValueError(f"two outputs at {path}")
        self.files[path] = data
        if scope is not None:
            self.scopes[path] = scope
