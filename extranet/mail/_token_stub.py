"""TEMPORARY reply tokens, standing in for the shared `extranet/mail/tokens.py` until merge.

Only `reply_address.py` imports this module, so the lead swaps one import at merge.
A token is lowercase base32 (no padding) of `kind byte | person | "|" | post_ref | HMAC[:10]`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

MAC_BYTES = 10
KINDS = ("reply", "note")
_TAG = b"extranet-notify-stub-token\x00"


def make_token(secret: bytes, person_id: str, post_ref: str, kind: str) -> str:
    """Sign (person, post, kind) with `secret`: a lowercase base32 token."""
    if kind not in KINDS or "|" in person_id or "|" in post_ref:
        raise ValueError("bad token fields")
    body = bytes([KINDS.index(kind)]) + f"{person_id}|{post_ref}".encode()
    return _b32(body + _mac(secret, body))


def verify_token(secret: bytes, token: str) -> tuple[str, str, str] | None:
    """(person_id, post_ref, kind) of a genuine token; None if malformed or forged."""
    try:
        text = token.strip().lower()
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (ValueError, TypeError):
        return None
    body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(body) < 2 or not hmac.compare_digest(mac, _mac(secret, body)) or body[0] >= len(KINDS):
        return None
    person, _, ref = body[1:].decode("utf-8", "replace").partition("|")
    return person, ref, KINDS[body[0]]


def load_secret(state_dir: Path) -> bytes:
    """The site's token key in .extranet/token.key (32 random bytes, mode 600), made on first use."""
    path = state_dir / "token.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".token.key.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # first writer wins, never overwritten
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _TAG + body, hashlib.sha256).digest()[:MAC_BYTES]


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()
