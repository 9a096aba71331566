"""OAuth2 login to the IMAP mailbox (Gmail, Microsoft 365): a real Dovecot validating the tokens.

`[mail.imap] token_command` prints a fresh access token at every login, as mutt and aerc do;
extranet logs in with SASL XOAUTH2 (or OAUTHBEARER), never stores the token, and never needs
a password. Dovecot checks each token's signature and dates itself (local JWT validation),
so a forged or expired token is refused exactly as a provider would refuse it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from conftest import reply_message
from extranet.mail.demo_reply import reply_to
from extranet.mail.inbound.imap import ImapSettings, ImapSource
from extranet.mail.inbound.imap_login import TokenError, fresh_token, login
from extranet.mail.inbound.spool import Spool
from helpers import copy_site
from oauth_support import OAuthDovecot, oauth_dovecot  # noqa: F401  (fixture)
from test_gateway_publish import announce
from test_gateway_site import notification, posts


def notified_site(tmp: Path) -> Path:
    """The small test site with a new post notified to its people (in the outbox)."""
    root = copy_site("small", tmp)
    announce(root)
    return root


def settings(d: OAuthDovecot, **values) -> ImapSettings:
    base = dict(host=d.server.host, port=d.server.port, user=d.server.user, password="", security="none",
                token_command=d.token_command())
    return ImapSettings(**{**base, **values})


def deliver(d: OAuthDovecot, raw: bytes) -> None:
    with IMAPClient(d.server.host, port=d.server.port, ssl=False) as mailbox:
        mailbox.login(d.server.user, d.server.password)
        mailbox.append("INBOX", raw)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_the_mailbox_is_read_with_a_fresh_token_at_each_login(oauth_dovecot: OAuthDovecot, tmp_path: Path,
                                                              mechanism: str) -> None:
    d = oauth_dovecot
    deliver(d, reply_message(message_id="<oauth-1@acme.example>"))
    source = ImapSource(settings(d, oauth2_mechanism=mechanism), Spool(tmp_path / "spool"), tmp_path / "checkpoint")
    assert len(source.poll_once()) == 1  # logged in without any password, message spooled
    assert d.runs() == 1
    source.close()
    deliver(d, reply_message(message_id="<oauth-2@acme.example>"))
    assert len(source.poll_once()) == 1  # a new connection: a new token
    assert d.runs() == 2
    source.close()


def test_forged_and_expired_tokens_are_refused_by_the_server(oauth_dovecot: OAuthDovecot) -> None:
    d = oauth_dovecot
    for token in (d.forged_token(), fresh_token(d.token_command(lifetime=-60))):
        with IMAPClient(d.server.host, port=d.server.port, ssl=False) as client:
            with pytest.raises(LoginError):
                client.oauth2_login(d.server.user, token)


def test_a_failing_token_command_is_one_clear_error_without_the_token(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match=r"token_command failed \(exit 3\): refresh token revoked"):
        fresh_token("echo 'refresh token revoked' >&2; echo SECRET-TOKEN; exit 3")
    with pytest.raises(TokenError, match="printed no token"):
        fresh_token("true")
    with pytest.raises(TokenError, match="no token within 1 s"):
        fresh_token("sleep 5", timeout=1)
    assert fresh_token("printf '\\n  tok-123  \\nignored\\n'") == "tok-123"


def test_the_gateway_reads_replies_from_an_oauth2_mailbox_set_in_extranet_toml(oauth_dovecot: OAuthDovecot,
                                                                               tmp_path: Path) -> None:
    """The setup of docs/mail-setup.md for Gmail / Microsoft 365, with the test server as the provider."""
    d = oauth_dovecot
    root = notified_site(tmp_path)
    toml = root / "extranet.toml"
    toml.write_text(toml.read_text() + "\n[mail.imap]\n"
                    f'host = "{d.server.host}"\nport = {d.server.port}\nsecurity = "none"\n'
                    f'user = "{d.server.user}"\ntoken_command = "{d.token_command()}"\npoll_seconds = 1\n')
    deliver(d, reply_to(notification(root, "carl@acme.example"), "Read through OAuth2."))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no EXTRANET_IMAP_PASSWORD anywhere
    gateway = subprocess.Popen([sys.executable, "-m", "extranet", "-C", str(root), "gateway", "--no-smtp"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not posts(root) and time.monotonic() < deadline:
            assert gateway.poll() is None, gateway.stdout.read().decode()
            time.sleep(0.2)
        [post] = posts(root)
        assert "Read through OAuth2." in post.read_text() and "author: carl" in post.read_text()
        assert d.runs() >= 1
    finally:
        gateway.terminate()
        output = gateway.communicate(timeout=30)[0].decode()
    assert f"IMAP watching {d.server.user}@{d.server.host}/INBOX" in output
    assert "SECRET" not in output and "eyJ" not in output  # no token in the log


def test_login_uses_the_password_when_there_is_no_token_command(oauth_dovecot: OAuthDovecot) -> None:
    d = oauth_dovecot
    with IMAPClient(d.server.host, port=d.server.port, ssl=False) as client:
        login(client, d.server.user, d.server.password)
        assert client.select_folder("INBOX")
    assert d.runs() == 0
