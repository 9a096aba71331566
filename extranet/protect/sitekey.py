"""The site secret that makes output paths opaque; created once in the secrets dir."""

from __future__ import annotations

import os
from pathlib import Path

from ..output import atomic_write
from .crypto import ProtectError

URL_KEY_FILE = "url.key"


def url_secret(state_dir: Path) -> bytes:
    """32 random bytes kept in `.extranet/url.key` (mode 600); the same at every build."""
    path = state_dir / URL_KEY_FILE
    if path.exists():
        data = path.read_bytes()
        if len(data) != 32:
            raise ProtectError(f"{path}: damaged (expected 32 bytes); delete it to get new output paths")
        return data
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = os.urandom(32)
    atomic_write(path, data, mode=0o600)
    return data
