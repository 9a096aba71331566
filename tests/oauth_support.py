"""OAuth2 for the test Dovecot, without any network: tokens are JWTs Dovecot validates locally.

Dovecot's oauth2 passdb (>= 2.3.11) checks a token's signature, dates and subject itself with
a key read from a folder (`introspection_mode = local`), which is what a provider such as
Gmail or Microsoft 365 does on its side. The "token command" of a test is a small script that
signs a fresh token, as oama or mutt_oauth2.py would fetch one, and counts its runs.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dovecot import Dovecot, start_dovecot, stop_dovecot

TOKEN_SCRIPT = """\
import base64, hashlib, hmac, json, sys, time
secret_file, user, counter, lifetime = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(counter, "a") as f:
    f.write("run\\n")
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": user, "iat": now - 5, "nbf": now - 5, "exp": now + lifetime}).encode())
sig = b64(hmac.new(open(secret_file, "rb").read(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
"""


@dataclass(frozen=True)
class OAuthDovecot:
    """A Dovecot taking XOAUTH2 and OAUTHBEARER, and how to mint tokens for its user."""

    server: Dovecot
    folder: Path  # the key, the token script, the run counter

    def token_command(self, lifetime: int = 600) -> str:
        """A shell command printing a fresh token (negative lifetime: an expired one)."""
        return (f"{sys.executable} {self.folder / 'token.py'} {self.folder / 'key'} {self.server.user} "
                f"{self.folder / 'runs'} {lifetime}")

    def runs(self) -> int:
        """How many times a token command ran."""
        try:
            return (self.folder / "runs").read_text().count("run")
        except FileNotFoundError:
            return 0

    def forged_token(self) -> str:
        """A well-formed, unexpired token signed with another key."""
        forged = self.folder / "forged-key"
        forged.write_bytes(b"not the server's key")
        command = self.token_command().replace(str(self.folder / "key"), str(forged))
        return subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout.strip()


def start_oauth_dovecot() -> tuple[OAuthDovecot, object]:
    """Dovecot with an oauth2 passdb validating tokens locally with a fresh random key."""
    folder = Path(tempfile.mkdtemp(prefix="extranet-oauth-"))
    secret = os.urandom(32)
    (folder / "key").write_bytes(secret)
    keys = folder / "keys" / "default" / "HS256"
    keys.mkdir(parents=True)
    (keys / "default").write_text(base64.b64encode(secret).decode())
    for path in (folder, folder / "keys", folder / "keys" / "default", keys):
        path.chmod(0o755)  # the dovecot user reads the key
    (keys / "default").chmod(0o644)
    (folder / "token.py").write_text(TOKEN_SCRIPT)
    conf = folder / "oauth2.conf.ext"
    conf.write_text(f"introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={folder / 'keys'}/\n"
                    "username_attribute = sub\n")
    conf.chmod(0o644)
    extra = ("auth_mechanisms = plain login xoauth2 oauthbearer\n"
             f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {conf}\n}}\n")
    server, proc = start_dovecot(extra)
    return OAuthDovecot(server, folder), proc


@pytest.fixture
def oauth_dovecot() -> Iterator[OAuthDovecot]:
    """A real Dovecot on 127.0.0.1 that accepts OAuth2 tokens (fails if dovecot is missing)."""
    import shutil

    found, proc = start_oauth_dovecot()
    try:
        yield found
    finally:
        stop_dovecot(proc, found.server.root)
        shutil.rmtree(found.folder, ignore_errors=True)
