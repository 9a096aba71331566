"""Shared test fixtures. Gateway part: a test site's people and keys, reply messages, a post
writer handler, a gateway over a temporary spool, and a real Dovecot server."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from dkim_support import LocalDns
from dovecot import Dovecot, start_dovecot, stop_dovecot
from extranet.mail.inbound.directory import Person, StaticDirectory
from extranet.mail.inbound.gateway import Gateway, GatewayPolicy
from extranet.mail.inbound.message import InboundMessage
from extranet.mail.inbound.outcomes import Envelope, Posted
from extranet.mail.inbound.spool import Spool
from extranet.mail.outbound.composer import Composer, Sender
from extranet.mail.outbound.refusals import RefusalNotices
from extranet.mail.tokens import make_address, make_token

REPLY_DOMAIN = "projets.durand.example"
SITE_FROM = "extranet@durand.example"
LOOP_ID = "durand-extranet"
TOKEN_KEYS = {1: b"old-key-" * 4, 2: b"new-key-" * 4}
PEOPLE = {
    "jdupont": Person("jdupont", "Jean.Dupont@acme.example"),
    "mleroy": Person("mleroy", "marie.leroy@durand.example", staff=True),
    "gone": Person("gone", "gone@acme.example", active=False),
}
DIRECTORY = StaticDirectory(PEOPLE, ["acme/2026-01-05-kickoff"])
POLICY = GatewayPolicy(
    reply_domain=REPLY_DOMAIN,
    token_keys=TOKEN_KEYS,
    own_addresses=(SITE_FROM,),
    loop_id=LOOP_ID,
    max_size=200_000,
    retry_delays=(0.0,),
    dns=LocalDns("acme.example", "durand.example", "evil.example"),  # DKIM keys, never the network
)


def reply_address(person: str = "jdupont", post_ref: str = "acme/2026-01-05-kickoff", kind: str = "reply") -> str:
    """A genuine reply address for a person and post, signed with the newest key."""
    return make_address(make_token(TOKEN_KEYS[2], person, post_ref, kind, key_id=2), kind, REPLY_DOMAIN)


def reply_message(
    *,
    to: str | None = None,
    sender: str = "Jean Dupont <jean.dupont@acme.example>",
    body: str = "Agreed, see you on Monday.",
    subject: str = "Re: Kickoff",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A human reply as a mail client would send it, as raw bytes."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to or reply_address()
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id or make_msgid(domain="acme.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF, as on the wire


class PostWriter:
    """A handler writing one file per post, idempotent on the message key (as the real one must be)."""

    def __init__(self, posts: Path) -> None:
        self.posts = posts
        self.posts.mkdir(parents=True, exist_ok=True)
        self.calls = 0
        self.envelopes: list[Envelope] = []

    def path_for(self, envelope: Envelope) -> Path:
        """The post file of a message: named after its key, so a retry finds it."""
        return self.posts / (hashlib.sha256(envelope.idempotency_key.encode()).hexdigest()[:20] + ".md")

    def process(self, message: InboundMessage, envelope: Envelope) -> Posted:
        """Write the post unless it exists already."""
        self.calls += 1
        self.envelopes.append(envelope)
        path = self.path_for(envelope)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(
                f"---\nauthor: {envelope.person_id}\nin_reply_to: {envelope.post_ref}\n"
                f"message_id: {envelope.message_id}\n---\n".encode() + message.raw
            )
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        return Posted(str(path))


@dataclass
class GatewayEnv:
    """A gateway over a temporary spool, with its post writer and the notices it sent."""

    spool: Spool
    gateway: Gateway
    writer: PostWriter
    sent: list[EmailMessage] = field(default_factory=list)

    def posts(self) -> list[Path]:
        """The post files written so far."""
        return sorted(self.writer.posts.glob("*.md"))


def make_env(root: Path, gateway_policy: GatewayPolicy = POLICY) -> GatewayEnv:
    """Build a gateway whose notices are collected in a list."""
    spool = Spool(root / "spool")
    writer = PostWriter(root / "posts")
    sent: list[EmailMessage] = []
    notices = RefusalNotices(spool.root / "notices.json", sent.append,
                             Composer(Sender("Atelier Durand", SITE_FROM, LOOP_ID, "fr")))
    gateway = Gateway(spool, writer, gateway_policy, DIRECTORY, notices)
    return GatewayEnv(spool, gateway, writer, sent)


@pytest.fixture
def gateway_env(tmp_path: Path) -> GatewayEnv:
    """A fresh gateway over an empty spool."""
    return make_env(tmp_path)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot IMAP server on 127.0.0.1 with one user (fails if dovecot is missing)."""
    server, proc = start_dovecot()
    try:
        yield server
    finally:
        stop_dovecot(proc, server.root)


@pytest.fixture(autouse=True)
def _unfreeze_after_a_gateway() -> Iterator[None]:
    """A gateway sets its build state aside from the garbage collector (gc.freeze) after each
    rebuild; in the test process, give the next test a collector that sees everything."""
    yield
    gc.unfreeze()
