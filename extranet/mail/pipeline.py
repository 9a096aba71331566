"""The gateway: spool -> screen -> authenticate -> injected handler -> finish, exactly once.

Transports (SMTP, IMAP, stdin) only ``Spool.accept``; a ``Gateway`` takes entries from the
spool one at a time under the spool lock, drops automated mail, checks the reply token and
the sender, hands genuine replies to a ``Handler`` (the step that writes the post), sends
at most one refusal notice, and records the outcome before moving the entry away. See
``docs/gateway.md`` for the crash protocol and the handler's idempotency contract.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Protocol

from extranet.mail.notices import Notifier
from extranet.mail.screening import classify, reply_address, same_address, sender_address
from extranet.mail.spool import Folder, Spool, SpoolEntry
from extranet.mail.tokens import Kind, address_domain, parse_address, verify_token

log = logging.getLogger(__name__)


# -- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """The message became a post (``ref`` names it, e.g. its path)."""

    ref: str = ""


@dataclass(frozen=True)
class Refused:
    """A human's message that will not be posted; ``notify_sender``: explain by mail."""

    reason: str
    notify_sender: bool = True


@dataclass(frozen=True)
class Dropped:
    """Automated or looping mail, discarded silently (answering it could loop)."""

    reason: str


@dataclass(frozen=True)
class TemporaryFailure:
    """Could not be processed now; the entry stays in the spool and is retried."""

    reason: str


@dataclass(frozen=True)
class Duplicate:
    """Already processed (same Message-ID or same bytes): nothing done again."""

    of: str


Outcome = Posted | Refused | Dropped | TemporaryFailure | Duplicate


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """The outcome as the JSON fields of a processed-index record."""
    name = type(outcome).__name__.lower()
    return {"outcome": name, **{k: v for k, v in vars(outcome).items()}}


def outcome_from_record(record: Mapping[str, Any]) -> Outcome:
    """Rebuild an outcome from an index record (for a message finished by someone else)."""
    kind = record.get("outcome")
    if kind == "posted":
        return Posted(record.get("ref", ""))
    if kind == "refused":
        return Refused(record.get("reason", ""), bool(record.get("notify_sender")))
    if kind == "dropped":
        return Dropped(record.get("reason", ""))
    return Duplicate(record.get("of", record.get("id", "")))


# -- what the handler sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A screened, authenticated message: who sent it, as which person, replying to which post."""

    spool_id: str
    transport: str
    sender: str
    person_id: str
    post_ref: str
    kind: Kind
    reply_address: str
    message_id: str | None
    sha256: str
    received_at: float
    resumed: bool = False  # True when resuming after a crash: the post may already exist
    content: str = ""  # digest of the content (spool.content_digest)

    @property
    def message_key(self) -> str:
        """The message's name for people: its Message-ID, else the digest of its content."""
        return self.message_id or f"sha256:{self.content or self.sha256}"

    @property
    def idempotency_key(self) -> str:
        """The identity a handler must use to make posting idempotent: the Message-ID
        together with the content digest (a Message-ID reused for other content is another
        message)."""
        return f"{self.message_id or ''} {self.content or self.sha256}"


class Handler(Protocol):
    """Turns an authenticated message into a post.

    Must be idempotent on ``envelope.idempotency_key``: if a post from this message already
    exists (a crash happened after writing it), return ``Posted`` without writing again.
    Raising an exception counts as a temporary failure.
    """

    def process(self, raw: bytes, envelope: Envelope) -> Outcome: ...


@dataclass(frozen=True)
class Person:
    """What the gateway needs to know about a person named by a token."""

    person_id: str
    email: str
    active: bool = True  # False once ``expires`` has passed


@dataclass(frozen=True)
class GatewayPolicy:
    """Site settings the gateway checks messages against."""

    reply_domain: str
    token_keys: Mapping[int, bytes]
    own_addresses: tuple[str, ...]
    loop_id: str
    max_size: int = 25 * 1024 * 1024
    retry_delays: tuple[float, ...] = (5, 30, 120, 600)


# -- the gateway -----------------------------------------------------------------------------------


