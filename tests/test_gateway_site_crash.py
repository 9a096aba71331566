"""Crash tests on a real site: the gateway (SMTP listener or IMAP watcher, spool, the real post
writer, confirmations) is SIGKILLed at random moments while 200 replies arrive; afterwards
every reply is exactly one post file in the site's content, confirmed to its sender exactly
once. Run as a script, this file is the worker process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 200


def worker(site: Path, transport: str, settings: dict) -> None:
    """The gateway under test, as `extranet gateway` runs it (without the rebuild, for speed)."""
    from extranet.mail.inbound.imap import ImapSettings, ImapSource
    from extranet.mail.inbound.smtp import SmtpListener, SpoolingHandler
    from extranet.mail.site_mail import SiteMail

    site_mail = SiteMail(site, rebuild=False)
    gw = site_mail.gateway
    if transport == "smtp":
        listener = SmtpListener(SpoolingHandler(gw.spool, gw.check_recipient, lambda _: gw.wake.set(), gw.screen),
                                "127.0.0.1", settings["port"])
        listener.start()
    else:
        source = ImapSource(ImapSettings(**settings, security="none", idle_tick=0.1, poll_interval=0.2),
                            gw.spool, gw.spool.root / "imap-checkpoint.json", lambda _: gw.wake.set())
        threading.Thread(target=source.run, args=(threading.Event(),), daemon=True).start()
    print("ready", flush=True)
    gw.run(threading.Event(), interval=0.2, after=site_mail.batch)


def start_worker(site: Path, transport: str, settings: dict) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, str(site), transport, json.dumps(settings)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "worker did not start"
    return proc


def reply(address: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carl Client <carl@acme.example>"
    msg["To"] = address
    msg["Subject"] = "Re: Kickoff meeting notes"
    msg["Message-ID"] = f"<crash-{n}@acme.example>"
    msg.set_content(f"Reply number {n}.\n")
    return bytes(msg).replace(b"\n", b"\r\n")


def send_all(port: int, address: str, rng: random.Random, delivered: list[int]) -> None:
    """Like an MTA: retry until 250; 10 % sent again anyway (a 250 lost on the way)."""
    queue = list(range(MESSAGES)) + rng.sample(range(MESSAGES), MESSAGES // 10)
    for n in queue:
        raw = reply(address, n)
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("carl@acme.example", [address], raw)
                delivered.append(n)
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)


def prepare(tmp_path: Path) -> tuple[Path, str]:
    from extranet import config
    from extranet.mail.reply_keys import reply_address, site_token_keys
    from helpers import copy_site

    site = copy_site("small", tmp_path)
    settings, _ = config.load(site)
    return site, reply_address(settings, site_token_keys(settings), "carl", "projects/alpha/posts/2026-01-05-kickoff.md",
                               "reply")


def storm(site: Path, transport: str, settings: dict, rng: random.Random, busy, done) -> int:
    """Kill and restart the worker while `busy()`; then let it finish until `done()`; kills."""
    proc = start_worker(site, transport, settings)
    kills = 0
    try:
        while busy():
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = start_worker(site, transport, settings)
        deadline = time.monotonic() + 90
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return kills


def check(site: Path, seed: int) -> tuple[int, int]:
    """Every reply exactly one post, and one confirmation per post; (posts, confirmations)."""
    from extranet.mail.inbound.spool import Spool

    spool = Spool(site / ".extranet/spool")
    assert spool.entries("rejected") == [], f"seed {seed}: replies refused"
    assert spool.entries("new") == [] and spool.entries("cur") == [], f"seed {seed}: not all processed"
    posts = {p.stem: p.read_text() for p in (site / "content/projects/alpha/posts").glob("*-re-*.md")}
    numbers = sorted(int(text.split("Reply number ")[1].split(".")[0]) for text in posts.values())
    assert numbers == list(range(MESSAGES)), f"seed {seed}: lost or doubled posts"
    confirmed = []
    for f in (site / ".extranet/outbox").glob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        assert str(msg["To"]) == "carl@acme.example" and str(msg["Subject"]).startswith("Posted:")
        confirmed.append(msg.get_content().split("/projects/alpha/")[1].split(".html")[0])
    assert sorted(confirmed) == sorted(posts), f"seed {seed}: confirmations lost or doubled"
    return len(posts), len(confirmed)


def confirmations(site: Path) -> int:
    return len(list((site / ".extranet/outbox").glob("*.eml")))


def test_sigkill_storm_on_a_real_site_posts_every_reply_exactly_once(tmp_path: Path) -> None:
    from dovecot import free_port
    from extranet.mail.inbound.spool import Spool

    site, address = prepare(tmp_path)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    port = free_port()
    delivered: list[int] = []
    spool = Spool(site / ".extranet/spool")
    sender = threading.Thread(target=send_all, args=(port, address, rng, delivered))
    sender.start()
    try:
        kills = storm(site, "smtp", {"port": port}, rng, sender.is_alive,
                      lambda: not spool.entries("new") and not spool.entries("cur") and confirmations(site) >= MESSAGES)
    finally:
        sender.join(30)
    assert kills >= 3, f"seed {seed}: the storm was too short to mean anything"
    assert sorted(set(delivered)) == list(range(MESSAGES))
    posts, confirmed = check(site, seed)
    print(f"seed {seed}: {kills} kills, {len(delivered)} deliveries, {posts} posts, {confirmed} confirmations")


def test_sigkill_while_processing_an_imap_mailbox_posts_every_reply_exactly_once(tmp_path: Path, dovecot) -> None:
    from imapclient import IMAPClient

    from extranet.mail.inbound.spool import Spool

    site, address = prepare(tmp_path)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as mailbox:
        mailbox.login(dovecot.user, dovecot.password)
        for n in range(MESSAGES):
            mailbox.append("INBOX", reply(address, n))
    spool = Spool(site / ".extranet/spool")
    settings = {"host": dovecot.host, "port": dovecot.port, "user": dovecot.user, "password": dovecot.password}

    def unseen() -> int:
        with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as mailbox:
            mailbox.login(dovecot.user, dovecot.password)
            mailbox.select_folder("INBOX", readonly=True)
            return len(mailbox.search(["UNSEEN"]))

    started = time.monotonic()
    kills = storm(site, "imap", settings, rng, lambda: time.monotonic() - started < 8 and confirmations(site) < MESSAGES,
                  lambda: not unseen() and not spool.entries("new") and not spool.entries("cur")
                  and confirmations(site) >= MESSAGES)
    assert kills >= 3, f"seed {seed}: the storm was too short to mean anything"
    assert unseen() == 0, f"seed {seed}: messages left unflagged in the mailbox"
    posts, confirmed = check(site, seed)
    print(f"seed {seed}: {kills} kills, {posts} posts, {confirmed} confirmations, "
          f"{len(spool.entries('done'))} spooled copies")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    worker(Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))
