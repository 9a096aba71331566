"""The sent log: what was announced, what waits for a digest, and the outgoing queue.

A small SQLite database in `.extranet/mail/notify.sqlite` (synchronous=FULL, so a commit
survives a crash). Every outgoing message is queued with its bytes and Message-ID in the
same transaction that marks its post as announced: planning is all or nothing. Sending then
moves each message `queued -> sending -> sent` (or `failed`), one commit per step, so a
run killed at any point resumes exactly where it stopped. An exclusive lock file keeps two
runs (a build and a cron digest, say) from sending the same queue at once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ...errors import ExtranetError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS announced (
    post TEXT NOT NULL, zone TEXT NOT NULL, at TEXT NOT NULL, how TEXT NOT NULL,
    PRIMARY KEY (post, zone));
CREATE TABLE IF NOT EXISTS digest (
    person TEXT NOT NULL, day TEXT NOT NULL, post TEXT NOT NULL, zone TEXT NOT NULL,
    PRIMARY KEY (person, post, zone));
CREATE TABLE IF NOT EXISTS outgoing (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL, person TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    label TEXT NOT NULL, raw BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',          -- queued | sending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0, next_try TEXT NOT NULL, first_try TEXT,
    last_error TEXT NOT NULL DEFAULT '', queued_at TEXT NOT NULL, done_at TEXT,
    UNIQUE (message_id, recipient));
"""


class LockedError(ExtranetError):
    """Another notify run holds the lock."""


@dataclass(frozen=True)
class Outgoing:
    """A message to queue: one recipient, its bytes, and a label for reports."""

    message_id: str
    person: str
    sender: str
    recipient: str
    label: str
    raw: bytes


@dataclass(frozen=True)
class Queued:
    """A queued message as stored (state 'sending' means a run stopped while sending it)."""

    id: int
    message_id: str
    person: str
    sender: str
    recipient: str
    label: str
    raw: bytes
    state: str
    attempts: int
    first_try: dt.datetime | None
    queued_at: dt.datetime


@dataclass(frozen=True)
class DigestItem:
    """A post waiting for a person's digest of `day`, in the zone of that person."""

    person: str
    day: dt.date
    post: str
    zone: str


def _iso(value: dt.datetime | dt.date) -> str:
    return value.isoformat()


