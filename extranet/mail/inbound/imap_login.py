"""Logging in to the IMAP mailbox: a password, or OAuth2 with a token printed by a command.

Gmail and Microsoft 365 mailboxes take OAuth2 access tokens (SASL XOAUTH2 or OAUTHBEARER),
which expire within the hour. As mutt (`imap_oauth_refresh_command`) and aerc (`token-cmd`)
do, extranet asks a command for a fresh token at every login and never stores it: the
command (oama, mutt_oauth2.py, a provider's CLI…) keeps the refresh token in its own place.
The command is run by the shell, like theirs; its first line of output is the token.
"""

from __future__ import annotations

import subprocess

from imapclient import IMAPClient

from ...errors import ExtranetError

TOKEN_TIMEOUT = 60  # seconds: a command may refresh the token over the network


class TokenError(ExtranetError):
    """The token command failed or printed nothing; the message never contains a token."""


def fresh_token(command: str, timeout: float = TOKEN_TIMEOUT) -> str:
    """Run `command` and return the first non-empty line it prints."""
    try:
        result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TokenError(f"token_command gave no token within {timeout:.0f} s") from e
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TokenError(f"token_command failed (exit {result.returncode}): {lines[-1] if lines else 'no message'}")
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    raise TokenError("token_command printed no token")


def login(client: IMAPClient, user: str, password: str, token_command: str = "",
          mechanism: str = "XOAUTH2") -> None:
    """Authenticate `client`: OAuth2 with a fresh token when `token_command` is set, else LOGIN."""
    if not token_command:
        client.login(user, password)
    elif mechanism == "OAUTHBEARER":
        client.oauthbearer_login(user, fresh_token(token_command))
    else:
        client.oauth2_login(user, fresh_token(token_command))
