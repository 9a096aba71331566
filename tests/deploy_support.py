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
    conf_dir: Path


@dataclass(frozen=True)
class S3Server:
    """A running moto server: its endpoint URL."""

    endpoint: str
    proc: subprocess.Popen
    log: Path


def _wait(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
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
    log = conf_dir / "stderr.log"
    with open(log, "wb") as err:  # a file, never a pipe nobody reads: a full pipe blocks the server
        proc = subprocess.Popen([binary, "--daemon", "--no-detach", f"--config={conf}", "--address=127.0.0.1",
                                 f"--port={port}"], stdout=subprocess.DEVNULL, stderr=err)
    _wait(port, proc, "rsync --daemon", log)
    return Rsyncd(f"rsync://127.0.0.1:{port}/site/", folder, proc, conf_dir)


def stop_rsyncd(server: Rsyncd) -> None:
    """Stop the daemon and remove its config."""
    stop_process(server.proc)
    shutil.rmtree(server.conf_dir, ignore_errors=True)


def start_s3() -> S3Server:
    """moto's S3 server in its own process on 127.0.0.1."""
    try:
        import moto.server  # noqa: F401  (its presence is the test's requirement)
    except ImportError:
        pytest.fail("moto[server] is not installed: the S3 tests need it (pip install -e '.[test]')")
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="extranet-moto-")) / "stderr.log"
    with open(log, "wb") as err:  # moto logs every request: a pipe nobody reads would fill and block it
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **S3_ENV})
    _wait(port, proc, "moto server", log)
    endpoint = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(endpoint + "/moto-api/reset", data=b"", timeout=10).close()
    return S3Server(endpoint, proc, log)


def stop_s3(server: S3Server) -> None:
    """Stop the server and remove its log."""
    stop_process(server.proc)
    shutil.rmtree(server.log.parent, ignore_errors=True)


# -- a built example site ----------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltSite:
    """A copy of the example site, built, with the passwords of the people given one."""

    root: Path
    passwords: dict[str, str]


def example_site(tmp: Path, people: tuple[str, ...] = ("cdurand", "blemoine", "hmorel")) -> BuiltSite:
    """Copy the packaged example site into `tmp`, give `people` a password, build it."""
    from extranet.build import build
    from extranet.cli import EXAMPLE
    from extranet.people import reset

    root = tmp / "site"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".extranet", "public", "__pycache__"))
    passwords = {pid: reset(root, pid) for pid in people}
    build(root)
    return BuiltSite(root, passwords)


def set_deploy(root: Path, deploy: dict[str, object], s3: dict[str, str] | None = None) -> None:
    """Append [deploy] (and [deploy.s3]) to the site's extranet.toml."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = "\n[deploy]\n" + "".join(f"{k} = {value(v)}\n" for k, v in deploy.items())
    if s3:
        text += "[deploy.s3]\n" + "".join(f"{k} = {value(v)}\n" for k, v in s3.items())
    with open(root / "extranet.toml", "a", encoding="utf-8") as f:
        f.write(text)


def visible_tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` except hidden names, by relative POSIX path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def edit_post(root: Path, rel: str, old: str, new: str) -> None:
    """Replace a sentence in a content file and rebuild."""
    from extranet.build import build

    path = root / "content" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    build(root)
