"""Crash test on a real site: the gateway (SMTP listener, spool, the real post writer) is
SIGKILLed at random moments while 200 replies arrive; afterwards every reply is exactly one
post file in the site's content. Run as a script, this file is the worker process.
"""

from __future__ import annotations

import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 200


def worker(site: Path, port: int) -> None:
    """The gateway under test, as `extranet gateway` runs it (without the rebuild, for speed)."""
    from extranet.mail.site_gateway import SiteGateway
    from extranet.mail.smtp_in import SmtpListener, SpoolingHandler

    gw = SiteGateway(site, rebuild=False).gateway
    listener = SmtpListener(SpoolingHandler(gw.spool, gw.check_recipient, lambda _: gw.wake.set()), "127.0.0.1", port)
    listener.start()
    print("ready", flush=True)
    gw.run(threading.Event(), interval=0.2)


def start_worker(site: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, str(site), str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "worker did not start"
    return proc


def send_all(port: int, address: str, rng: random.Random, delivered: list[int]) -> None:
    """Like an MTA: retry until 250; 10 % sent again anyway (a 250 lost on the way)."""
    queue = list(range(MESSAGES)) + rng.sample(range(MESSAGES), MESSAGES // 10)
    for n in queue:
        msg = EmailMessage()
        msg["From"] = "Carl Client <carl@acme.example>"
        msg["To"] = address
        msg["Subject"] = "Re: Kickoff meeting notes"
        msg["Message-ID"] = f"<crash-{n}@acme.example>"
        msg.set_content(f"Reply number {n}.\n")
        raw = bytes(msg).replace(b"\n", b"\r\n")
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("carl@acme.example", [address], raw)
                delivered.append(n)
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)


def test_sigkill_storm_on_a_real_site_posts_every_reply_exactly_once(tmp_path: Path) -> None:
    from dovecot import free_port
    from extranet import config
    from extranet.mail.reply_address import reply_address, token_secret
    from extranet.mail.spool import Spool
    from helpers import copy_site

    site = copy_site("small", tmp_path)
    settings, _ = config.load(site)
    address = reply_address(settings, token_secret(settings), "carl", "projects/alpha/posts/2026-01-05-kickoff.md",
                            "reply")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    port = free_port()
    delivered: list[int] = []
    proc = start_worker(site, port)
    sender = threading.Thread(target=send_all, args=(port, address, rng, delivered))
    kills = 0
    sender.start()
    try:
        while sender.is_alive():
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = start_worker(site, port)
        sender.join()
        spool = Spool(site / ".extranet/spool")
        deadline = time.monotonic() + 60
        while (spool.entries("new") or spool.entries("cur")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sender.join(30)
    assert kills >= 3, f"seed {seed}: the storm was too short to mean anything"
    assert sorted(set(delivered)) == list(range(MESSAGES))
    assert spool.entries("rejected") == [], f"seed {seed}: replies refused"
    posts = [p.read_text() for p in (site / "content/projects/alpha/posts").glob("*-re-*.md")]
    numbers = sorted(int(text.split("Reply number ")[1].split(".")[0]) for text in posts)
    assert numbers == list(range(MESSAGES)), f"seed {seed}: lost or doubled posts"
    print(f"seed {seed}: {kills} kills, {len(delivered)} deliveries, {len(posts)} posts")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    worker(Path(sys.argv[1]), int(sys.argv[2]))
