"""`extranet doctor` on a site ready for production, and on one with a problem in every part.

The servers are real and on loopback: an SMTP "provider" (aiosmtpd) that files the mail it
accepts into a real Dovecot mailbox, with or without sub-addressing; Dovecot itself; an rsync
daemon and folders as deploy destinations; git. Every problem is one line with its fix, and
the exit code says whether there was one.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient

from deploy_support import start_rsyncd, stop_rsyncd
from dovecot import Dovecot, free_port
from extranet.doctor import check_site
from helpers import copy_site
from test_gateway_publish import git


class Provider:
    """A mail provider: accepts the addresses `accepts` says yes to, files each message in the mailbox."""

    def __init__(self, mailbox: Dovecot, accepts: Callable[[str], bool]) -> None:
        self.mailbox = mailbox
        self.accepts = accepts
        self.refused: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if not self.accepts(address):
            self.refused.append(address)
            return "550 5.1.1 <" + address + ">: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.to_thread(self._file, envelope.content)
        return "250 OK: queued"

    def _file(self, raw: bytes) -> None:
        with IMAPClient(self.mailbox.host, port=self.mailbox.port, ssl=False) as client:
            client.login(self.mailbox.user, self.mailbox.password)
            client.append("INBOX", raw)


@contextmanager
def provider(mailbox: Dovecot, accepts: Callable[[str], bool]) -> Iterator[int]:
    port = free_port()
    controller = Controller(Provider(mailbox, accepts), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def site_with(tmp: Path, extra: str, *, gitignore: bool = True) -> Path:
    root = copy_site("small", tmp)
    toml = root / "extranet.toml"
    toml.write_text(toml.read_text() + extra)
    for pid in ("alice", "carl"):
        assert subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "people", "reset", pid,
                               "--password-file", str(tmp / f"{pid}.pw")], capture_output=True).returncode == 0
    git(root, "init", "--quiet", "-b", "main")
    if gitignore:
        (root / ".gitignore").write_text(".extranet/\npublic/\n")
    return root


def mail(relay_port: int, mailbox: Dovecot, processed: str = "") -> str:
    """[mail.relay] and [mail.imap] for a loopback relay and the test mailbox."""
    return (f'\n[mail.relay]\nhost = "127.0.0.1"\nport = {relay_port}\nsecurity = "none"\n'
            f'[mail.imap]\nhost = "{mailbox.host}"\nport = {mailbox.port}\nsecurity = "none"\nuser = "{mailbox.user}"\n'
            + (f'processed_folder = "{processed}"\n' if processed else ""))


def lines(findings) -> list[str]:
    return [f.line() for f in findings]


def test_a_site_ready_for_production(tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRANET_IMAP_PASSWORD", dovecot.password)
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(dovecot.user, dovecot.password)
        client.create_folder("Done")
    server = start_rsyncd(tmp_path / "server")
    (tmp_path / "www").mkdir()
    try:
        with provider(dovecot, lambda a: a.endswith("@projects.small.example")) as port:
            root = site_with(tmp_path, mail(port, dovecot, "Done") + f"""[deploy]
internal = "{server.url}interne/"
mixed = "{tmp_path}/www/projets/"
""")
            findings = check_site(root, probe=True, probe_wait=20)
            shown = lines(findings)
            assert [f for f in findings if f.level == "problem"] == [], shown
            for expected in ("ok: [zones.mixed] url: https://projects.small.example/",
                             "ok: .extranet/: ignored by git",
                             "ok: relay 127.0.0.1:", f"ok: mailbox {dovecot.user}@127.0.0.1: logs in",
                             "ok: probe reply+…: reached", "ok: probe note+…: reached",
                             f"ok: deploy internal -> {server.url}interne/: reachable and writable",
                             f"ok: deploy mixed -> {tmp_path}/www/projets/: reachable and writable",
                             'note: dns: SPF   small.example TXT "v=spf1 a:127.0.0.1 ~all"',
                             "note: dns: MX    projects.small.example MX"):
                assert any(line.startswith(expected) for line in shown), (expected, shown)
            with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
                client.login(dovecot.user, dovecot.password)
                client.select_folder("INBOX")
                assert client.search(["ALL"]) == [], "the probe messages are cleaned up"
            assert not any(p.name.startswith(".extranet-probe") for p in (tmp_path / "www" / "projets").iterdir())
            cli = subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "doctor"],
                                 capture_output=True, text=True, timeout=120)
            assert cli.returncode == 0, cli.stdout + cli.stderr
            assert cli.stdout.splitlines()[-1] == "no problem found"
    finally:
        stop_rsyncd(server)


def test_each_problem_is_one_line_with_its_fix(tmp_path: Path, dovecot: Dovecot,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRANET_IMAP_PASSWORD", dovecot.password)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    closed = free_port()
    with provider(dovecot, lambda a: "+" not in a) as port:  # a mailbox without sub-addressing
        root = site_with(tmp_path, mail(port, dovecot, "Processed") + f"""[deploy]
internal = "{tmp_path}/not-mounted/interne/"
mixed = "s3://projets-small/"
[deploy.s3]
endpoint_url = "http://127.0.0.1:{closed}"
[git]
pull_every = 60
""", gitignore=False)
        toml = root / "extranet.toml"
        toml.write_text(toml.read_text().replace("https://projects.small.example/", "http://projects.small.example/"))
        cli = subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "doctor", "--probe",
                              "--probe-wait", "3"], capture_output=True, text=True, timeout=180)
    assert cli.returncode == 1
    shown = cli.stdout.splitlines()
    problems = [line for line in shown if line.startswith("problem: ")]
    assert all(" -> fix: " in line for line in problems), problems
    expected = {
        "problem: [zones.mixed] url: http://projects.small.example/ is not HTTPS": "serve the zone over HTTPS",
        "problem: .extranet/: not ignored by git": "add the line .extranet/ to .gitignore",
        "problem: [mail.imap] processed_folder: no folder 'Processed'": "create the folder 'Processed'",
        "problem: probe reply+…: refused": "turn on sub-addressing (plus addressing) or a catch-all",
        "problem: probe note+…: refused": "turn on sub-addressing",
        f"problem: deploy internal -> {tmp_path}/not-mounted/interne/: {tmp_path}/not-mounted: no such folder":
            "check the destination",
        "problem: deploy mixed -> s3://projets-small/:": "credentials (environment, ~/.aws, ~/.ssh)",
        "problem: git remote origin: ": "check the remote's URL",
    }
    for start, fix in expected.items():
        assert any(line.startswith(start) and fix in line for line in problems), (start, shown)
    assert len(problems) == len(expected), problems
    assert shown[-1] == f"{len(expected)} problem(s)"


def test_a_relay_or_mailbox_that_refuses(tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRANET_IMAP_PASSWORD", "not the password")
    closed = free_port()
    root = site_with(tmp_path, mail(closed, dovecot))
    shown = lines(check_site(root))
    [relay] = [line for line in shown if line.startswith(f"problem: relay 127.0.0.1:{closed}")]
    assert "connection refused" in relay and "-> fix: check host, port and security" in relay
    [mailbox] = [line for line in shown if line.startswith(f"problem: mailbox {dovecot.user}@")]
    assert "LoginError" in mailbox and "-> fix: check user, EXTRANET_IMAP_PASSWORD" in mailbox
    monkeypatch.delenv("EXTRANET_IMAP_PASSWORD")
    [unset] = [line for line in lines(check_site(root)) if line.startswith("problem: mailbox")]
    assert "set EXTRANET_IMAP_PASSWORD" in unset
