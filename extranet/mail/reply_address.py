"""Personal reply addresses: `reply+<token>@reply_domain` and `note+<token>@reply_domain`.

The one seam between outbound notifications and the shared token code (tokens.py): the
keys live in `.extranet/secrets/reply-keys.json`, the newest signs, all are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..config import Settings
from .keys import load_token_keys
from .tokens import make_address, make_token, newest_key, verify_token

_POST_KEY = re.compile(r"^projects/([^/]+)/posts/(.+)\.md$")


def post_ref(post_key: str) -> str:
    """The token's reference to a post: '<project>/<post id>' from its content key."""
    m = _POST_KEY.match(post_key)
    return f"{m.group(1)}/{m.group(2)}" if m else post_key


def token_keys_path(settings: Settings):
    """Where the reply-token keys are kept."""
    return settings.state_dir / "secrets" / "reply-keys.json"


def token_secret(settings: Settings) -> dict[int, bytes]:
    """The keys that sign and verify reply tokens (created on first use)."""
    return load_token_keys(token_keys_path(settings))


def reply_address(settings: Settings, keys: Mapping[int, bytes], person_id: str, post_key: str, kind: str) -> str:
    """The personal address a person replies to: `kind` is 'reply' (a post) or 'note' (internal note)."""
    key_id, secret = newest_key(keys)
    token = make_token(secret, person_id, post_ref(post_key), kind, key_id)  # type: ignore[arg-type]
    return make_address(token, kind, settings.mail.reply_domain)  # type: ignore[arg-type]


def read_token(keys: Mapping[int, bytes], token: str) -> tuple[str, str, str] | None:
    """(person_id, post_ref, kind) of a genuine token; None if forged, malformed or retired."""
    claims = verify_token(keys, token)
    return (claims.person_id, claims.post_ref, claims.kind) if claims else None
