"""A throwaway Dovecot IMAP server on loopback, for tests of the IMAP transport.

Everything lives in a fresh directory (config, sockets, state, maildirs), so it never
clashes with a system instance. Dovecot will not run its login process as root: the
login process runs as ``dovenull``, internal processes as ``dovecot``, and the test
user's mail is owned by ``dovecot`` too. A missing ``dovecot`` is a test failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "gateway"
PASSWORD = "s3cret-test-password"

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = extranet-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Dovecot:
    """A running test server: where to connect and as whom."""

    host: str
    port: int
    user: str
    password: str
    root: Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.fail("dovecot is not installed: the IMAP tests need it (apt-get install dovecot-imapd)")
    return found


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dovecot exited with {proc.returncode}: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"dovecot did not answer on port {port}: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text()[-2000:]
    except FileNotFoundError:
        return "(no log)"


def start_dovecot(extra_config: str = "") -> tuple[Dovecot, subprocess.Popen[bytes]]:
    """Write a config under a fresh directory, start dovecot in the foreground, wait for it."""
    binary = _binary()
    mail_user = pwd.getpwnam("dovecot")
    root = Path(tempfile.mkdtemp(prefix="extranet-dovecot-"))
    root.chmod(0o755)  # the dovecot and dovenull users must traverse it
    (root / "mail").mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{mail_user.pw_uid}:{mail_user.pw_gid}::{root}/mail/{USER}::\n"
    )
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(_CONFIG.format(root=root, port=port) + extra_config)
    proc = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, proc, root / "dovecot.log")
    except BaseException:
        stop_dovecot(proc, root)
        raise
    return Dovecot("127.0.0.1", port, USER, PASSWORD, root), proc


def stop_dovecot(proc: subprocess.Popen[bytes], root: Path) -> None:
    """Stop the server (it stops its children) and remove its directory."""
    stop_process(proc)
    shutil.rmtree(root, ignore_errors=True)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it does not stop within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
