"""IMAP transport against a real Dovecot: fetch, spool, then flag, checkpoint, IDLE, reconnect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from conftest import GatewayEnv, reply_message
from dovecot import Dovecot, start_dovecot, stop_dovecot
from extranet.mail.inbound.imap import Checkpoint, ImapSettings, ImapSource, load_checkpoint, save_checkpoint
from extranet.mail.inbound.outcomes import Duplicate, Posted, Refused
from extranet.mail.inbound.spool import Spool


def settings(server: Dovecot, **overrides: Any) -> ImapSettings:
    values: dict[str, Any] = dict(host=server.host, port=server.port, user=server.user,
                                  password=server.password, security="none")
    values.update(overrides)
    return ImapSettings(**values)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[IMAPClient]:
    """A second, independent connection: the world delivering mail and looking at flags."""
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    client.login(dovecot.user, dovecot.password)
    client.select_folder("INBOX")
    yield client
    client.logout()


def flags(mailbox: IMAPClient) -> dict[int, tuple[bytes, ...]]:
    uids = mailbox.search("ALL")
    return {uid: data[b"FLAGS"] for uid, data in mailbox.fetch(uids, ["FLAGS"]).items()} if uids else {}


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class WatchedSpool(Spool):
    """A spool that records the message's server flags at the moment it is stored."""

    def __init__(self, root: Path, mailbox: IMAPClient) -> None:
        super().__init__(root)
        self.mailbox = mailbox
        self.flags_at_accept: list[tuple[bytes, ...]] = []

    def accept(self, raw: bytes, meta: dict) -> str:
        self.flags_at_accept.append(flags(self.mailbox)[meta["uid"]])
        return super().accept(raw, meta)


def test_messages_are_spooled_then_flagged_then_never_fetched_again(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path
) -> None:
    for n in range(3):
        mailbox.append("INBOX", reply_message(message_id=f"<imap{n}@acme.example>"))
    spool = WatchedSpool(gateway_env.spool.root, mailbox)
    source = ImapSource(settings(dovecot), spool, tmp_path / "imap.json")
    try:
        spooled = source.poll_once()
        assert len(spooled) == 3 and sorted(spooled) == spool.entries("new")
        assert all(b"\\Seen" not in f for f in spool.flags_at_accept)  # flagged only after spooling
        assert all(b"\\Seen" in f for f in flags(mailbox).values())
        assert load_checkpoint(tmp_path / "imap.json").last_uid == 3
        assert source.poll_once() == []
    finally:
        source.close()
    entry = spool.read(spooled[0], "new")
    assert entry.meta["transport"] == "imap" and entry.meta["uid"] == 1
    assert all(isinstance(o, Posted) for o in gateway_env.gateway.process_pending())
    assert len(gateway_env.posts()) == 3


def test_redelivered_message_is_not_posted_twice(dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv,
                                                 tmp_path: Path) -> None:
    raw = reply_message(message_id="<again@acme.example>")
    source = ImapSource(settings(dovecot), gateway_env.spool, tmp_path / "imap.json")
    try:
        mailbox.append("INBOX", raw)
        source.poll_once()
        mailbox.append("INBOX", raw)  # the same message delivered a second time
        source.poll_once()
        # Lost checkpoint with a new UIDVALIDITY: everything is fetched again.
        save_checkpoint(tmp_path / "imap.json", Checkpoint(uidvalidity=1, last_uid=99))
        assert len(source.poll_once()) == 2
    finally:
        source.close()
    outcomes = gateway_env.gateway.process_pending()
    assert [type(o) for o in outcomes] == [Posted, Duplicate, Duplicate, Duplicate]
    assert len(gateway_env.posts()) == 1 and gateway_env.writer.calls == 1


