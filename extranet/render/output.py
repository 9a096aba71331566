"""What rendering a zone produces: its files, each with the scope that may read it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ZoneOutput:
    """Rendered files of one zone: path -> bytes (or Deferred), and path -> scope (absent for public files)."""

    zone: str
    files: dict[str, bytes] = field(default_factory=dict)  # bytes, or a page kept from the last build (Reused)
    scopes: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    keys: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # path -> (page key, warnings)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group key -> its pages' paths

    def add(self, path: str, data: bytes, scope: str | None) -> None:
        """Add one file; a scope of None means public (static assets only)."""
        if path in self.files:
            raise ValueError(f"two outputs at {path}")
        self.files[path] = data
        if scope is not None:
            self.scopes[path] = scope
