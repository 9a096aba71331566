"""Personal home pages of the mixed zone, at paths only their owner's browser can compute.

Every zone reader may open zone-wide pages, so a list of projects there would show every
project's title to everyone. Each person instead gets a home page in their own scope, at
`home/<HMAC(T, "home")>.html` where T is the slow user-name secret of the keyring (the
browser computes it at login): one copy per user name (id and email).
"""

from __future__ import annotations

import hashlib
import hmac

from .keyring import TAG_ITERATIONS, normalize_username, username_secret
from .secrets import ZoneSecrets

HOME_DIR = "home/"


def name_secret(zs: ZoneSecrets, name: str, iterations: int = TAG_ITERATIONS) -> bytes:
    """T for a user name, from the zone's cache (filled when missing)."""
    name = normalize_username(name)
    slot = f"{iterations}|{name}"
    if slot not in zs.tag_cache:
        zs.tag_cache[slot] = username_secret(name, zs.tag_salt, iterations)
    return zs.tag_cache[slot]


def home_path(t: bytes) -> str:
    """The home page path for the user-name secret T (mirrored in extranet.js)."""
    return f"{HOME_DIR}{hmac.new(t, b'home', hashlib.sha256).hexdigest()[:20]}.html"
