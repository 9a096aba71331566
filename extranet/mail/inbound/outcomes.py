"""What processing a message comes to (the outcomes), and what the handler that posts it is given.

Outcomes are recorded in the spool's processed index (``outcome_record``) and read back from
it (``outcome_from_record``); the gateway passes them to what follows a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..tokens import Kind
from .message import InboundMessage


@dataclass(frozen=True)
class Posted:
    """The message became a post (``ref`` names it, e.g. its path) by ``person`` (an id)."""

    ref: str = ""
    person: str = ""


@dataclass(frozen=True)
class Refused:
    """A human's message that will not be posted; ``notify_sender``: explain by mail, which
    happens only for a known person or an authenticated sender (``noticed``: it was sent)."""

    reason: str
    notify_sender: bool = True
    noticed: bool = False


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
        return Posted(record.get("ref", ""), record.get("person", ""))
    if kind == "refused":
        return Refused(record.get("reason", ""), bool(record.get("notify_sender")), bool(record.get("noticed")))
    if kind == "dropped":
        return Dropped(record.get("reason", ""))
    return Duplicate(record.get("of", record.get("id", "")))


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
    content: str = ""  # digest of the content (InboundMessage.content)
    authenticated: bool = False  # the From domain is vouched for (authentication.py)
    held: tuple[str, ...] = ()  # why the post must wait for moderation, as decided here (unauthenticated)

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

    def process(self, message: InboundMessage, envelope: Envelope) -> Outcome: ...
