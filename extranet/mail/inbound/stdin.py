"""Standard-input transport for ``extranet ingest``: one message from an MTA pipe.

The exit code is what the MTA acts on (sysexits.h, as Postfix ``pipe`` and Exim read it):

====  ==============  =========================================================
 0    EX_OK           posted, duplicate, dropped (automated mail), or refused
                      with our own explanation sent: the MTA must not bounce
                      as well
 65   EX_DATAERR      unreadable input (no header/body separator within the
                      size limit, or empty)
 67   EX_NOUSER       refused, no notice sent: unknown or forged reply address,
                      unknown person
 77   EX_NOPERM       refused, no notice sent: any other reason (sender not
                      allowed, expired, not authenticated...). A notice goes only
                      to a known person or an authenticated sender, at most once
                      a day per reason: every other refusal is the MTA's to
                      bounce, so that no refusal is silent
 75   EX_TEMPFAIL     could not spool, or a temporary failure while processing: the
                      MTA keeps the message and retries (a retry of an already
                      spooled message is recognised as a duplicate)
====  ==============  =========================================================
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import BinaryIO

from .gateway import Gateway
from .outcomes import Dropped, Duplicate, Outcome, Posted, Refused

log = logging.getLogger(__name__)

EX_OK = 0
EX_DATAERR = 65
EX_NOUSER = 67
EX_TEMPFAIL = 75
EX_NOPERM = 77

_NO_USER_REASONS = {"unknown_recipient", "bad_token", "unknown_person"}


def exit_code(outcome: Outcome) -> int:
    """Map a processing outcome to the exit code an MTA understands (see the module table)."""
    if isinstance(outcome, (Posted, Duplicate, Dropped)):
        return EX_OK
    if isinstance(outcome, Refused):
        if outcome.noticed:
            return EX_OK
        return EX_NOUSER if outcome.reason in _NO_USER_REASONS else EX_NOPERM
    return EX_TEMPFAIL


def read_bounded(stream: BinaryIO, max_size: int) -> tuple[bytes, int | None]:
    """Read a message of at most ``max_size`` bytes.

    Returns (bytes, None) for a whole message, or (its header block, real size) for an
    oversized one: the header is enough to refuse it and explain why.
    """
    data = stream.read(max_size + 1)
    if len(data) <= max_size:
        return data, None
    size = len(data)
    while chunk := stream.read(1 << 20):  # drain, so the MTA sees us consume it
        size += len(chunk)
    parts = re.split(rb"\r?\n\r?\n", data, maxsplit=1)
    if len(parts) < 2:
        raise ValueError("no end of header within the size limit")
    return parts[0] + b"\r\n\r\n", size


def ingest(
    stream: BinaryIO,
    gateway: Gateway,
    *,
    recipient: str | None = None,
    sender: str | None = None,
    after: Callable[[list[Outcome]], None] | None = None,
) -> int:
    """Read one message from ``stream``, spool it durably, process it, return an exit code.

    ``recipient`` and ``sender`` are the envelope addresses if the MTA passes them
    (Postfix ``pipe``: ``${recipient}`` and ``${sender}``); without them the headers are used.
    ``after`` is then given the outcome (to rebuild the site, say); whatever it does, the exit
    code is the outcome's: the message is safe in the spool and the processed index.
    """
    try:
        raw, oversize = read_bounded(stream, gateway.policy.max_size)
    except ValueError as exc:
        log.error("unreadable message: %s", exc)
        return EX_DATAERR
    if not raw.strip():
        log.error("empty message on standard input")
        return EX_DATAERR
    meta: dict[str, object] = {"transport": "stdin", "received_at": time.time()}
    if recipient:
        meta["rcpt_tos"] = [recipient]
    if sender is not None:
        meta["return_path"] = sender
    if oversize:
        meta["oversize"] = oversize
    try:
        outcome = gateway.handle(raw, meta)
    except Exception:
        log.exception("could not spool or process the message")
        return EX_TEMPFAIL
    log.info("ingest: %s", outcome)
    if after is not None:
        try:
            after([outcome])
        except Exception:  # noqa: BLE001 - a follow-up; the MTA must not bounce a posted message
            log.exception("after processing the message")
    return exit_code(outcome)
