"""A durable, Maildir-style spool for inbound mail, and the index of processed messages.

Layout under the spool root (e.g. ``.extranet/spool/``)::

    tmp/        being written by ``accept``; never read by anyone else
    new/        durably accepted, waiting to be processed
    cur/        claimed by a processor; after a crash, the entries to resume
    done/       processed (posted, or a duplicate of a processed message)
    rejected/   refused or dropped
    processed.jsonl   one line per finished entry: id, Message-ID, content digest, outcome
    lock        flock: one processor at a time across processes

A message's identity is its Message-ID together with a digest of its content (``InboundMessage.content``):
copies of one message are duplicates, a Message-ID reused for other content is a new message.
Only posted and deliberately dropped messages count as processed: a refused message never
makes a later one a duplicate.

An entry file is one line of JSON metadata followed by the raw message bytes. The
protocol that makes "nothing lost, nothing posted twice" hold is described in
``docs/gateway.md``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...output import fsync_dir
from .message import InboundMessage

log = logging.getLogger(__name__)

Folder = Literal["tmp", "new", "cur", "done", "rejected"]
FOLDERS: tuple[Folder, ...] = ("tmp", "new", "cur", "done", "rejected")
INDEX_NAME = "processed.jsonl"
TMP_MAX_AGE = 36 * 3600  # Maildir convention: older tmp files are abandoned writes
PROCESSED = ("posted", "dropped")  # the outcomes that make a later copy a duplicate


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled message: its raw bytes, transport metadata and identity keys."""

    entry_id: str
    folder: Folder
    raw: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def message(self) -> InboundMessage:
        """The message, parsed once for the checks, the duplicate test and the handler."""
        return InboundMessage(self.raw)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the raw message (the key for messages without Message-ID)."""
        return self.message.sha256

    @property
    def message_id(self) -> str | None:
        """The message's Message-ID, if it has one."""
        return self.message.message_id

    @property
    def content(self) -> str:
        """The digest of the message's content (``InboundMessage.content``)."""
        return self.message.content


