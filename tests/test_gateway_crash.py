"""Crash test: a gateway process SIGKILLed at random moments while 200 messages arrive by SMTP.

The sender behaves like an MTA: it retries until it gets a 250, so a kill between the
spool write and the 250 yields a second copy. After the storm, every message must have
become exactly one post, confirmed to its sender exactly once: none lost, none twice.

Run as a script, this file is the gateway worker: ``python test_gateway_crash.py DIR PORT``.
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
from email import policy
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 200


def worker(workdir: Path, port: int) -> None:
    """The gateway under test: SMTP listener plus spool processor, one process."""
    from conftest import PEOPLE, REPLY_DOMAIN, SITE_FROM, PostWriter, make_env
    from extranet.mail.inbound.smtp import SmtpListener, SpoolingHandler
    from extranet.mail.outbound.composer import Composer, Sender
    from extranet.mail.outbound.confirmations import Confirmations
    from extranet.mail.outbound.relay import OutboxTransport

    class SlowWriter(PostWriter):
        def process(self, message, envelope):  # widen the window between "post written" and "recorded"
            if self.path_for(envelope).exists():  # the crash window the handler contract covers
                with open(workdir / "found-existing.log", "a") as log:
                    log.write(f"{envelope.message_id} resumed={envelope.resumed}\n")
            outcome = super().process(message, envelope)
            time.sleep(random.random() * 0.004)
            return outcome

    env = make_env(workdir)
    env.gateway.handler = SlowWriter(workdir / "posts")
    confirmations = Confirmations(env.spool, workdir / "state", lambda: OutboxTransport(workdir / "outbox"))
    confirmations.start()

    composer = Composer(Sender("Durand", SITE_FROM, REPLY_DOMAIN, "en"))

    def confirm(record):
        person = PEOPLE[record["person"]]
        return composer.confirmation(post_ref=record["ref"], person=person.person_id, to=person.email,
                                     title="Re: Kickoff", link=f"https://projets.durand.example/{record['ref']}")

    listener = SmtpListener(
        SpoolingHandler(env.spool, env.gateway.check_recipient, lambda entry_id: env.gateway.wake.set()),
        "127.0.0.1", port,
    )
    listener.start()
    print("ready", flush=True)
    env.gateway.run(threading.Event(), interval=0.2, after=lambda outcomes: confirmations.send(confirm))


def start_worker(workdir: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, str(workdir), str(port)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"worker did not start: {line!r}"
    return proc


def send_all(port: int, rng: random.Random, delivered: list[int]) -> None:
    """An MTA: each message retried until a 250; some sent again anyway (a 250 lost on the way)."""
    from conftest import reply_address, reply_message

    queue = list(range(MESSAGES)) + rng.sample(range(MESSAGES), MESSAGES // 10)
    for n in queue:
        raw = reply_message(message_id=f"<crash-{n}@acme.example>", body=f"Message number {n}.")
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("jean.dupont@acme.example", [reply_address()], raw)
                delivered.append(n)
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)


def test_sigkill_storm_loses_nothing_and_posts_nothing_twice(tmp_path: Path) -> None:
    from conftest import make_env
    from dovecot import free_port

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    port = free_port()
    delivered: list[int] = []
    sender = threading.Thread(target=send_all, args=(port, rng, delivered))
    proc = start_worker(tmp_path, port)
    kills = 0
    sender.start()
    try:
        while sender.is_alive():
            time.sleep(rng.uniform(0.02, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = start_worker(tmp_path, port)
        sender.join()
        env = make_env(tmp_path)
        outbox = tmp_path / "outbox"
        deadline = time.monotonic() + 30
        while ((env.spool.entries("new") or env.spool.entries("cur") or len(list(outbox.glob("*.eml"))) < MESSAGES)
               and time.monotonic() < deadline):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sender.join(30)
    assert kills >= 3, f"seed {seed}: the storm was too short to mean anything"
    assert sorted(set(delivered)) == list(range(MESSAGES))
    assert env.spool.entries("new") == [] and env.spool.entries("cur") == [] and env.spool.entries("rejected") == []
    posts = [p.read_text() for p in env.posts()]
    ids = sorted(int(text.split("<crash-")[1].split("@")[0]) for text in posts)
    assert ids == list(range(MESSAGES)), f"seed {seed}: lost or doubled posts"
    confirmed = sorted(BytesParser(policy=policy.default).parsebytes(f.read_bytes()).get_content()
                       .split("https://projets.durand.example/")[1].strip() for f in outbox.glob("*.eml"))
    assert confirmed == sorted(p.as_posix() for p in env.posts()), f"seed {seed}: confirmations lost or doubled"
    copies = len(env.spool.entries("done"))
    found = tmp_path / "found-existing.log"
    resumed = found.read_text().count("\n") if found.exists() else 0
    print(f"seed {seed}: {kills} kills, {len(delivered)} deliveries, {copies} spooled copies, "
          f"{len(posts)} posts, {len(confirmed)} confirmations, {resumed} resumed after the post was written")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    worker(Path(sys.argv[1]), int(sys.argv[2]))