def test_move_to_folder_and_custom_flag(dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv,
                                        tmp_path: Path) -> None:
    mailbox.create_folder("Processed")
    mailbox.append("INBOX", reply_message())
    source = ImapSource(settings(dovecot, move_to="Processed"), gateway_env.spool, tmp_path / "a.json")
    try:
        assert len(source.poll_once()) == 1
    finally:
        source.close()
    assert flags(mailbox) == {}
    assert mailbox.folder_status("Processed", ["MESSAGES"])[b"MESSAGES"] == 1
    mailbox.append("INBOX", reply_message())
    source = ImapSource(settings(dovecot, processed_flag="$Extranet"), gateway_env.spool, tmp_path / "b.json")
    try:
        assert len(source.poll_once()) == 1
    finally:
        source.close()
    assert [b"$Extranet" in f for f in flags(mailbox).values()] == [True]


def test_oversized_message_is_refused_from_its_header(dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv,
                                                      tmp_path: Path) -> None:
    mailbox.append("INBOX", reply_message(body=("x" * 70 + "\n") * 5000))
    source = ImapSource(settings(dovecot, max_size=100_000), gateway_env.spool, tmp_path / "imap.json")
    try:
        [entry_id] = source.poll_once()
    finally:
        source.close()
    entry = gateway_env.spool.read(entry_id, "new")
    assert entry.meta["oversize"] > 100_000 and len(entry.raw) < 2000
    assert gateway_env.gateway.process_pending() == [Refused("oversize", True, noticed=True)]
    assert len(gateway_env.sent) == 1 and gateway_env.sent[0]["To"] == "jean.dupont@acme.example"


def test_idle_wakes_up_on_new_mail_and_survives_a_dropped_connection(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path
) -> None:
    arrivals: list[float] = []
    source = ImapSource(
        # No polling and no re-issue within the test: only an IDLE notification can wake it.
        settings(dovecot, idle_reissue=600, idle_tick=0.2, poll_interval=3600, backoff_initial=0.2),
        gateway_env.spool, tmp_path / "imap.json", on_accepted=lambda entry_id: arrivals.append(time.monotonic()),
    )
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    try:
        time.sleep(1.0)  # the first poll is done, the client waits in IDLE
        sent_at = time.monotonic()
        mailbox.append("INBOX", reply_message())
        assert wait_for(lambda: len(arrivals) == 1), "IDLE did not report the new message"
        assert arrivals[0] - sent_at < 3.0
        source._client.shutdown()  # the network drops the connection
        time.sleep(0.5)
        mailbox.append("INBOX", reply_message())
        assert wait_for(lambda: len(arrivals) == 2), "no reconnection after the connection dropped"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(gateway_env.spool.entries("new")) == 2


def test_idle_is_reissued(dovecot: Dovecot, gateway_env: GatewayEnv, tmp_path: Path) -> None:
    class Counting(ImapSource):
        polls = 0

        def poll_once(self) -> list[str]:
            Counting.polls += 1
            return super().poll_once()

    source = Counting(settings(dovecot, idle_reissue=0.4, idle_tick=0.1, poll_interval=3600),
                      gateway_env.spool, tmp_path / "imap.json")
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    time.sleep(1.5)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert 3 <= Counting.polls <= 5  # one IDLE per 0.4 s, each followed by a poll


def test_mail_arriving_just_before_idle_is_not_missed(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path
) -> None:
    class Racing(ImapSource):
        polls = 0

        def poll_once(self) -> list[str]:
            spooled = super().poll_once()
            Racing.polls += 1
            if Racing.polls == 1:  # new mail between our search and our IDLE
                mailbox.append("INBOX", reply_message())
                time.sleep(0.2)  # let the server's notification reach our connection
            return spooled

    source = Racing(settings(dovecot, idle_reissue=600, idle_tick=0.1, poll_interval=3600),
                    gateway_env.spool, tmp_path / "imap.json")
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    try:
        assert wait_for(lambda: len(gateway_env.spool.entries("new")) == 1, timeout=5), "missed mail that came before IDLE"
    finally:
        stop.set()
        thread.join(10)


