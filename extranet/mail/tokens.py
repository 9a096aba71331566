"""Reply tokens: a short, stateless, signed binding of a person and a post.

A token travels in the local part of a reply address (``reply+<token>@domain``), so it
is lowercase base32 (mail systems may fold the case of local parts), carries no padding,
and packs its content densely to stay under the 64-character local-part limit for
ordinary ids.

Layout (before base32)::

    header (1 byte) | [day number (2 bytes)] | packed text | HMAC-SHA256 truncated to 10 bytes

header bits: 0-3 key id, 4 kind (0 reply, 1 note), 5 dated post ref, 6-7 format version (0).
The packed text is ``person|project|slug`` (or ``person|post_ref`` when the post ref does
not look like ``project/YYYY-MM-DD-slug``) written as a bijective base-42 integer over
the slug alphabet, so the date costs 2 bytes instead of 11 characters.

When that would make ``reply+<token>`` longer than the 64 characters RFC 5321 allows a local
part, the token is written in format 1 instead: it carries hints of the names, not the names::

    header (1 byte, version 1) | person hint (2 bytes) | post hint (4 bytes) | HMAC (10 bytes)

28 characters whatever the ids. The MAC still covers the full names, so ``verify_token``
finds them among the ids the site knows (``Names``: people.toml, the posts in content/) by
their hints and keeps the one pair whose MAC matches.

Rotation: every token names the key that signed it; ``verify_token`` accepts any key in
the mapping it is given, and new tokens should use the newest (see ``newest_key``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Literal, Protocol

Kind = Literal["reply", "note"]
KINDS: tuple[Kind, ...] = ("reply", "note")

MAC_BYTES = 10  # 80 bits
MAX_KEY_ID = 15
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789._-/|"  # "|" separates fields
_BASE = len(_ALPHABET) + 1  # bijective numeration: digits 1.._BASE-1, no zero digit
_SLUG = re.compile(r"[a-z0-9._-]+")
_POST_REF = re.compile(r"[a-z0-9._-]+(/[a-z0-9._-]+)*")
_DATED = re.compile(r"([a-z0-9._-]+)/(\d{4})-(\d{2})-(\d{2})-([a-z0-9._-]+)")
_EPOCH = dt.date(2000, 1, 1)
_DOMAIN_TAG = b"extranet-reply-token-v0\x00"
_ADDRESS = re.compile(r"(reply|note)\+([a-z2-7]+)@([^@\s]+)", re.IGNORECASE)
LOCAL_PART_MAX = 64  # RFC 5321 4.5.3.1.1
_PREFIX_MAX = len("reply+")
_HINTED = 1  # format version of tokens that carry hints of the names
_PERSON_HINT, _POST_HINT = 2, 4  # bytes


class Names(Protocol):
    """The ids a format-1 token may stand for: every person id and every post ref of the site."""

    def person_ids(self) -> Iterable[str]: ...

    def post_refs(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token asserts: this person may post this kind of reply to this post."""

    person_id: str
    post_ref: str
    kind: Kind
    key_id: int


def newest_key(secrets: Mapping[int, bytes]) -> tuple[int, bytes]:
    """The key to sign new tokens with: the newest id (ids are allocated cyclically)."""
    if not secrets:
        raise ValueError("no token key configured")
    key_id = key_ids_by_age(secrets)[-1]
    return key_id, secrets[key_id]


def key_ids_by_age(key_ids: Iterable[int]) -> list[int]:
    """Key ids oldest first. Ids are allocated cyclically in 0..15 and fewer than 16 are
    live, so the oldest id is the one just after the largest gap (15 -> 0 wraps)."""
    ids = sorted(set(key_ids))
    if len(ids) <= 1:
        return ids
    gaps = [((ids[(i + 1) % len(ids)] - ids[i]) % (MAX_KEY_ID + 1), i) for i in range(len(ids))]
    _, before_gap = max(gaps)
    start = (before_gap + 1) % len(ids)
    return ids[start:] + ids[:start]


def make_token(
    secret: bytes, person_id: str, post_ref: str, kind: Kind, key_id: int = 0
) -> str:
    """Sign (person, post, kind) with ``secret`` and return a lowercase base32 token."""
    if not _SLUG.fullmatch(person_id):
        raise ValueError(f"person id {person_id!r} is not a slug [a-z0-9._-]")
    if not _POST_REF.fullmatch(post_ref):
        raise ValueError(f"post ref {post_ref!r} is not a path of slugs")
    if kind not in KINDS:
        raise ValueError(f"kind must be reply or note, not {kind!r}")
    if not 0 <= key_id <= MAX_KEY_ID:
        raise ValueError(f"key id must be within 0..{MAX_KEY_ID}")
    header = key_id | (KINDS.index(kind) << 4)
    date_bytes = b""
    text = f"{person_id}|{post_ref}"
    dated = _DATED.fullmatch(post_ref)
    if dated:
        project, year, month, day, slug = dated.groups()
        try:
            days = (dt.date(int(year), int(month), int(day)) - _EPOCH).days
        except ValueError:
            days = -1
        if 0 <= days < 1 << 16:
            header |= 1 << 5
            date_bytes = days.to_bytes(2, "big")
            text = f"{person_id}|{project}|{slug}"
    body = bytes([header]) + date_bytes + _pack(text)
    token = _b32(body + _mac(secret, body))
    if _PREFIX_MAX + len(token) <= LOCAL_PART_MAX:
        return token
    header = key_id | (KINDS.index(kind) << 4) | (_HINTED << 6)
    hints = bytes([header]) + _hint(b"person", person_id, _PERSON_HINT) + _hint(b"post", post_ref, _POST_HINT)
    return _b32(hints + _mac(secret, _hinted_body(header, person_id, post_ref)))