class SentLog:
    """The notify state of one site; use `SentLog.open(state_dir)` to hold its lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    @classmethod
    @contextmanager
    def open(cls, state_dir: Path, wait: bool = True) -> Iterator["SentLog"]:
        """Open the log under an exclusive lock (waiting for another run unless `wait` is False)."""
        folder = state_dir / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "notify.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockedError("another 'extranet notify' is running") from None
            log = cls(folder / "notify.sqlite")
            try:
                yield log
            finally:
                log.db.close()
        finally:
            os.close(fd)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- planning -------------------------------------------------------------------------
    def created(self) -> dt.datetime | None:
        """When the log was started (None before the first run)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='created'").fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    def announced(self) -> set[tuple[str, str]]:
        """(post key, zone) pairs already announced (sent, queued, put in a digest, or baseline)."""
        return set(self.db.execute("SELECT post, zone FROM announced"))

    def record_plan(self, now: dt.datetime, announce: Iterable[tuple[str, str, str]],
                    outgoing: Iterable[Outgoing], digest: Iterable[DigestItem]) -> None:
        """In one transaction: mark (post, zone, how) announced, queue messages, add digest items."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (_iso(now),))
            db.executemany("INSERT OR IGNORE INTO announced VALUES (?, ?, ?, ?)",
                           [(post, zone, _iso(now), how) for post, zone, how in announce])
            self._queue(db, now, outgoing)
            db.executemany("INSERT OR IGNORE INTO digest VALUES (?, ?, ?, ?)",
                           [(d.person, _iso(d.day), d.post, d.zone) for d in digest])

    @staticmethod
    def _queue(db: sqlite3.Connection, now: dt.datetime, outgoing: Iterable[Outgoing]) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO outgoing (message_id, person, sender, recipient, label, raw, next_try, queued_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(o.message_id, o.person, o.sender, o.recipient, o.label, o.raw, _iso(now), _iso(now))
             for o in outgoing])

    def cursor(self, name: str) -> int | None:
        """A position kept in the log (how far a reader of another log got), None if never set."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (f"cursor:{name}",)).fetchone()
        return int(row[0]) if row else None

    def queue_from(self, now: dt.datetime, outgoing: Iterable[Outgoing], cursor: str, position: int) -> None:
        """In one transaction: queue messages and move the cursor past what they came from, so
        that a crash either queues them and moves on, or does neither (see outbound/confirmations.py)."""
        with self._tx() as db:
            self._queue(db, now, outgoing)
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"cursor:{cursor}", str(position)))

    def digest_items(self, before: dt.date) -> list[DigestItem]:
        """Digest items of days before `before`, by person, day and post."""
        rows = self.db.execute("SELECT person, day, post, zone FROM digest WHERE day < ? ORDER BY person, day, post",
                               (_iso(before),))
        return [DigestItem(p, dt.date.fromisoformat(d), post, z) for p, d, post, z in rows]

    def digest_waiting(self) -> int:
        """How many digest items wait."""
        return self.db.execute("SELECT count(*) FROM digest").fetchone()[0]

    def record_digests(self, now: dt.datetime, done: Iterable[DigestItem], outgoing: Iterable[Outgoing]) -> None:
        """In one transaction: queue the digest messages and drop the items they carry."""
        with self._tx() as db:
            db.executemany("DELETE FROM digest WHERE person=? AND post=? AND zone=?",
                           [(d.person, d.post, d.zone) for d in done])
            self._queue(db, now, outgoing)

    # -- sending --------------------------------------------------------------------------
    def due(self, now: dt.datetime) -> list[Queued]:
        """Messages to send now: queued (due) or interrupted while sending, oldest first."""
        rows = self.db.execute(
            "SELECT id, message_id, person, sender, recipient, label, raw, state, attempts, first_try, queued_at"
            " FROM outgoing WHERE state IN ('queued', 'sending') AND next_try <= ? ORDER BY id", (_iso(now),))
        return [Queued(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                       dt.datetime.fromisoformat(r[9]) if r[9] else None, dt.datetime.fromisoformat(r[10]))
                for r in rows]

    def mark_sending(self, item: Queued, now: dt.datetime) -> None:
        """Intent: this message is about to be handed to the relay (committed before sending)."""
        self.db.execute("UPDATE outgoing SET state='sending', attempts=attempts+1, first_try=coalesce(first_try, ?)"
                        " WHERE id=?", (_iso(now), item.id))

    def mark_sent(self, item: Queued, now: dt.datetime) -> None:
        """The relay accepted the message (SMTP 250) or the outbox file is in place."""
        self.db.execute("UPDATE outgoing SET state='sent', done_at=?, last_error='' WHERE id=?", (_iso(now), item.id))

    def mark_deferred(self, item: Queued, error: str, next_try: dt.datetime) -> None:
        """A temporary failure: try again at `next_try`."""
        self.db.execute("UPDATE outgoing SET state='queued', last_error=?, next_try=? WHERE id=?",
                        (error, _iso(next_try), item.id))

    def mark_failed(self, item: Queued, error: str, now: dt.datetime) -> None:
        """A permanent failure: never tried again."""
        self.db.execute("UPDATE outgoing SET state='failed', last_error=?, done_at=? WHERE id=?",
                        (error, _iso(now), item.id))

    def counts(self) -> dict[str, int]:
        """Number of messages per state."""
        return dict(self.db.execute("SELECT state, count(*) FROM outgoing GROUP BY state"))
