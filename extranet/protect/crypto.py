"""Pure cryptographic building blocks of the protect stage (no file I/O).

Blob format (one encrypted page or attachment), every integer big-endian::

    magic  b"XNE1"                       4 bytes
    flags  bit 0 = payload is zlib (deflate) compressed; bit 1 = payload is padded   1 byte
    nonce  random                        12 bytes
    hint   HMAC-SHA256(hint_key, nonce)[:8]  8 bytes
    body   AES-256-GCM(enc_key, nonce, payload, aad=the 25 header bytes)

A padded payload ends with 0x80 and zero bytes up to a size bucket (Padmé: at most 12 %
more, and a size tells at most O(log log n) bits), so that file sizes do not tell what a
page holds, which passages were left out of it, or whose home page it is.

A *content key* is 32 random bytes; the AES key and the hint key are derived from it
with HKDF-SHA256 so that a browser holding several keys finds the right one by the
hint without trial decryption, while an outsider cannot tell which files share a key.
The browser side (``extranet.js``) implements exactly the same formats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"XNE1"
FLAG_DEFLATE = 0x01
FLAG_PADDED = 0x02
MIN_PADDED = 256  # the smallest size bucket
DEFLATE_LEVEL = 1  # pages of 2–50 kB: level 9 made them 6 % smaller and took 1.5 times as long
NONCE_SIZE = 12
HINT_SIZE = 8
HEADER_SIZE = len(MAGIC) + 1 + NONCE_SIZE + HINT_SIZE
KEY_SIZE = 32
TAG_SIZE = 16
ENC_INFO = b"extranet/v1 content encryption"
HINT_INFO = b"extranet/v1 content hint"


class ProtectError(Exception):
    """A protection problem the user must act on (missing secrets, bad input, tampering)."""


@dataclass(frozen=True)
class ContentKey:
    """A scope's content key: the stored secret and the two keys derived from it."""

    secret: bytes
    enc_key: bytes
    hint_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> "ContentKey":
        """Derive the encryption and hint keys from a 32-byte content secret."""
        if len(secret) != KEY_SIZE:
            raise ProtectError("a content key must be 32 bytes")
        return cls(secret, hkdf(secret, ENC_INFO), hkdf(secret, HINT_INFO))

    @classmethod
    def generate(cls) -> "ContentKey":
        """A fresh random content key."""
        return cls.from_secret(os.urandom(KEY_SIZE))

    def hint(self, nonce: bytes) -> bytes:
        """The 8-byte hint that marks a blob encrypted with this key."""
        return hmac.digest(self.hint_key, nonce, "sha256")[:HINT_SIZE]


def hkdf(secret: bytes, info: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 with an empty salt (same as WebCrypto's HKDF with a zero-length salt)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def pbkdf2(secret: bytes, salt: bytes, iterations: int, length: int = KEY_SIZE) -> bytes:
    """PBKDF2-HMAC-SHA256, as WebCrypto's ``deriveBits`` computes it."""
    return hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, length)


def padded_size(n: int) -> int:
    """The size bucket of a payload of n bytes (plus its end mark): Padmé rounding."""
    n = max(n + 1, MIN_PADDED)
    exponent = n.bit_length() - 1
    low = exponent - exponent.bit_length()  # the low bits that are rounded away
    mask = (1 << low) - 1
    return (n + mask) & ~mask


def payload_of(plaintext: bytes, compress: bool = True) -> tuple[int, bytes]:
    """(flags, payload) of a file before padding: deflated unless that does not help."""
    if compress:
        packed = zlib.compress(plaintext, DEFLATE_LEVEL)
        if len(packed) < len(plaintext):
            return FLAG_DEFLATE, packed
    return 0, plaintext


def seal(key: ContentKey, plaintext: bytes, *, compress: bool = True, size: int = 0) -> bytes:
    """Encrypt one file into a blob: compressed unless that does not help, padded to its size
    bucket, or to `size` bytes of payload when that is larger (files that must not be told
    apart by their size)."""
    flags, payload = payload_of(plaintext, compress)
    target = max(padded_size(len(payload)), size)
    payload = payload + b"\x80" + bytes(target - len(payload) - 1)
    flags |= FLAG_PADDED
    nonce = os.urandom(NONCE_SIZE)
    header = MAGIC + bytes([flags]) + nonce + key.hint(nonce)
    return header + AESGCM(key.enc_key).encrypt(nonce, payload, header)


def blob_hint(blob: bytes) -> tuple[bytes, bytes]:
    """Return (nonce, hint) of a blob, or raise ProtectError if it is not one."""
    if len(blob) < HEADER_SIZE + TAG_SIZE or not blob.startswith(MAGIC):
        raise ProtectError("not an extranet encrypted blob")
    nonce = blob[5 : 5 + NONCE_SIZE]
    return nonce, blob[5 + NONCE_SIZE : HEADER_SIZE]


def key_for(blob: bytes, keys: list[ContentKey]) -> ContentKey | None:
    """The key among ``keys`` whose hint matches the blob, if any."""
    nonce, hint = blob_hint(blob)
    for key in keys:
        if hmac.compare_digest(key.hint(nonce), hint):
            return key
    return None


def open_blob(key: ContentKey, blob: bytes) -> bytes:
    """Decrypt and decompress a blob; ProtectError if it was tampered with or the key is wrong."""
    nonce, _ = blob_hint(blob)
    header = blob[:HEADER_SIZE]
    try:
        payload = AESGCM(key.enc_key).decrypt(nonce, blob[HEADER_SIZE:], header)
    except InvalidTag as exc:
        raise ProtectError("decryption failed: wrong key or damaged file") from exc
    if blob[4] & FLAG_PADDED:
        end = len(payload.rstrip(b"\x00")) - 1
        if end < 0 or payload[end] != 0x80:
            raise ProtectError("damaged padding")
        payload = payload[:end]
    return zlib.decompress(payload) if blob[4] & FLAG_DEFLATE else payload


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || AES-256-GCM(key, nonce, plaintext, aad): used for key wrapping."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes, data: bytes, aad: bytes) -> bytes | None:
    """Inverse of :func:`aead_encrypt`; None when the key is wrong or data damaged."""
    if len(data) < NONCE_SIZE + TAG_SIZE:
        return None
    try:
        return AESGCM(key).decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], aad)
    except InvalidTag:
        return None


def b64e(data: bytes) -> str:
    """Standard base64 text (with padding)."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    """Decode standard base64, raising ProtectError on garbage."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtectError("damaged base64 data") from exc
