"""Per-person credentials: generate a password, store what the build needs, never the password.

Used by ``extranet people add|reset|remove``. A generated password is 4 groups of 5
characters from a 31-character alphabet (lowercase letters and digits without the
ambiguous ``0 o 1 l i``), e.g. ``k7m2q-xw9ta-...``: 20 * log2(31) = 99.1 bits of entropy.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets as _rng

import bcrypt

from .crypto import ProtectError, pbkdf2
from .secrets import ZONES, PersonCredentials, Secrets, ZoneWrap

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS = 4
GROUP_SIZE = 5
PASSWORD_ENTROPY_BITS = GROUPS * GROUP_SIZE * math.log2(len(ALPHABET))
DEFAULT_ITERATIONS = 600_000
BCRYPT_COST = 12


def generate_password() -> str:
    """A new random password (about 99 bits), easy to read aloud and to type."""
    return "-".join(
        "".join(_rng.choice(ALPHABET) for _ in range(GROUP_SIZE)) for _ in range(GROUPS)
    )


def set_password(
    secrets: Secrets,
    person_id: str,
    email: str,
    password: str | None = None,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    bcrypt_cost: int = BCRYPT_COST,
) -> str:
    """Create or reset a person's credentials in ``secrets`` and return the password.

    The password is generated unless given; only a fresh salt and the PBKDF2-derived
    wrapping key per zone, and a bcrypt hash, are kept. A reset changes the salt, which makes the
    next build rotate every scope the person could open. The caller saves ``secrets``
    and shows or mails the returned password once.
    """
    if not person_id:
        raise ProtectError("a person id cannot be empty")
    if iterations < 1:
        raise ProtectError("PBKDF2 iterations must be positive")
    password = password if password is not None else generate_password()
    secret = password.encode("utf-8")
    wraps = {}
    for zone in ZONES:
        salt = os.urandom(16)
        wraps[zone] = ZoneWrap(salt, pbkdf2(secret, salt, iterations))
    secrets.people[person_id] = PersonCredentials(
        email=email,
        iterations=iterations,
        bcrypt_hash=bcrypt.hashpw(secret, bcrypt.gensalt(rounds=bcrypt_cost)).decode("ascii"),
        wraps=wraps,
    )
    return password


def remove_person(secrets: Secrets, person_id: str) -> None:
    """Forget a person's credentials; the next build rotates the keys they could use."""
    if secrets.people.pop(person_id, None) is None:
        raise ProtectError(f"no credentials for {person_id!r}")


def verify_password(secrets: Secrets, person_id: str, password: str) -> bool:
    """True when ``password`` is the person's current password (constant-time compare)."""
    cred = secrets.people.get(person_id)
    if cred is None:
        return False
    wrap = cred.wrap(ZONES[-1])
    return hmac.compare_digest(pbkdf2(password.encode("utf-8"), wrap.salt, cred.iterations), wrap.key)


def htpasswd_line(secrets: Secrets, person_id: str) -> str:
    """The ``.htpasswd`` line (bcrypt) of a person, for the server-side layer."""
    cred = secrets.people.get(person_id)
    if cred is None:
        raise ProtectError(f"no credentials for {person_id!r}")
    return f"{person_id}:{cred.bcrypt_hash}"
