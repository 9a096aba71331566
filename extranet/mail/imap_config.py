"""The IMAP transport's settings from `[mail.imap]` (one place for the gateway and the doctor)."""

from __future__ import annotations

import os

from ..config import Mail
from ..errors import ExtranetError
from .imap_in import ImapSettings

PASSWORD_ENV = "EXTRANET_IMAP_PASSWORD"


def imap_settings(mail: Mail) -> ImapSettings:
    """ImapSettings for the configured mailbox; the password from $EXTRANET_IMAP_PASSWORD unless
    `token_command` gives OAuth2 tokens. Raises ExtranetError when neither is there."""
    imap = mail.imap
    if imap is None:
        raise ExtranetError("no [mail.imap] in extranet.toml")
    password = os.environ.get(PASSWORD_ENV, "")
    if not password and not imap.token_command:
        raise ExtranetError(f"set {PASSWORD_ENV} for the IMAP mailbox (never in a file of the site), "
                            "or [mail.imap] token_command for OAuth2 (docs/mail-setup.md)")
    return ImapSettings(host=imap.host, port=imap.port, security=imap.security, user=imap.user,
                        password=password, folder=imap.folder, move_to=imap.processed_folder or None,
                        max_size=mail.max_message_size, idle_reissue=float(imap.idle_seconds),
                        poll_interval=float(imap.poll_seconds), token_command=imap.token_command,
                        oauth2_mechanism=imap.oauth2_mechanism)
