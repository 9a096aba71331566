"""Reply-token keys on disk: ``.extranet/secrets/reply-keys.json``, mode 600, never published.

``{"keys": {"<id>": "<hex>"}}``: all keys are accepted when verifying, the highest id
signs new tokens (``tokens.newest_key``). Rotation adds a key and retires the oldest
beyond ``keep``; ids cycle within 0..15 as the token header allows.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from extranet.mail.spool import write_atomic
from extranet.mail.tokens import MAX_KEY_ID, key_ids_by_age

KEY_BYTES = 32


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
        write_atomic(path, body)
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