class Spool:
    """The spool directory: durable acceptance, claiming, finishing, and the processed index."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        for name in FOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._index_path = self.root / INDEX_NAME
        self._index_offset = 0
        self._by_key: dict[str, dict[str, Any]] = {}
        self._by_mid: dict[str, dict[str, Any]] = {}
        self._by_entry: dict[str, dict[str, Any]] = {}

    # -- acceptance (any transport, any thread, no lock needed) ------------------------

    def accept(self, raw: bytes, meta: Mapping[str, Any]) -> str:
        """Store a message durably and return its entry id.

        Written to ``tmp/``, fsynced, renamed into ``new/``, and the directory fsynced:
        when this returns, the message survives a crash or power loss, so only now may
        the transport acknowledge it (SMTP 250, IMAP flag, exit code 0).
        """
        entry_id = f"{time.time_ns():020d}.{os.getpid()}.{secrets.token_hex(4)}"
        header = json.dumps({"v": 1, **meta}, sort_keys=True, default=str).encode()
        tmp = self.root / "tmp" / entry_id
        with open(tmp, "xb") as handle:
            handle.write(header.replace(b"\n", b" ") + b"\n" + raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.root / "new" / entry_id)
        fsync_dir(self.root / "new")
        return entry_id

    # -- listing and reading ------------------------------------------------------------

    def entries(self, folder: Folder) -> list[str]:
        """Entry ids in a folder, oldest first."""
        return sorted(p.name for p in (self.root / folder).iterdir() if not p.name.startswith("."))

    def read(self, entry_id: str, folder: Folder) -> SpoolEntry:
        """Load one entry from a folder."""
        data = (self.root / folder / entry_id).read_bytes()
        header, _, raw = data.partition(b"\n")
        return SpoolEntry(entry_id=entry_id, folder=folder, raw=raw, meta=json.loads(header))

    # -- processing (callers hold ``lock()``) ---------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the processing lock (across threads and processes) and refresh the index."""
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._refresh_index()
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def claim(self, entry_id: str) -> SpoolEntry | None:
        """Move an entry from ``new/`` to ``cur/``; None if it is gone already."""
        try:
            os.rename(self.root / "new" / entry_id, self.root / "cur" / entry_id)
        except FileNotFoundError:
            return None
        fsync_dir(self.root / "cur")
        return self.read(entry_id, "cur")

    def release(self, entry: SpoolEntry) -> None:
        """Put a claimed entry back into ``new/`` (temporary failure: retry later)."""
        os.rename(self.root / "cur" / entry.entry_id, self.root / "new" / entry.entry_id)
        fsync_dir(self.root / "new")

    def record_of(self, entry_id: str) -> dict[str, Any] | None:
        """The index record of an entry already finished (its move may not have happened)."""
        return self._by_entry.get(entry_id)

    def seen(self, entry: SpoolEntry) -> dict[str, Any] | None:
        """The index record of an earlier copy of this message (same Message-ID and content)
        that was posted or deliberately dropped; None for a message to process.

        A Message-ID already processed with other content is a new message, and logged."""
        for key in _keys(entry):
            record = self._by_key.get(key)
            if record is not None and record["id"] != entry.entry_id:
                return record
        earlier = self._by_mid.get(entry.message_id or "")
        if earlier is not None and earlier["id"] != entry.entry_id:
            log.warning("Message-ID <%s> of %s was processed before (%s) with different content: "
                        "a new message", entry.message_id, entry.entry_id, earlier["id"])
        return None

    def finish(self, entry: SpoolEntry, folder: Folder, outcome: Mapping[str, Any]) -> None:
        """Record the entry as processed (fsynced), then move it from ``cur/`` to ``folder``.

        The record comes first: after a crash between the two steps, the entry found in
        ``cur/`` already has a record and is simply moved, never processed again.
        """
        record = {
            "id": entry.entry_id,
            "message_id": entry.message_id,
            "sha256": entry.sha256,
            "content": entry.content,
            "folder": folder,
            "at": round(time.time(), 3),
            **outcome,
        }
        line = json.dumps(record, sort_keys=True, default=str).encode() + b"\n"
        with open(self._index_path, "ab") as handle:
            if handle.tell() > 0 and not self._ends_with_newline():
                line = b"\n" + line  # a crash cut the previous line short
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._remember(record)
        self._index_offset = self._index_path.stat().st_size
        self.move(entry.entry_id, "cur", folder)

    def index_size(self) -> int:
        """The size of the processed index now: where a reader starting from now begins."""
        try:
            return self._index_path.stat().st_size
        except FileNotFoundError:
            return 0

    def records_from(self, offset: int) -> list[tuple[dict[str, Any], int]]:
        """The finished records written at ``offset`` and after, each with the offset just past
        its line (where a reader that handled it goes on); a torn last line is not one yet."""
        try:
            with open(self._index_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        out: list[tuple[dict[str, Any], int]] = []
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            try:
                record = json.loads(line)
            except ValueError:
                record = None  # the cut half of a line written during a crash
            if isinstance(record, dict):
                out.append((record, offset))
        return out

    def move(self, entry_id: str, source: Folder, target: Folder) -> None:
        """Rename an entry between folders, durably."""
        os.rename(self.root / source / entry_id, self.root / target / entry_id)
        fsync_dir(self.root / target)

    def clean_tmp(self, max_age: float = TMP_MAX_AGE) -> int:
        """Delete abandoned partial writes (never acknowledged, so the sender retries)."""
        removed = 0
        limit = time.time() - max_age
        for path in (self.root / "tmp").iterdir():
            try:
                old = path.stat().st_mtime < limit
            except FileNotFoundError:
                continue  # (a delivery finished meanwhile: moved to new/)
            if old:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- index ------------------------------------------------------------------------------

    def _refresh_index(self) -> None:
        try:
            with open(self._index_path, "rb") as handle:
                handle.seek(self._index_offset)
                data = handle.read()
        except FileNotFoundError:
            return
        consumed = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a partial last line, cut by a crash: not a record
            consumed += len(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self._remember(record)
        self._index_offset += consumed

    def _remember(self, record: dict[str, Any]) -> None:
        self._by_entry[record["id"]] = record
        if record.get("outcome") not in PROCESSED:
            return  # refused, or a duplicate of a record already remembered
        for key in _record_keys(record):
            self._by_key.setdefault(key, record)
        if record.get("message_id"):
            self._by_mid.setdefault(record["message_id"], record)

    def _ends_with_newline(self) -> bool:
        with open(self._index_path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"


def _keys(entry: SpoolEntry) -> list[str]:
    keys = [f"{entry.message_id or ''} {entry.content}"]
    if entry.message_id:
        keys.append(f"mid:{entry.message_id}")  # records written before content digests
    return keys + [f"sha256:{entry.sha256}"]


def _record_keys(record: Mapping[str, Any]) -> list[str]:
    if record.get("content"):
        return [f"{record.get('message_id') or ''} {record['content']}"]
    # a record of an older version, without a content digest: its Message-ID, else its bytes
    return [f"mid:{record['message_id']}"] if record.get("message_id") else [f"sha256:{record['sha256']}"]
