"""Sending: outbox files, relay failures (4xx retried, 5xx not), and a crash in the middle."""

from __future__ import annotations

import collections
import datetime as dt
import email
import os
import signal
import subprocess
import sys
import time
from email import policy

from notify_support import (NOW, REPO, Collector, add_new_posts, free_port, make_site, notify, post,
                                 smtp_server)


def test_outbox_without_relay(tmp_path):
    root = make_site(tmp_path / "site")
    notify(root)
    add_new_posts(root)
    report = notify(root)
    outbox = root / ".extranet/outbox"
    files = sorted(outbox.iterdir())
    assert report.sent == 3 and len(files) == 3
    assert all(f.suffix == ".eml" for f in files)
    messages = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "alice@small.example", "carl@acme.example", "eve@bolt.example"]
    assert "outbox" in report.summary()
    assert notify(root).sent == 0 and len(list(outbox.iterdir())) == 3


def test_temporary_failure_is_retried(tmp_path):
    handler = Collector(replies=["451 4.3.0 busy, try later"])
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        post(root, "alpha", "2026-03-10-a", "title: A\nauthor: alice\nvisibility: mixed", "a\n")
        report = notify(root)
    assert report.sent == 1 and report.deferred == ()
    assert handler.started == 2 and len(handler.to("carl@acme.example")) == 1


def test_permanent_failure_is_reported_and_not_retried(tmp_path):
    handler = Collector(replies=["550 5.1.1 no such user"])
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        post(root, "alpha", "2026-03-10-a", "title: A\nauthor: alice\nvisibility: mixed", "a\n")
        report = notify(root)
        assert report.sent == 0 and len(report.failed) == 1
        assert "carl@acme.example" in report.failed[0] and "550" in report.failed[0]
        later = notify(root, now=NOW + dt.timedelta(hours=2))
    assert later.sent == 0 and later.failed == ()
    assert handler.started == 1 and handler.messages == []


def test_relay_down_then_up(tmp_path):
    port = free_port()
    root = make_site(tmp_path / "site", port=port)
    notify(root)
    post(root, "alpha", "2026-03-10-a", "title: A\nauthor: bob\nvisibility: mixed", "a\n")
    report = notify(root)  # nobody listens on the port
    assert report.sent == 0 and len(report.deferred) == 1
    assert "connection refused" in report.deferred[0] and report.waiting == 1
    assert "deferred" in report.summary()
    handler = Collector()
    with smtp_server(handler, port=port):
        soon = notify(root, now=NOW + dt.timedelta(minutes=1))
        assert soon.sent == 1  # the one never tried is due; the refused one waits (backoff)
        later = notify(root, now=NOW + dt.timedelta(minutes=30))
    assert later.sent == 1
    assert sorted(r for r, _ in handler.messages) == ["alice@small.example", "carl@acme.example"]


def test_killed_in_the_middle_then_resumed_delivers_each_message_once(tmp_path):
    """SIGKILL the sending process while the (slow) server handles the 4th message, run again."""
    handler = Collector(delay=0.3)
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        for n in range(1, 7):
            post(root, "alpha", f"2026-03-10-n{n}", f"title: Note {n}\nauthor: bob\nvisibility: mixed", f"n{n}\n")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "extranet", "-C", str(root), "notify", "--all"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while handler.started < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        before = len(handler.messages)
        assert before == 3  # killed while the server handled the 4th of 13 planned messages
        handler.delay = 0.0
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "resumed" in done.stdout
    counts = collections.Counter((rcpt, msg["Message-ID"]) for rcpt, msg in handler.messages)
    assert len(counts) == 13  # kickoff to carl (alice wrote it), 6 notes to alice and carl
    assert set(counts.values()) == {1}, counts
