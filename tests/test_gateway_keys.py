"""Reply-token keys on disk: created private, rotated across the 15 -> 0 wrap."""

from __future__ import annotations

import stat
from pathlib import Path

from extranet.mail.reply_keys import load_token_keys, rotate_token_keys
from extranet.mail.tokens import key_ids_by_age, make_token, newest_key, verify_token


def test_keys_are_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / ".extranet" / "secrets" / "reply-keys.json"
    keys = load_token_keys(path)
    assert list(keys) == [0] and len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token_keys(path) == keys


def test_rotation_keeps_old_addresses_alive_for_one_generation(tmp_path: Path) -> None:
    path = tmp_path / "reply-keys.json"
    keys = load_token_keys(path)
    key_id, secret = newest_key(keys)
    token = make_token(secret, "jdupont", "acme/2026-01-05-kickoff", "reply", key_id)
    keys = rotate_token_keys(path, keep=2)
    assert newest_key(keys)[0] == 1 and verify_token(keys, token) is not None
    keys = rotate_token_keys(path, keep=2)
    assert verify_token(keys, token) is None
    for _ in range(20):  # across the wrap from 15 to 0
        keys = rotate_token_keys(path, keep=2)
        key_id, secret = newest_key(keys)
        assert len(keys) == 2
        fresh = make_token(secret, "jdupont", "acme/x", "reply", key_id)
        assert verify_token(load_token_keys(path), fresh) is not None
    assert newest_key(keys)[0] == (2 + 20) % 16


def test_key_age_order_wraps() -> None:
    assert key_ids_by_age([3, 4, 5]) == [3, 4, 5]
    assert key_ids_by_age([15, 0, 1]) == [15, 0, 1]
    assert key_ids_by_age([14, 15, 0]) == [14, 15, 0]
