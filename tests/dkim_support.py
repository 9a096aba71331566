"""DKIM for tests: generated keys, signed messages, and a local DNS lookup (no network)."""

from __future__ import annotations

import base64
import functools

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SELECTOR = b"test2026"


@functools.lru_cache(maxsize=None)
def private_key(domain: str) -> bytes:
    """A 2048-bit RSA key for `domain` (PEM), generated once per test session."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def txt_record(domain: str) -> bytes:
    """The DKIM TXT record publishing the public key of `domain`."""
    key = serialization.load_pem_private_key(private_key(domain), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


class LocalDns:
    """A DNS lookup function for dkimpy (dnsfunc) answering from the keys of `domains`; every
    name asked is recorded, so a test can prove no lookup went elsewhere."""

    def __init__(self, *domains: str) -> None:
        self.names = {f"{SELECTOR.decode()}._domainkey.{d}.".encode(): d for d in domains}
        self.asked: list[bytes] = []

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        self.asked.append(name)
        domain = self.names.get(name)
        return txt_record(domain) if domain else None


def sign(raw: bytes, domain: str, headers: tuple[bytes, ...] = (b"from", b"to", b"subject", b"message-id", b"date"),
         **options) -> bytes:
    """`raw` with a DKIM-Signature of `domain` on top."""
    signature = dkim.sign(raw, SELECTOR, domain.encode(), private_key(domain), include_headers=list(headers),
                          **options)
    return signature + raw
