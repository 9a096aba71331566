"""protect stage of the pipeline: encrypt each zone's output and make its login machinery.

Modules: ``crypto`` (blob format, keys, PBKDF2), ``secrets`` (the secrets dir),
``credentials`` (passwords), ``keyring`` (the public login file), ``shell`` (HTML served
before login), ``zone`` (the stage entry point). See docs/protection.md.
"""

from .credentials import generate_password, htpasswd_line, remove_person, set_password, verify_password
from .crypto import ProtectError
from .secrets import Secrets
from .zone import SITE_SCOPE, decrypt_zone, protect_zone, zone_keys

__all__ = [
    "ProtectError",
    "SITE_SCOPE",
    "Secrets",
    "decrypt_zone",
    "generate_password",
    "htpasswd_line",
    "protect_zone",
    "remove_person",
    "set_password",
    "verify_password",
    "zone_keys",
]
