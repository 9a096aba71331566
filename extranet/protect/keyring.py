"""The keyring: the public file the login page fetches to turn a password into content keys.

``keyring.json``::

    {"format": "extranet-keyring-1", "salt": b64, "tag_iterations": 100000,
     "iterations": 600000, "slots": 8, "entries": {b64(tag): b64(entry), ...}}

For each user name (a person's id and their email, trimmed, NFC, lower case):
``T = PBKDF2-SHA256(name, salt, tag_iterations)``, ``tag = HMAC(T, "tag")[:16]``,
``entry_key = HMAC(T, "entry key")``. The entry is
``nonce || AES-GCM(entry_key, pw_salt(16) || iterations(u32) || wrapped)`` and
``wrapped = nonce || AES-GCM(W, count(u16) || content secrets padded to slots*32)``
where ``W = PBKDF2-SHA256(password, pw_salt, iterations)``. Entries all have the same
size and are padded with random ones, so the file tells neither who is a member nor
which or how many scopes each person has; checking a guessed user name costs a PBKDF2.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import struct
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .crypto import KEY_SIZE, ProtectError, aead_decrypt, aead_encrypt, b64d, b64e, pbkdf2
from .secrets import ZoneWrap

KEYRING_FILE = "keyring.json"
FORMAT = "extranet-keyring-1"
TAG_ITERATIONS = 100_000
TAG_SIZE = 16
ENTRY_AAD = b"extranet/v1 keyring entry"
WRAP_AAD = b"extranet/v1 wrapped keys"
MIN_SLOTS = 8
ENTRY_BLOCK = 32


def normalize_username(name: str) -> str:
    """The canonical form of a user name (id or email): trimmed, NFC, lower case."""
    return unicodedata.normalize("NFC", name.strip()).lower()


def username_secret(name: str, salt: bytes, iterations: int = TAG_ITERATIONS) -> bytes:
    """The slow PBKDF2 value ``T`` of a user name, from which tag and entry key come."""
    return pbkdf2(normalize_username(name).encode("utf-8"), salt, iterations)


def tag_and_entry_key(t: bytes) -> tuple[bytes, bytes]:
    """Split the user-name secret into the public lookup tag and the entry key."""
    tag = hmac.new(t, b"tag", hashlib.sha256).digest()[:TAG_SIZE]
    return tag, hmac.new(t, b"entry key", hashlib.sha256).digest()


@dataclass(frozen=True)
class KeyringMember:
    """One person as a zone's keyring sees them: user-name secrets, the zone's salt and
    wrapping key of theirs, content secrets."""

    name_secrets: tuple[bytes, ...]
    wrap: ZoneWrap
    iterations: int
    content_secrets: tuple[bytes, ...]


def slots_for(counts: Iterable[int]) -> int:
    """Key slots per entry: the largest count, rounded up to a multiple of 8."""
    top = max(counts, default=0)
    return max(MIN_SLOTS, math.ceil(top / MIN_SLOTS) * MIN_SLOTS)


def _wrap(member: KeyringMember, slots: int) -> bytes:
    content = member.content_secrets
    body = struct.pack(">H", len(content)) + b"".join(content)
    body += bytes(2 + slots * KEY_SIZE - len(body))
    wrapped = aead_encrypt(member.wrap.key, body, WRAP_AAD)
    return member.wrap.salt + struct.pack(">I", member.iterations) + wrapped


def build_keyring(salt: bytes, members: list[KeyringMember], *, tag_iterations: int = TAG_ITERATIONS) -> bytes:
    """Serialise the keyring of a zone (entries shuffled by tag order, padded with fakes)."""
    slots = slots_for(len(m.content_secrets) for m in members)
    entries: dict[str, str] = {}
    size = 0
    for member in members:
        inner = _wrap(member, slots)
        for t in member.name_secrets:
            tag, entry_key = tag_and_entry_key(t)
            entry = aead_encrypt(entry_key, inner, ENTRY_AAD)
            size = len(entry)
            entries[b64e(tag)] = b64e(entry)
    if not size:
        size = 12 + 16 + 4 + 12 + 2 + slots * KEY_SIZE + 16 + 16
    padded = max(ENTRY_BLOCK, math.ceil(len(entries) / ENTRY_BLOCK) * ENTRY_BLOCK)
    while len(entries) < padded:
        entries[b64e(os.urandom(TAG_SIZE))] = b64e(os.urandom(size))
    iterations = max((m.iterations for m in members), default=600_000)
    doc = {
        "format": FORMAT,
        "salt": b64e(salt),
        "tag_iterations": tag_iterations,
        "iterations": iterations,
        "slots": slots,
        "entries": dict(sorted(entries.items())),
    }
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


_LAST: list = [None, None]  # the last keyring parsed and its document (the audit opens one per person)


def _parse(keyring: bytes) -> dict:
    if _LAST[0] is keyring:
        return _LAST[1]
    doc = _parse_new(keyring)
    _LAST[:] = [keyring, doc]
    return doc


def _parse_new(keyring: bytes) -> dict:
    try:
        doc = json.loads(keyring)
        if doc.get("format") != FORMAT:
            raise ProtectError("not an extranet keyring")
        b64d(doc["salt"]), int(doc["tag_iterations"]), doc["entries"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtectError(f"damaged keyring ({exc})") from exc
    return doc


def _open(doc: dict, t: bytes, wrap_key: Callable[[bytes, int], bytes]) -> list[bytes] | None:
    tag, entry_key = tag_and_entry_key(t)
    found = doc["entries"].get(b64e(tag))
    inner = aead_decrypt(entry_key, b64d(found), ENTRY_AAD) if found else None
    if inner is None:
        return None
    salt, (iterations,), wrapped = inner[:16], struct.unpack(">I", inner[16:20]), inner[20:]
    body = aead_decrypt(wrap_key(salt, iterations), wrapped, WRAP_AAD)
    if body is None:
        return None
    (count,) = struct.unpack(">H", body[:2])
    return [body[2 + i * KEY_SIZE : 2 + (i + 1) * KEY_SIZE] for i in range(count)]


def open_keyring(keyring: bytes, username: str, password: str) -> list[bytes] | None:
    """What the browser does at login: the content secrets of this user, or None if refused."""
    doc = _parse(keyring)
    t = username_secret(username, b64d(doc["salt"]), int(doc["tag_iterations"]))
    return _open(doc, t, lambda salt, iterations: pbkdf2(password.encode("utf-8"), salt, iterations))


def open_keyring_with_key(keyring: bytes, t: bytes, wrap_key: bytes) -> list[bytes] | None:
    """The content secrets a user name (secret T) opens with a stored wrapping key (for audit)."""
    return _open(_parse(keyring), t, lambda salt, iterations: wrap_key)