def test_server_without_idle_or_move(gateway_env: GatewayEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Polling replaces IDLE; copy + delete + expunge replaces MOVE."""
    server, proc = start_dovecot("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n")
    try:
        with IMAPClient(server.host, port=server.port, ssl=False) as mailbox:
            mailbox.login(server.user, server.password)
            mailbox.create_folder("Processed")
        source = ImapSource(settings(server, poll_interval=0.3, idle_tick=0.1, move_to="Processed"),
                            gateway_env.spool, tmp_path / "imap.json")
        stop = threading.Event()
        thread = threading.Thread(target=source.run, args=(stop,))
        thread.start()
        try:
            time.sleep(0.5)
            with IMAPClient(server.host, port=server.port, ssl=False) as mailbox:
                mailbox.login(server.user, server.password)
                assert not mailbox.has_capability("IDLE") and not mailbox.has_capability("MOVE")
                mailbox.append("INBOX", reply_message())
                assert wait_for(lambda: len(gateway_env.spool.entries("new")) == 1, timeout=5)
                assert wait_for(lambda: mailbox.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"] == 0)
                assert mailbox.folder_status("Processed", ["MESSAGES"])[b"MESSAGES"] == 1
        finally:
            stop.set()
            thread.join(10)
    finally:
        stop_dovecot(proc, server.root)
    assert not [r for r in caplog.records if r.levelname == "WARNING"], "fell into the error/reconnect path"


# -- a mailbox that keeps flowing (issue 17) -------------------------------------------------------


def test_a_missing_processed_folder_is_created_and_every_message_flows(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path
) -> None:
    for n in range(50):
        mailbox.append("INBOX", reply_message(message_id=f"<flow{n}@acme.example>"))
    assert not mailbox.folder_exists("Processed")
    source = ImapSource(settings(dovecot, move_to="Processed"), gateway_env.spool, tmp_path / "imap.json")
    try:
        assert len(source.poll_once()) == 50
    finally:
        source.close()
    assert mailbox.folder_status("Processed", ["MESSAGES"])[b"MESSAGES"] == 50
    mailbox.noop()
    assert mailbox.search("ALL") == []
    assert len(gateway_env.spool.entries("new")) == 50


def test_a_folder_gone_while_running_never_stores_a_message_twice(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path
) -> None:
    source = ImapSource(settings(dovecot, move_to="Processed"), gateway_env.spool, tmp_path / "imap.json")
    try:
        source.poll_once()  # checks the folders: creates Processed
        mailbox.delete_folder("Processed")  # someone tidies the mailbox
        for n in range(5):
            mailbox.append("INBOX", reply_message(message_id=f"<gone{n}@acme.example>"))
        assert len(source.poll_once()) == 5  # every move fails; nothing stops
        checkpoint = load_checkpoint(tmp_path / "imap.json")
        assert checkpoint.last_uid == 5 and sorted(checkpoint.unmarked) == [1, 2, 3, 4, 5]
        assert source.poll_once() == []  # the folder is created again, the five are moved
    finally:
        source.close()
    assert load_checkpoint(tmp_path / "imap.json").unmarked == {}
    assert mailbox.folder_status("Processed", ["MESSAGES"])[b"MESSAGES"] == 5
    assert len(gateway_env.spool.entries("new")) == 5  # each stored once
    assert [type(o) for o in gateway_env.gateway.process_pending()] == [Posted] * 5


def test_a_message_that_cannot_be_flagged_is_retried_a_few_times_then_left(
    dovecot: Dovecot, mailbox: IMAPClient, gateway_env: GatewayEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(3):
        mailbox.append("INBOX", reply_message(message_id=f"<flag{n}@acme.example>"))
    # the server refuses this flag for every message: STORE fails, message by message
    source = ImapSource(settings(dovecot, processed_flag="\\Bogus", mark_attempts=3), gateway_env.spool,
                        tmp_path / "imap.json")
    try:
        assert len(source.poll_once()) == 3
        for _ in range(3):
            assert source.poll_once() == []
    finally:
        source.close()
    assert load_checkpoint(tmp_path / "imap.json") == Checkpoint(load_checkpoint(tmp_path / "imap.json").uidvalidity, 3)
    assert len(gateway_env.spool.entries("new")) == 3  # stored once each, however often marking failed
    assert sum("after 3 tries" in r.getMessage() for r in caplog.records) == 3
