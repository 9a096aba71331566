"""The site's secrets, kept in the secrets dir (``.extranet/secrets.json``, mode 600).

What is stored: per person and zone a PBKDF2 salt and the PBKDF2-derived wrapping key,
the iterations and a bcrypt hash (never the password); per zone the content key of every scope,
the grants recorded at the previous build (to know when to rotate), the salt of the
user-name lookup tags and a cache of those tags (they cost a PBKDF2 each).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..output import atomic_write
from ..scopes import ZONES
from .crypto import KEY_SIZE, ProtectError, b64d, b64e

SECRETS_FILE = "secrets.json"
FORMAT_VERSION = 2


@dataclass(frozen=True)
class ZoneWrap:
    """What wraps a person's keys in one zone: a salt of that zone's own and the key
    PBKDF2-SHA256(password, salt) derived from it."""

    salt: bytes
    key: bytes


@dataclass(frozen=True)
class PersonCredentials:
    """One person's stored credentials: enough to wrap keys for them, nothing to log in.
    Each zone has its own salt, so that the two keyrings share nothing about a person."""

    email: str
    iterations: int
    bcrypt_hash: str
    wraps: dict[str, ZoneWrap]  # zone -> salt and wrapping key

    def wrap(self, zone: str) -> ZoneWrap:
        """The salt and wrapping key of `zone`."""
        return self.wraps[zone]

    @property
    def one_salt(self) -> bool:
        """Whether the zones share a salt (credentials from before zones had their own)."""
        return len({w.salt for w in self.wraps.values()}) < len(self.wraps)


@dataclass(frozen=True)
class GrantRecord:
    """What a person could open in a zone at the previous build, and with which credentials."""

    scopes: frozenset[str]
    salt: bytes


@dataclass
class ZoneSecrets:
    """Mutable per-zone state: content keys, previous grants, lookup-tag salt and cache."""

    tag_salt: bytes
    keys: dict[str, bytes] = field(default_factory=dict)
    grants: dict[str, GrantRecord] = field(default_factory=dict)
    tag_cache: dict[str, bytes] = field(default_factory=dict)


class Secrets:
    """The secrets store of one site; load with :meth:`load`, persist with :meth:`save`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.people: dict[str, PersonCredentials] = {}
        self.zones: dict[str, ZoneSecrets] = {}

    @property
    def file(self) -> Path:
        """Path of the secrets file."""
        return self.directory / SECRETS_FILE

    @classmethod
    def load(cls, directory: Path, *, create: bool = False) -> "Secrets":
        """Read the secrets dir; a missing file is an error unless ``create`` is true."""
        secrets = cls(directory)
        if not secrets.file.exists():
            if create:
                return secrets
            raise ProtectError(
                f"no secrets found at {secrets.file}: create credentials first "
                "(extranet people add) or restore the secrets dir from a backup"
            )
        try:
            data = json.loads(secrets.file.read_text(encoding="utf-8"))
            secrets._read(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ProtectError) as exc:
            raise ProtectError(f"the secrets file {secrets.file} is damaged ({exc})") from exc
        return secrets

    def zone(self, name: str) -> ZoneSecrets:
        """The state of one zone, created with a fresh tag salt on first use."""
        if name not in self.zones:
            self.zones[name] = ZoneSecrets(tag_salt=os.urandom(16))
        return self.zones[name]

    def save(self) -> None:
        """Write the store atomically (temporary file, fsync, rename), mode 600."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps(self._dump(), indent=1, sort_keys=True)
        atomic_write(self.file, text.encode("utf-8"), mode=0o600)

    def _read(self, data: dict[str, Any]) -> None:
        if data.get("version") not in (1, FORMAT_VERSION):
            raise ProtectError(f"unknown format version {data.get('version')!r}")
        for pid, p in data["people"].items():
            if "wraps" in p:
                wraps = {z: ZoneWrap(b64d(w["salt"]), b64d(w["key"])) for z, w in p["wraps"].items()}
            else:  # format 1: one salt for every zone
                wraps = {z: ZoneWrap(b64d(p["salt"]), b64d(p["wrap_key"])) for z in ZONES}
            if any(len(w.key) != KEY_SIZE for w in wraps.values()) or set(wraps) != set(ZONES):
                raise ProtectError(f"bad wrapping keys for {pid}")
            self.people[pid] = PersonCredentials(str(p["email"]), int(p["iterations"]), str(p["bcrypt"]), wraps)
        for name, z in data["zones"].items():
            zone = ZoneSecrets(tag_salt=b64d(z["tag_salt"]))
            zone.keys = {s: b64d(k) for s, k in z["keys"].items()}
            if any(len(k) != KEY_SIZE for k in zone.keys.values()):
                raise ProtectError(f"bad content key in zone {name}")
            zone.grants = {
                pid: GrantRecord(frozenset(g["scopes"]), b64d(g["salt"]))
                for pid, g in z["grants"].items()
            }
            zone.tag_cache = {u: b64d(t) for u, t in z.get("tag_cache", {}).items()}
            self.zones[name] = zone

    def _dump(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "people": {
                pid: {
                    "email": c.email,
                    "iterations": c.iterations,
                    "wraps": {z: {"salt": b64e(w.salt), "key": b64e(w.key)} for z, w in sorted(c.wraps.items())},
                    "bcrypt": c.bcrypt_hash,
                }
                for pid, c in self.people.items()
            },
            "zones": {
                name: {
                    "tag_salt": b64e(z.tag_salt),
                    "keys": {s: b64e(k) for s, k in z.keys.items()},
                    "grants": {
                        pid: {"scopes": sorted(g.scopes), "salt": b64e(g.salt)}
                        for pid, g in z.grants.items()
                    },
                    "tag_cache": {u: b64e(t) for u, t in z.tag_cache.items()},
                }
                for name, z in self.zones.items()
            },
        }