class Gateway:
    """Processes spooled messages exactly once each, through an injected handler."""

    def __init__(
        self,
        spool: Spool,
        handler: Handler,
        policy: GatewayPolicy,
        people: Callable[[str], Person | None],
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.handler = handler
        self.policy = policy
        self.people = people
        self.notifier = notifier
        self.clock = clock
        self.wake = threading.Event()
        self.on_batch: Callable[[list[Outcome]], None] | None = None  # e.g. rebuild after new posts
        self._retry: dict[str, tuple[int, float]] = {}

    def check_recipient(self, address: str) -> bool:
        """Whether ``address`` is one of our reply addresses with a genuine token (SMTP RCPT)."""
        parsed = parse_address(address)
        if not parsed or address_domain(address) != self.policy.reply_domain.lower():
            return False
        claims = verify_token(self.policy.token_keys, parsed[1])
        return claims is not None and claims.kind == parsed[0]

    def handle(self, raw: bytes, meta: Mapping[str, Any] | None = None) -> Outcome:
        """Spool one message durably, then process it now (``extranet ingest``)."""
        entry_id = self.spool.accept(raw, dict(meta or {}))
        with self.spool.lock():
            entry = self.spool.claim(entry_id)
            if entry is None:  # another processor took and finished it while we waited
                record = self.spool.record_of(entry_id)
                return outcome_from_record(record) if record else TemporaryFailure("entry vanished")
            return self._run(entry)

    def process_pending(self) -> list[Outcome]:
        """Resume entries left in ``cur/`` by a crash, then process ``new/`` oldest first."""
        outcomes: list[Outcome] = []
        with self.spool.lock():
            for entry_id in self.spool.entries("cur"):
                outcomes.append(self._run(self.spool.read(entry_id, "cur"), resumed=True))
            now = self.clock()
            for entry_id in self.spool.entries("new"):
                if self._retry.get(entry_id, (0, 0.0))[1] > now:
                    continue
                entry = self.spool.claim(entry_id)
                if entry is not None:
                    outcomes.append(self._run(entry))
        return outcomes

    def run(self, stop: threading.Event, interval: float = 5.0) -> None:
        """Process the spool until ``stop`` is set; transports set ``self.wake`` on arrival."""
        self.spool.clean_tmp()
        while not stop.is_set():
            self.wake.clear()
            try:
                outcomes = self.process_pending()
                if outcomes and self.on_batch is not None:
                    self.on_batch(outcomes)
            except Exception:  # keep the gateway alive; the entry stays in the spool
                log.exception("processing the spool failed")
            self.wake.wait(interval)

    # -- one entry ---------------------------------------------------------------------------------

    def _run(self, entry: SpoolEntry, resumed: bool = False) -> Outcome:
        record = self.spool.record_of(entry.entry_id)
        if record is not None:  # crashed after recording, before moving
            self.spool.move(entry.entry_id, "cur", record["folder"])
            return outcome_from_record(record)
        earlier = self.spool.seen(entry)
        if earlier is not None:
            outcome: Outcome = Duplicate(earlier["id"])
        else:
            outcome = self._process(entry, resumed)
        if isinstance(outcome, TemporaryFailure):
            attempts = self._retry.get(entry.entry_id, (0, 0.0))[0]
            delays = self.policy.retry_delays
            self._retry[entry.entry_id] = (attempts + 1, self.clock() + delays[min(attempts, len(delays) - 1)])
            log.warning("temporary failure on %s: %s", entry.entry_id, outcome.reason)
            self.spool.release(entry)
            return outcome
        self._retry.pop(entry.entry_id, None)
        folder: Folder = "done" if isinstance(outcome, (Posted, Duplicate)) else "rejected"
        self.spool.finish(entry, folder, outcome_record(outcome))
        log.info("%s: %s", entry.entry_id, outcome)
        return outcome

    def _process(self, entry: SpoolEntry, resumed: bool) -> Outcome:
        try:
            msg = BytesParser(policy=policy.default).parsebytes(entry.raw)
            assert isinstance(msg, EmailMessage)
            checked = self._authenticate(entry, msg, resumed)
        except Exception as exc:  # a message our parser chokes on: keep it in rejected/
            log.exception("cannot read %s", entry.entry_id)
            return Refused(f"malformed: {exc.__class__.__name__}", notify_sender=False)
        if isinstance(checked, Envelope):
            try:
                outcome = self.handler.process(entry.raw, checked)
            except Exception as exc:
                log.exception("handler failed on %s", entry.entry_id)
                return TemporaryFailure(f"handler error: {exc!r}")
        else:
            outcome = checked
        if isinstance(outcome, Refused) and outcome.notify_sender and self.notifier is not None:
            self._notify(entry, msg, outcome.reason)
        return outcome

    def _authenticate(self, entry: SpoolEntry, msg: EmailMessage, resumed: bool) -> Envelope | Outcome:
        meta = entry.meta
        return_path = meta.get("return_path")
        if return_path is None and "Return-Path" in msg:
            return_path = str(msg["Return-Path"]).strip()
        automated = classify(
            msg,
            return_path=return_path,
            own_addresses=self.policy.own_addresses,
            loop_id=self.policy.loop_id,
        )
        if automated is not None:
            return Dropped(f"{automated.kind}: {automated.detail}")
        if meta.get("oversize") or len(entry.raw) > self.policy.max_size:
            return Refused("oversize")
        found = reply_address(msg, meta.get("rcpt_tos", ()), self.policy.reply_domain)
        if found is None:
            return Refused("unknown_recipient")
        address, kind, token = found
        claims = verify_token(self.policy.token_keys, token)
        if claims is None or claims.kind != kind:
            return Refused("bad_token")
        sender = sender_address(msg)
        if sender is None:
            return Refused("malformed")
        person = self.people(claims.person_id)
        if person is None:
            return Refused("unknown_person")
        if not same_address(sender, person.email):
            return Refused("sender_mismatch")
        if not person.active:
            return Refused("expired")
        return Envelope(
            spool_id=entry.entry_id,
            transport=str(meta.get("transport", "")),
            sender=sender,
            person_id=claims.person_id,
            post_ref=claims.post_ref,
            kind=claims.kind,
            reply_address=address,
            message_id=entry.message_id,
            sha256=entry.sha256,
            content=entry.content,
            received_at=float(meta.get("received_at", 0.0)),
            resumed=resumed,
        )

    def _notify(self, entry: SpoolEntry, msg: EmailMessage, reason: str) -> None:
        assert self.notifier is not None
        return_path = entry.meta.get("return_path") or str(msg.get("Return-Path", "")).strip()
        to = return_path.strip("<>") if return_path else None
        to = to or sender_address(msg)
        if not to:
            return
        try:
            self.notifier.notify(to, reason, subject=str(msg.get("Subject", "")), in_reply_to=entry.message_id)
        except Exception:  # a notice is a courtesy; never let it block the spool
            log.exception("could not send a refusal notice to %s", to)
