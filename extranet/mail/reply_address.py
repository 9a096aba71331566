"""Personal reply addresses: `reply+<token>@reply_domain` and `note+<token>@reply_domain`.

The one seam between outbound notifications and the token code: at merge, the lead points
the import below at the shared `extranet/mail/tokens.py`.
"""

from __future__ import annotations

import re

from ..config import Settings
from ._token_stub import load_secret, make_token, verify_token  # noqa: F401  (swap at merge)

_POST_KEY = re.compile(r"^projects/([^/]+)/posts/(.+)\.md$")


def post_ref(post_key: str) -> str:
    """The token's reference to a post: '<project>/<post id>' from its content key."""
    m = _POST_KEY.match(post_key)
    return f"{m.group(1)}/{m.group(2)}" if m else post_key


def token_secret(settings: Settings) -> bytes:
    """The key that signs reply tokens (kept in the site's .extranet/ folder)."""
    return load_secret(settings.state_dir)


def reply_address(settings: Settings, secret: bytes, person_id: str, post_key: str, kind: str) -> str:
    """The personal address a person replies to: `kind` is 'reply' (a post) or 'note' (internal note)."""
    token = make_token(secret, person_id, post_ref(post_key), kind)
    return f"{kind}+{token}@{settings.mail.reply_domain}"


def read_token(secret: bytes, token: str) -> tuple[str, str, str] | None:
    """(person_id, post_ref, kind) of a genuine token signed with `secret`; None if forged or malformed."""
    return verify_token(secret, token)
