"""IMAP transport: fetch new messages into the spool, then mark them, then advance a checkpoint.

The order is what makes it safe: a message is flagged (or moved) on the server only after
the spool has it on disk, and the checkpoint (UIDVALIDITY, last UID) advances only after
that. A crash anywhere re-fetches at most a few messages, which the spool's processed
index recognises as duplicates. New mail is awaited with IDLE (re-issued well before the
server's 30-minute timeout), or by polling when the server has no IDLE.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientError

from extranet.mail.oauth import login
from extranet.mail.spool import Spool, write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapSettings:
    """Where the mailbox is and how to watch it."""

    host: str
    user: str
    password: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    folder: str = "INBOX"
    processed_flag: str = "\\Seen"  # a keyword such as "$Extranet" also works
    move_to: str | None = None  # if set, processed messages are moved there instead
    max_size: int = 25 * 1024 * 1024
    idle_reissue: float = 29 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
    idle_tick: float = 1.0  # how often a waiting IDLE looks at the stop event
    poll_interval: float = 60.0  # without IDLE
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    timeout: float = 60.0
    token_command: str = ""  # OAuth2: a command printing a fresh access token (then no password)
    oauth2_mechanism: str = "XOAUTH2"  # or OAUTHBEARER


@dataclass(frozen=True)
class Checkpoint:
    """The last UID spooled and marked, valid only for one UIDVALIDITY."""

    uidvalidity: int
    last_uid: int


def load_checkpoint(path: Path) -> Checkpoint | None:
    """Read a checkpoint file; None if absent or unreadable (then everything is re-scanned)."""
    try:
        data = json.loads(Path(path).read_text())
        return Checkpoint(int(data["uidvalidity"]), int(data["last_uid"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint atomically and durably."""
    write_atomic(Path(path), json.dumps(vars(checkpoint)).encode())


class ImapSource:
    """One mailbox folder feeding the spool; ``poll_once`` for a pass, ``run`` for a daemon."""

    def __init__(
        self,
        settings: ImapSettings,
        spool: Spool,
        checkpoint_path: Path,
        on_accepted: Callable[[str], None] = lambda entry_id: None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.checkpoint_path = Path(checkpoint_path)
        self.on_accepted = on_accepted
        self.ssl_context = ssl_context
        self._client: IMAPClient | None = None

    def connect(self) -> IMAPClient:
        """Open and log in (reusing the open connection if there is one)."""
        if self._client is None:
            s = self.settings
            context = self.ssl_context or ssl.create_default_context()
            client = IMAPClient(
                s.host, port=s.port, ssl=s.security == "tls",
                ssl_context=context if s.security == "tls" else None, timeout=s.timeout,
            )
            if s.security == "starttls":
                client.starttls(context)
            login(client, s.user, s.password, s.token_command, s.oauth2_mechanism)
            self._client = client
        return self._client

    def close(self) -> None:
        """Log out, ignoring errors of an already broken connection."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                try:
                    client.shutdown()
                except Exception:
                    pass

    def poll_once(self) -> list[str]:
        """Spool every message newer than the checkpoint; return the new entry ids."""
        s = self.settings
        client = self.connect()
        info = client.select_folder(s.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        checkpoint = load_checkpoint(self.checkpoint_path)
        if checkpoint is None or checkpoint.uidvalidity != uidvalidity:
            if checkpoint is not None:
                log.warning("UIDVALIDITY of %s changed: re-scanning the folder", s.folder)
            checkpoint = Checkpoint(uidvalidity, 0)
        _forget_notifications(client)  # what the search below sees needs no wake-up
        # "n:*" always matches the highest UID, even when it is below n: filter.
        uids = sorted(u for u in client.search(["UID", f"{checkpoint.last_uid + 1}:*"]) if u > checkpoint.last_uid)
        spooled = []
        for uid in uids:
            entry_id = self._take(client, uid, uidvalidity)
            if entry_id is not None:
                spooled.append(entry_id)
            save_checkpoint(self.checkpoint_path, Checkpoint(uidvalidity, uid))
            if entry_id is not None:
                self.on_accepted(entry_id)
        return spooled

    def _take(self, client: IMAPClient, uid: int, uidvalidity: int) -> str | None:
        s = self.settings
        sizes = client.fetch([uid], ["RFC822.SIZE"])
        if uid not in sizes:
            return None  # expunged meanwhile
        size = int(sizes[uid][b"RFC822.SIZE"])
        meta = {
            "transport": "imap", "folder": s.folder, "uid": uid, "uidvalidity": uidvalidity,
            "received_at": time.time(),
        }
        if size > s.max_size:  # keep only the header: enough to refuse and explain
            part, key = "BODY.PEEK[HEADER]", b"BODY[HEADER]"
            meta["oversize"] = size
        else:
            part, key = "BODY.PEEK[]", b"BODY[]"
        fetched = client.fetch([uid], [part])
        if uid not in fetched:
            return None
        entry_id = self.spool.accept(bytes(fetched[uid][key]), meta)
        # Only now, with the message on disk, tell the server it is ours.
        if s.move_to and client.has_capability("MOVE"):
            client.move([uid], s.move_to)
        elif s.move_to:  # RFC 3501 fallback: copy, mark deleted, expunge
            client.copy([uid], s.move_to)
            client.add_flags([uid], [DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([uid])
            else:
                client.expunge()
        else:
            client.add_flags([uid], [s.processed_flag], silent=True)
        return entry_id

    def run(self, stop: threading.Event) -> None:
        """Poll, then wait with IDLE (or sleep) until ``stop``; reconnect with backoff on errors."""
        s = self.settings
        backoff = s.backoff_initial
        while not stop.is_set():
            try:
                self.poll_once()
                backoff = s.backoff_initial
                client = self.connect()
                if client.has_capability("IDLE"):
                    self._idle(client, stop)
                else:
                    stop.wait(s.poll_interval)
            except Exception as exc:  # network, server, or disk (spool): retry, never die
                expected = isinstance(exc, (IMAPClientError, OSError, socket.timeout, ssl.SSLError))
                log.warning("IMAP %s:%s: %s; retrying in %.0f s", s.host, s.port, exc, backoff,
                            exc_info=not expected)
                self.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, s.backoff_max)
        self.close()

    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        """Wait in IDLE until the server reports something, ``stop``, or the re-issue time."""
        s = self.settings
        deadline = time.monotonic() + s.idle_reissue
        client.idle()
        try:
            if _already_notified(client):
                return
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if client.idle_check(timeout=min(s.idle_tick, remaining)):
                    break
        finally:
            client.idle_done()


def _forget_notifications(client: IMAPClient) -> None:
    for key in ("EXISTS", "RECENT"):
        client._imap.untagged_responses.pop(key, None)


def _already_notified(client: IMAPClient) -> bool:
    """Whether the server reported new mail since the last search, before IDLE began.

    ``idle_check`` only sees data still on the socket. New mail announced during our own
    FETCH/STORE commands, or just before the server's "+ idling", lands in imaplib's
    untagged responses, and an announcement sent in the same packet as "+ idling" sits in
    imaplib's read buffer: both would otherwise wait for the next event (or the 29-minute
    re-issue). This looks at both (imaplib internals, unchanged for years).
    """
    imap = client._imap
    if any(key in imap.untagged_responses for key in ("EXISTS", "RECENT")):
        return True
    sock = client.socket()
    sock.setblocking(False)
    try:
        buffered = imap.file.peek(1)
    except (BlockingIOError, ssl.SSLWantReadError):
        buffered = b""
    finally:
        sock.setblocking(True)
        client._set_read_timeout()
    return bool(buffered)
