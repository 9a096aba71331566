"""rsync as a deploy destination: over SSH (user@host:/path/) or to an rsync daemon (rsync://).

The plan decides what moves; rsync carries it, one run per batch with the exact list of
files (`--files-from`), so the order of the plan holds. rsync writes each file to a hidden
temporary name and renames it into place: a web server serves the old file or the new one.
Stale files are deleted by naming them with `--delete-missing-args` (they are missing from
the local zone). Credentials are rsync's and SSH's own: keys, ~/.ssh/config, ssh-agent,
$RSYNC_PASSWORD; rsync never prompts (BatchMode), it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .destination import Destination
from .files import LocalFile, hidden
from .plan import Remote
from .targets import PROBE, DeployError, Done

TIMEOUT = 60  # seconds without any I/O before rsync gives up (--timeout)
_LINE = re.compile(r"^(?P<mode>[-dlcbps][-rwxsStT]{9})\s+(?P<size>\d+)\s+\S+\s+\S+\s(?P<name>.+)$")
_ESCAPE = re.compile(r"\\#([0-7]{3})")


def _unescape(name: str) -> str:
    """rsync's listing writes unprintable bytes as \\#ooo."""
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)
    return raw.encode("latin-1", "surrogateescape").decode("utf-8", "surrogateescape")


class RsyncTarget:
    """Deploys with the rsync command (>= 3.1) to an SSH host or an rsync daemon."""

    def __init__(self, destination: Destination, source: str | None) -> None:
        if shutil.which("rsync") is None:
            raise DeployError("rsync is not installed (Debian: apt-get install rsync)")
        self.destination = destination
        self.url = destination.rsync_url
        self.source = source
        self.description = destination.text

    def _command(self, *args: str) -> list[str]:
        cmd = ["rsync", f"--timeout={TIMEOUT}"]
        if self.destination.kind == "ssh":
            port = f" -p {self.destination.port}" if self.destination.port else ""
            cmd += ["-e", f"ssh -o BatchMode=yes{port}"]
        return cmd + list(args)

    def _run(self, args: list[str], what: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(args, input=stdin, capture_output=True, env={**os.environ, "LC_ALL": "C"})
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeployError(f"{self.description}: {what} failed (rsync exit {result.returncode}): "
                              f"{detail[0] if detail else 'no message'}")
        return result

    def list(self) -> dict[str, Remote]:
        """Every visible file at the destination (none if its folder does not exist yet)."""
        args = self._command("--list-only", "-r", "--no-h", self.url)
        result = subprocess.run(args, capture_output=True, env={**os.environ, "LC_ALL": "C"})
        if result.returncode == 23 and b"No such file or directory" in result.stderr:
            return {}
        if result.returncode != 0:
            self._run(args, "listing")  # raises with the message
        out: dict[str, Remote] = {}
        for line in result.stdout.decode("utf-8", "surrogateescape").splitlines():
            m = _LINE.match(line)
            if not m or m["mode"][0] != "-":
                continue
            key = _unescape(m["name"])
            if not hidden(key):
                out[key] = Remote(int(m["size"]))
        return out

    def same(self, f: LocalFile, remote: Remote) -> bool:
        """Without a manifest entry: upload (rsync's delta transfer makes it cheap)."""
        return False

    def upload(self, files: Sequence[LocalFile], done: Done) -> None:
        """One rsync run for the batch, in its order; each file reported as rsync finishes it."""
        if not files:
            return
        if self.source is None:
            raise DeployError(f"{self.description}: no source folder")
        by_key = {f.key: f for f in files}
        listing = b"\0".join(f.key.encode("utf-8", "surrogateescape") for f in files) + b"\0"
        args = self._command("-t", "--ignore-times", "--chmod=D755,F644", "--files-from=-", "--from0",
                             "--out-format=%n", self.source.rstrip("/") + "/", self.url)
        result = self._run(args, "upload", stdin=listing)
        for name in result.stdout.decode("utf-8", "surrogateescape").splitlines():
            f = by_key.pop(name, None)
            if f is not None:
                done(f, None)
        for f in by_key.values():  # rsync succeeded: every named file is there
            done(f, None)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the named files with --delete-missing-args, from an empty tree of their
        folders (the folders must exist on the sending side, the files must not)."""
        if not keys:
            return
        with tempfile.TemporaryDirectory() as empty:
            self._delete_from(empty, keys)

    def _delete_from(self, empty: str, keys: Sequence[str]) -> None:
        for key in keys:
            if "/" in key:
                os.makedirs(os.path.join(empty, key.rsplit("/", 1)[0]), exist_ok=True)
        listing = b"\0".join(k.encode("utf-8", "surrogateescape") for k in keys) + b"\0"
        self._run(self._command("--delete-missing-args", "--files-from=-", "--from0", empty + "/", self.url),
                  "deleting", stdin=listing)

    def probe(self) -> None:
        """List, write and delete a hidden file: reachable and writable."""
        self.list()
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / PROBE).write_bytes(b"extranet doctor\n")
            self._run(self._command("-t", f"{tmp}/{PROBE}", self.url), "writing a test file")
            (Path(tmp) / PROBE).unlink()
            self._delete_from(tmp, [PROBE])
