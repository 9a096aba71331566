"""The gateway: spool -> parse once -> screen -> authenticate -> handler -> finish, exactly once.

Transports (SMTP, IMAP, stdin) only ``Spool.accept``; a ``Gateway`` takes entries from the
spool one at a time under the spool lock, drops automated mail, checks the reply token and
the sender, hands genuine replies to a ``Handler`` (the step that writes the post), sends
at most one refusal notice, and records the outcome before moving the entry away. See
``docs/gateway.md`` for the crash protocol and the handler's idempotency contract.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ...config import MailAuth
from ...zones import Rules
from ..tokens import TokenClaims, address_domain, parse_address, verify_token
from .authentication import AuthResult, DnsLookup, authenticate, dkim_domains
from .directory import Directory
from .message import InboundMessage
from .outcomes import (Dropped, Duplicate, Envelope, Handler, Outcome, Posted, Refused, TemporaryFailure,
                       outcome_from_record, outcome_record)
from .screening import classify, reply_address, same_address, sender_address
from .spool import Folder, Spool, SpoolEntry

log = logging.getLogger(__name__)
QUEUE_LIFETIME = 5 * 24 * 3600.0  # as Postfix's maximal_queue_lifetime


class Notices(Protocol):
    """Refusal notices: explain a refusal to `to` by mail, unless one went for that reason
    lately; returns whether one was sent (outbound.refusals.RefusalNotices)."""

    def explain(self, to: str, reason: str, *, subject: str = "", in_reply_to: str | None = None) -> bool: ...


@dataclass(frozen=True)
class GatewayPolicy:
    """Site settings the gateway checks messages against."""

    reply_domain: str
    token_keys: Mapping[int, bytes]
    own_addresses: tuple[str, ...]
    loop_id: str
    max_size: int = 25 * 1024 * 1024
    retry_delays: tuple[float, ...] = (5, 30, 120, 600)  # per message; the last one repeats
    max_queue_lifetime: float = QUEUE_LIFETIME  # then the sender gets a final answer
    auth: MailAuth = MailAuth()
    trusted_authserv_id: str = ""  # whose Authentication-Results count (IMAP and stdin only)
    dns: DnsLookup | None = None  # DKIM key lookups (None: the system resolver)


@dataclass(frozen=True)
class _Checked:
    """What the checks found: a refusal or drop (``outcome``), or None for a genuine reply."""

    outcome: Outcome | None
    sender: str | None = None
    claims: TokenClaims | None = None
    address: str = ""
    auth: AuthResult | None = None
    held: tuple[str, ...] = ()


# -- the gateway -----------------------------------------------------------------------------------


class Gateway:
    """Processes spooled messages exactly once each, through an injected handler."""

    def __init__(
        self,
        spool: Spool,
        handler: Handler,
        policy: GatewayPolicy,
        directory: Directory,
        notices: Notices | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.handler = handler
        self.policy = policy
        self.directory = directory
        self.notices = notices
        self.clock = clock
        self.wake = threading.Event()
        self._retry: dict[str, tuple[int, float]] = {}

    def check_recipient(self, address: str) -> bool:
        """Whether ``address`` is one of our reply addresses with a genuine token (SMTP RCPT)."""
        parsed = parse_address(address)
        if not parsed or address_domain(address) != self.policy.reply_domain.lower():
            return False
        claims = verify_token(self.policy.token_keys, parsed[1], self.directory)
        return claims is not None and claims.kind == parsed[0]

    def screen(self, raw: bytes, meta: dict[str, Any]) -> Refused | TemporaryFailure | None:
        """For the SMTP listener, before it answers DATA: the refusal known already (to answer
        in the session, so that the sending MTA tells its sender), or None (spool it). The DKIM
        verdict is added to ``meta``: checked once, when the message arrived."""
        checked = self._check(InboundMessage(raw), meta, screening=True)
        return checked.outcome if isinstance(checked.outcome, (Refused, TemporaryFailure)) else None

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

    def run(self, stop: threading.Event, interval: float = 5.0,
            after: Callable[[list[Outcome]], None] | None = None) -> None:
        """Process the spool until ``stop`` is set; transports set ``self.wake`` on arrival.
        ``after`` is given the outcomes of each batch (to rebuild the site, say)."""
        self.spool.clean_tmp()
        while not stop.is_set():
            self.wake.clear()
            try:
                outcomes = self.process_pending()
                if outcomes and after is not None:
                    after(outcomes)
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
            checked = self._check(entry.message, entry.meta)
        except Exception as exc:  # a message our parser chokes on: keep it in rejected/
            log.exception("cannot read %s", entry.entry_id)
            return Refused(f"malformed: {exc.__class__.__name__}", notify_sender=False)
        outcome = checked.outcome
        if outcome is None:
            envelope = self._envelope(entry, checked, resumed)
            try:
                outcome = self.handler.process(entry.message, envelope)
            except Exception as exc:
                log.exception("handler failed on %s", entry.entry_id)
                outcome = TemporaryFailure(f"handler error: {exc!r}")
            if isinstance(outcome, Posted) and not outcome.person:
                outcome = dataclasses.replace(outcome, person=envelope.person_id)  # whom to confirm to
        if isinstance(outcome, TemporaryFailure) and self._expired(entry):
            log.error("%s: still failing after %.0f days (%s): giving up", entry.entry_id,
                      self.policy.max_queue_lifetime / 86400, outcome.reason)
            outcome = Refused("timeout")
        if isinstance(outcome, Refused) and outcome.notify_sender:
            outcome = self._explain(entry, checked, outcome)
        return outcome

    def _expired(self, entry: SpoolEntry) -> bool:
        received = float(entry.meta.get("received_at") or 0.0)
        return bool(received) and self.clock() - received > self.policy.max_queue_lifetime

    def _check(self, message: InboundMessage, meta: Mapping[str, Any], screening: bool = False) -> _Checked:
        """Screen, check the reply token and the sender, then the sender's authentication."""
        msg = message.header
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
            return _Checked(Dropped(f"{automated.kind}: {automated.detail}"))
        if meta.get("oversize") or len(message.raw) > self.policy.max_size:
            return _Checked(Refused("oversize"))
        found = reply_address(msg, meta.get("rcpt_tos", ()), self.policy.reply_domain)
        if found is None:
            return _Checked(Refused("unknown_recipient"))
        address, kind, token = found
        claims = verify_token(self.policy.token_keys, token, self.directory)
        if claims is None or claims.kind != kind:
            return _Checked(Refused("bad_token"))
        sender = sender_address(msg)
        if sender is None:
            return _Checked(Refused("malformed"))
        person = self.directory.person(claims.person_id)
        if person is None:
            return _Checked(Refused("unknown_person"), sender, claims, address)
        if not same_address(sender, person.email):
            return _Checked(Refused("sender_mismatch"), sender, claims, address)
        if not person.active:
            return _Checked(Refused("expired"), sender, claims, address)
        auth = self._auth(message, meta, sender, screening)
        held: tuple[str, ...] = ()
        if not auth.authenticated:
            as_staff = Rules.posted_as_staff(person.staff, claims.kind)
            decision = Rules.unauthenticated_mail(self.policy.auth, as_staff=as_staff)
            what = "posted as staff" if as_staff else "sent"
            if decision == "refuse":
                refusal = TemporaryFailure(auth.detail) if auth.temporary else Refused("unauthenticated")
                return _Checked(refusal, sender, claims, address, auth)
            if decision == "moderate":
                held = (f"{what} without authentication: {auth.detail}",)
        return _Checked(None, sender, claims, address, auth, held)

    def _auth(self, message: InboundMessage, meta: Mapping[str, Any], sender: str,
              screening: bool = False) -> AuthResult:
        """Authenticate the From domain: DKIM checked here (once: the SMTP listener keeps its
        verdict in the entry), and the trusted server's results for IMAP and stdin."""
        passed: Iterable[str] = meta.get("dkim", ())
        failed_lookup = False
        if "dkim" not in meta and self.policy.auth.dkim and not meta.get("oversize"):
            try:
                passed, failed_lookup = dkim_domains(message.raw, self.policy.dns)
            except Exception as exc:  # noqa: BLE001 - a message dkimpy cannot read: not signed for us
                log.info("DKIM: cannot read the message: %s", exc)
                passed = ()
            if screening and not failed_lookup and isinstance(meta, dict):
                meta["dkim"] = list(passed)
        trusted = str(meta.get("transport", "")) in ("imap", "stdin")
        results = [str(v) for v in message.header.get_all("Authentication-Results", [])] if trusted else []
        return authenticate(sender, dkim_passed=passed, results=results,
                            authserv_id=self.policy.trusted_authserv_id if trusted else "",
                            dkim_failed_lookup=failed_lookup)

    def _envelope(self, entry: SpoolEntry, checked: _Checked, resumed: bool) -> Envelope:
        assert checked.claims is not None and checked.sender is not None
        return Envelope(
            spool_id=entry.entry_id,
            transport=str(entry.meta.get("transport", "")),
            sender=checked.sender,
            person_id=checked.claims.person_id,
            post_ref=checked.claims.post_ref,
            kind=checked.claims.kind,
            reply_address=checked.address,
            message_id=entry.message_id,
            sha256=entry.sha256,
            content=entry.content,
            received_at=float(entry.meta.get("received_at", 0.0)),
            resumed=resumed,
            authenticated=bool(checked.auth and checked.auth.authenticated),
            held=checked.held,
        )

    def _explain(self, entry: SpoolEntry, checked: _Checked, outcome: Refused) -> Refused:
        """Send the refusal notice, to a known person or an authenticated sender only (never
        backscatter to an address a stranger wrote); the outcome says whether it went."""
        to = self._notice_to(entry, checked)
        if to is None or self.notices is None:
            log.info("%s: refused (%s), no notice: %s", entry.entry_id, outcome.reason,
                     "no notices" if to else "the sender is neither known nor authenticated")
            return outcome
        try:
            sent = self.notices.explain(to, outcome.reason, subject=str(entry.message.header.get("Subject", "")),
                                        in_reply_to=entry.message_id)
        except Exception:  # a notice is a courtesy; never let it block the spool
            log.exception("could not send a refusal notice to %s", to)
            sent = False
        return dataclasses.replace(outcome, noticed=sent)

    def _notice_to(self, entry: SpoolEntry, checked: _Checked) -> str | None:
        msg = entry.message.header
        return_path = str(entry.meta.get("return_path") or msg.get("Return-Path", "")).strip().strip("<>")
        for address in (return_path, checked.sender or sender_address(msg) or ""):
            if address and self.directory.person_by_email(address) is not None:
                return address
        if checked.claims is None or not checked.sender:
            return None
        auth = checked.auth or self._auth(entry.message, entry.meta, checked.sender)
        return checked.sender if auth.authenticated else None