def verify_token(secrets: Mapping[int, bytes], token: str, names: Names | None = None) -> TokenClaims | None:
    """Return the claims of a genuine token, or None if it is malformed, forged or
    signed by a key that is not (or no longer) in ``secrets``. A format-1 token (long ids)
    is looked up in ``names``: without them, or once its person or post is gone, None."""
    try:
        raw = _unb32(token.strip().lower())
    except ValueError:
        return None
    if len(raw) < 1 + MAC_BYTES + 1:
        return None
    body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    header = body[0]
    if header >> 6 == _HINTED:
        return _verify_hinted(secrets, body, mac, names)
    if header >> 6 != 0:
        return None
    key_id = header & 0x0F
    secret = secrets.get(key_id)
    if secret is None or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    kind = KINDS[(header >> 4) & 1]
    dated = bool(header & (1 << 5))
    rest = body[1:]
    try:
        if dated:
            date = _EPOCH + dt.timedelta(days=int.from_bytes(rest[:2], "big"))
            person_id, project, slug = _unpack(rest[2:]).split("|")
            post_ref = f"{project}/{date.isoformat()}-{slug}"
        else:
            person_id, post_ref = _unpack(rest).split("|")
    except ValueError:
        return None  # a genuine MAC over a body we cannot read: a format we do not know
    return TokenClaims(person_id=person_id, post_ref=post_ref, kind=kind, key_id=key_id)


def _verify_hinted(secrets: Mapping[int, bytes], body: bytes, mac: bytes, names: Names | None) -> TokenClaims | None:
    header = body[0]
    secret = secrets.get(header & 0x0F)
    if secret is None or names is None or len(body) != 1 + _PERSON_HINT + _POST_HINT or header & (1 << 5):
        return None
    person_hint, post_hint = body[1:1 + _PERSON_HINT], body[1 + _PERSON_HINT:]
    people = [p for p in names.person_ids() if _hint(b"person", p, _PERSON_HINT) == person_hint]
    posts = [r for r in names.post_refs() if _hint(b"post", r, _POST_HINT) == post_hint] if people else []
    for person_id in people:
        for post_ref in posts:
            if _SLUG.fullmatch(person_id) and _POST_REF.fullmatch(post_ref) and hmac.compare_digest(
                    mac, _mac(secret, _hinted_body(header, person_id, post_ref))):
                return TokenClaims(person_id, post_ref, KINDS[(header >> 4) & 1], header & 0x0F)
    return None


def _hint(what: bytes, name: str, size: int) -> bytes:
    return sha256(what + b"\x00" + name.encode()).digest()[:size]


def _hinted_body(header: int, person_id: str, post_ref: str) -> bytes:
    """What the MAC of a format-1 token covers: its header and the full names."""
    return bytes([header]) + _pack(f"{person_id}|{post_ref}")


def make_address(token: str, kind: Kind, domain: str) -> str:
    """The reply address carrying ``token``: ``reply+<token>@domain`` or ``note+...``."""
    return f"{kind}+{token}@{domain}"


def parse_address(addr: str) -> tuple[Kind, str] | None:
    """Split ``reply+TOKEN@domain`` / ``note+TOKEN@domain`` into (kind, token), else None.

    The domain is not checked here (callers compare it with their reply domain);
    surrounding angle brackets are tolerated.
    """
    match = _ADDRESS.fullmatch(addr.strip().strip("<>"))
    if not match:
        return None
    kind = match.group(1).lower()
    return ("reply" if kind == "reply" else "note"), match.group(2).lower()


def address_domain(addr: str) -> str:
    """The lowercased domain of an address (empty if it has none)."""
    return addr.strip().strip("<>").rpartition("@")[2].lower()


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN_TAG + body, sha256).digest()[:MAC_BYTES]


def _pack(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * _BASE + _ALPHABET.index(char) + 1
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _unpack(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, digit = divmod(number, _BASE)
        if digit == 0:
            raise ValueError("not a bijective base-42 number")
        chars.append(_ALPHABET[digit - 1])
    return "".join(reversed(chars))


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    if not re.fullmatch(r"[a-z2-7]+", text):
        raise ValueError("not base32")
    padded = text.upper() + "=" * (-len(text) % 8)
    data = base64.b32decode(padded)  # binascii.Error is a ValueError
    if _b32(data) != text:
        raise ValueError("non-canonical base32")  # one token, one spelling
    return data
