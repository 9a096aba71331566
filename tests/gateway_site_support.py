"""A small site ready for the gateway: notified once, so that its outbox holds notifications to
answer; and the helpers of the tests that answer them."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from helpers import copy_site, write

NEW_POST = """---
title: Delivery schedule
author: alice
visibility: mixed
---
The beams arrive on Tuesday.
"""


def cli(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run an `extranet` command on the site."""
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args], input=stdin,
                          capture_output=True, timeout=120)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The small site, its new post notified (the outbox holds the notifications)."""
    root = copy_site("small", tmp_path)
    assert cli(root, "notify").returncode == 0  # first run: existing posts count as announced
    write(root / "content/projects/alpha/posts/2026-01-09-delivery.md", NEW_POST)
    result = cli(root, "notify")
    assert result.returncode == 0, result.stderr
    return root


def notification(root: Path, to: str) -> bytes:
    """The notification of the new post mailed to `to`."""
    for f in sorted((root / ".extranet/outbox").glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        if to in str(msg["To"]) and "Delivery schedule" in str(msg["Subject"]):
            return f.read_bytes()
    raise AssertionError(f"no notification to {to}")


def posts(root: Path) -> list[Path]:
    """The posts that arrived by email."""
    return sorted((root / "content/projects/alpha/posts").glob("*-re-*.md"))


def spoof(raw: bytes, **headers: str) -> bytes:
    """`raw` with headers replaced (Message_ID for Message-ID)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for name, value in headers.items():
        del msg[name.replace("_", "-")]
        msg[name.replace("_", "-")] = value
    return bytes(msg)


def wait_until(condition, timeout: float = 20.0) -> None:
    """Wait for `condition()` to hold (fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def can_connect(port: int) -> bool:
    """Whether an SMTP server answers on `port`."""
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
        return True
    except OSError:
        return False
