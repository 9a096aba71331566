"""A site's reply addresses: the token keys on disk and the personal address they sign.

The keys live in ``.extranet/secrets/reply-keys.json`` (mode 600, never published) as
``{"keys": {"<id>": "<hex>"}}``: all keys are accepted when verifying, the newest id signs
new tokens (``tokens.newest_key``). Rotation adds a key and retires the oldest beyond
``keep``; ids cycle within 0..15 as the token header allows. Outbound mail writes reply
addresses with them, the inbound gateway verifies the tokens it receives with them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from ..config import Settings
from ..output import atomic_write
from .tokens import MAX_KEY_ID, Kind, key_ids_by_age, make_address, make_token, newest_key, verify_token

KEY_BYTES = 32
_POST_KEY = re.compile(r"^projects/([^/]+)/posts/(.+)\.md$")


def load_token_keys(path: Path, *, create: bool = True) -> dict[int, bytes]:
    """Read the key file; create it with one fresh key if it is missing and ``create``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        if not create:
            raise
        keys = {0: secrets.token_bytes(KEY_BYTES)}
        save_token_keys(path, keys)
        return keys
    return {int(k): bytes.fromhex(v) for k, v in data["keys"].items()}


def save_token_keys(path: Path, keys: dict[int, bytes]) -> None:
    """Write the key file atomically, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({"keys": {str(k): v.hex() for k, v in sorted(keys.items())}}, indent=2).encode()
    old_umask = os.umask(0o077)
    try:
        atomic_write(path, body, mode=0o600)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)


def rotate_token_keys(path: Path, keep: int = 2) -> dict[int, bytes]:
    """Add a new signing key and keep only the ``keep`` newest (older reply addresses die)."""
    if not 1 <= keep <= MAX_KEY_ID:
        raise ValueError(f"keep must be within 1..{MAX_KEY_ID}")
    keys = load_token_keys(path)
    order = key_ids_by_age(keys)
    new_id = (order[-1] + 1) % (MAX_KEY_ID + 1)
    keys.pop(new_id, None)
    keys[new_id] = secrets.token_bytes(KEY_BYTES)
    for old in key_ids_by_age(keys)[:-keep]:
        del keys[old]
    save_token_keys(path, keys)
    return keys


def token_keys_path(settings: Settings) -> Path:
    """Where the site's reply-token keys are kept."""
    return settings.state_dir / "secrets" / "reply-keys.json"


def site_token_keys(settings: Settings) -> dict[int, bytes]:
    """The keys that sign and verify the site's reply tokens (created on first use)."""
    return load_token_keys(token_keys_path(settings))


def post_ref(post_key: str) -> str:
    """The token's reference to a post: '<project>/<post id>' from its content key."""
    m = _POST_KEY.match(post_key)
    return f"{m.group(1)}/{m.group(2)}" if m else post_key


def reply_address(settings: Settings, keys: Mapping[int, bytes], person_id: str, post_key: str, kind: Kind) -> str:
    """The personal address a person replies to: `kind` is 'reply' (a post) or 'note' (internal note)."""
    key_id, secret = newest_key(keys)
    token = make_token(secret, person_id, post_ref(post_key), kind, key_id)
    return make_address(token, kind, settings.mail.reply_domain)


def read_token(keys: Mapping[int, bytes], token: str) -> tuple[str, str, str] | None:
    """(person_id, post_ref, kind) of a genuine token; None if forged, malformed or retired."""
    claims = verify_token(keys, token)
    return (claims.person_id, claims.post_ref, claims.kind) if claims else None
