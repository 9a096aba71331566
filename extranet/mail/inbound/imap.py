"""IMAP transport: fetch new messages into the spool, then mark them, then advance a checkpoint.

The order is what makes it safe: a message is flagged (or moved) on the server only after
the spool has it on disk, and the checkpoint (UIDVALIDITY, last UID) advances right after,
whether the flag or move worked or not: a message is stored once. One that could not be
marked is remembered in the checkpoint and marked again at the next passes, up to
``mark_attempts`` times, never blocking the others. A crash re-fetches at most the message
being taken, which the spool's processed index recognises as a duplicate. The folders the
settings name are checked, and created when missing, before the first pass and again after
a mark failed. New mail is awaited with IDLE (re-issued well before the server's 30-minute
timeout), or by polling when the server has no IDLE.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ...config import Mail
from ...errors import ExtranetError
from ...output import atomic_write
from .imap_login import login
from .spool import Spool

log = logging.getLogger(__name__)
PASSWORD_ENV = "EXTRANET_IMAP_PASSWORD"


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
    mark_attempts: int = 5  # tries to flag or move one message before leaving it as it is


def imap_settings(mail: Mail) -> ImapSettings:
    """ImapSettings for the configured mailbox; the password from $EXTRANET_IMAP_PASSWORD unless
    `token_command` gives OAuth2 tokens. Raises ExtranetError when neither is there."""
    imap = mail.imap
    if imap is None:
        raise ExtranetError("no [mail.imap] in extranet.toml")
    password = os.environ.get(PASSWORD_ENV, "")
    if not password and not imap.token_command:
        raise ExtranetError(f"set {PASSWORD_ENV} for the IMAP mailbox (never in a file of the site), "
                            "or [mail.imap] token_command for OAuth2 (docs/mail-setup.md)")
    return ImapSettings(host=imap.host, port=imap.port, security=imap.security, user=imap.user,
                        password=password, folder=imap.folder, move_to=imap.processed_folder or None,
                        max_size=mail.max_message_size, idle_reissue=float(imap.idle_seconds),
                        poll_interval=float(imap.poll_seconds), token_command=imap.token_command,
                        oauth2_mechanism=imap.oauth2_mechanism)


@dataclass(frozen=True)
class Checkpoint:
    """The last UID spooled, valid only for one UIDVALIDITY, and the spooled messages not yet
    marked on the server (UID -> failed attempts)."""

    uidvalidity: int
    last_uid: int
    unmarked: dict[int, int] = field(default_factory=dict)


def load_checkpoint(path: Path) -> Checkpoint | None:
    """Read a checkpoint file; None if absent or unreadable (then everything is re-scanned)."""
    try:
        data = json.loads(Path(path).read_text())
        unmarked = {int(uid): int(n) for uid, n in (data.get("unmarked") or {}).items()}
        return Checkpoint(int(data["uidvalidity"]), int(data["last_uid"]), unmarked)
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint atomically and durably."""
    atomic_write(Path(path), json.dumps(vars(checkpoint), sort_keys=True).encode(), mode=0o600)


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
        self._folders_checked = False

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
        self._folders_checked = False
        if client is not None:
            try:
                client.logout()
            except Exception:
                try:
                    client.shutdown()
                except Exception:
                    pass

    def ensure_folders(self, client: IMAPClient) -> None:
        """Check the folders the settings name and create those missing (logged)."""
        s = self.settings
        for folder in dict.fromkeys(f for f in (s.folder, s.move_to) if f):
            if not client.folder_exists(folder):
                log.warning("IMAP folder %r does not exist on %s: creating it", folder, s.host)
                client.create_folder(folder)
        self._folders_checked = True

    def poll_once(self) -> list[str]:
        """Spool every message newer than the checkpoint; return the new entry ids."""
        s = self.settings
        client = self.connect()
        if not self._folders_checked:
            self.ensure_folders(client)
        info = client.select_folder(s.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        checkpoint = load_checkpoint(self.checkpoint_path)
        if checkpoint is None or checkpoint.uidvalidity != uidvalidity:
            if checkpoint is not None:
                log.warning("UIDVALIDITY of %s changed: re-scanning the folder", s.folder)
            checkpoint = Checkpoint(uidvalidity, 0)
        if checkpoint.unmarked:
            checkpoint = self._mark_again(client, checkpoint)
        _forget_notifications(client)  # what the search below sees needs no wake-up
        # "n:*" always matches the highest UID, even when it is below n: filter.
        uids = sorted(u for u in client.search(["UID", f"{checkpoint.last_uid + 1}:*"]) if u > checkpoint.last_uid)
        spooled = []
        for uid in uids:
            entry_id = self._take(client, uid, uidvalidity)
            broken: BaseException | None = None
            unmarked = checkpoint.unmarked
            if entry_id is not None:
                spooled.append(entry_id)
                try:
                    self._mark(client, uid)
                except (IMAPClientError, OSError) as exc:
                    log.warning("could not mark UID %s in %s (%s): will try again", uid, s.folder, exc)
                    unmarked = {**unmarked, uid: 1}
                    self._folders_checked = False  # a folder may have gone
                    broken = exc if _connection_lost(exc) else None
            # stored once: the checkpoint moves past it, marked or not
            checkpoint = Checkpoint(uidvalidity, uid, unmarked)
            save_checkpoint(self.checkpoint_path, checkpoint)
            if entry_id is not None:
                self.on_accepted(entry_id)
            if broken is not None:
                raise broken
        return spooled

    def _take(self, client: IMAPClient, uid: int, uidvalidity: int) -> str | None:
        """Spool one message (only its header when it is too large); None if it is gone."""
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
        return self.spool.accept(bytes(fetched[uid][key]), meta)

    def _mark(self, client: IMAPClient, uid: int) -> None:
        """Tell the server the message is ours (only once it is on disk): flag or move it."""
        s = self.settings
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

    def _mark_again(self, client: IMAPClient, checkpoint: Checkpoint) -> Checkpoint:
        """Try again to mark the spooled messages that could not be; give up after
        ``mark_attempts`` tries (the message stays unmarked on the server, stored once)."""
        s = self.settings
        left: dict[int, int] = {}
        for uid, attempts in sorted(checkpoint.unmarked.items()):
            try:
                self._mark(client, uid)
                continue
            except IMAPClientError as exc:
                if isinstance(exc, IMAPClientAbortError):
                    raise
                if attempts + 1 >= s.mark_attempts:
                    log.error("UID %s in %s: could not flag or move it after %d tries (%s); it stays "
                              "as it is (already stored)", uid, s.folder, attempts + 1, exc)
                    continue
                left[uid] = attempts + 1
                self._folders_checked = False
        checkpoint = replace(checkpoint, unmarked=left)
        save_checkpoint(self.checkpoint_path, checkpoint)
        return checkpoint

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


def _connection_lost(exc: BaseException) -> bool:
    """A failure of the connection (reconnect), not the server refusing one command."""
    return isinstance(exc, (OSError, IMAPClientAbortError)) or not isinstance(exc, IMAPClientError)


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
