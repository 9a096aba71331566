"""Throwaway deploy destinations on loopback: an rsync daemon and an S3 server (moto).

Each lives in a fresh directory with its own config, listens on 127.0.0.1 only, and is
stopped with its process. A missing rsync or moto is a test failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from dovecot import free_port, stop_process

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class Rsyncd:
    """A running rsync daemon: module `site` is `folder`, reachable at `url`."""

    url: str
    folder: Path
    proc: subprocess.Popen


@dataclass(frozen=True)
class S3Server:
    """A running moto server: its endpoint URL."""

    endpoint: str
    proc: subprocess.Popen


def _wait(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"{what} exited with {proc.returncode}: {err[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{what} did not listen on 127.0.0.1:{port}")


def start_rsyncd(folder: Path) -> Rsyncd:
    """An rsync daemon on 127.0.0.1 serving `folder` as the writable module `site`."""
    binary = shutil.which("rsync")
    if not binary:
        pytest.fail("rsync is not installed: the deploy tests need it (apt-get install rsync)")
    conf_dir = Path(tempfile.mkdtemp(prefix="extranet-rsyncd-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = conf_dir / "rsyncd.conf"
    conf.write_text(
        f"pid file = {conf_dir}/rsyncd.pid\nlock file = {conf_dir}/rsyncd.lock\nlog file = {conf_dir}/rsyncd.log\n"
        f"use chroot = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n"
        f"[site]\n    path = {folder}\n    read only = no\n    hosts allow = 127.0.0.1\n")
    proc = subprocess.Popen([binary, "--daemon", "--no-detach", f"--config={conf}", "--address=127.0.0.1",
                             f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait(port, proc, "rsync --daemon")
    return Rsyncd(f"rsync://127.0.0.1:{port}/site/", folder, proc)


def stop_rsyncd(server: Rsyncd) -> None:
    """Stop the daemon."""
    stop_process(server.proc)


def start_s3() -> S3Server:
    """moto's S3 server in its own process on 127.0.0.1."""
    try:
        import moto.server  # noqa: F401  (its presence is the test's requirement)
    except ImportError:
        pytest.fail("moto[server] is not installed: the S3 tests need it (pip install -e '.[test]')")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **S3_ENV})
    _wait(port, proc, "moto server")
    endpoint = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(endpoint + "/moto-api/reset", data=b"", timeout=10).close()
    return S3Server(endpoint, proc)


def stop_s3(server: S3Server) -> None:
    """Stop the server."""
    stop_process(server.proc)
