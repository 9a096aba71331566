"""Deploying after the gateway's rebuilds: `[deploy] after_build = true`.

In `extranet gateway` the deploys run in a thread of their own, so that a slow or absent
destination never holds up the mail; a failed deploy is tried again later (30 s, 2 min,
10 min, then every 30 min) and, when it keeps failing, staff are told once, and again when
it works again. A deploy only reads the built output: whatever happens to it, the posts are
in content/ and the next deploy publishes them. In `extranet ingest` (one message, then the
process ends) the deploy is tried once, after the message is settled. The last outcome is
kept in .extranet/deploy/status.json for `extranet doctor`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..output import atomic_write
from ..reports import tell
from .run import Report, deploy

log = logging.getLogger("extranet")
DELAYS = (30.0, 120.0, 600.0, 1800.0)
REPORT_AFTER = 3  # failures in a row before staff are told


def status_path(root: Path) -> Path:
    """Where the last deploy's outcome is kept."""
    return root / ".extranet" / "deploy" / "status.json"


class Publisher:
    """Runs `deploy` after rebuilds, with retries; `request` after each rebuild."""

    def __init__(self, root: Path, report_to: tuple[str, ...] = (), *, delays: tuple[float, ...] = DELAYS,
                 run: Callable[[Path], Report] = deploy) -> None:
        self.root = root
        self.report_to = report_to
        self.delays = delays
        self.run = run
        self.failures = 0
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Deploy what the last rebuild wrote: soon in the thread if it runs, else now, once."""
        if self._thread is not None:
            self._wanted.set()
        else:
            self.attempt()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Deploy in a thread until `stop` is set."""
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="deploy", daemon=True)
        self._thread.start()
        return self._thread

    def _loop(self, stop: threading.Event) -> None:
        waker = threading.Thread(target=lambda: (stop.wait(), self._wanted.set()), daemon=True)
        waker.start()
        while not stop.is_set():
            self._wanted.wait()
            if stop.is_set():
                break
            self._wanted.clear()
            if not self.attempt():
                self._wanted.set()  # what the failed deploy had to publish is still to publish
                stop.wait(self.delays[min(self.failures, len(self.delays)) - 1])

    def attempt(self) -> bool:
        """One deploy; its outcome logged, kept in the status file, and reported when it matters."""
        try:
            report = self.run(self.root)
        except Exception as e:  # noqa: BLE001 - any failure is retried, none stops the gateway
            self.failures += 1
            wait = self.delays[min(self.failures, len(self.delays)) - 1]
            log.error("deploy failed (%d in a row; next try in %.0f s): %s", self.failures, wait, e)
            self._status(False, str(e))
            if self.failures == REPORT_AFTER:
                tell(self.root, self.report_to, "the site is not being published",
                     f"The last {self.failures} deploys after the gateway's rebuilds failed:\n\n{e}\n\n"
                     "New posts are safe in content/ and reach the site at the first deploy that works.\n"
                     "The gateway keeps trying; `extranet doctor` checks the destinations.\n")
            return False
        if self.failures >= REPORT_AFTER:
            tell(self.root, self.report_to, "the site is published again",
                 f"A deploy worked again after {self.failures} failures:\n\n{report.summary()}\n")
        self.failures = 0
        log.info("%s", report.summary())
        self._status(True, report.summary())
        return True

    def _status(self, ok: bool, text: str) -> None:
        data = {"ok": ok, "at": dt.datetime.now().isoformat(timespec="seconds"), "failures": self.failures,
                "message": text}
        try:
            atomic_write(status_path(self.root), json.dumps(data).encode(), mode=0o600)
        except OSError as e:
            log.warning("could not write %s: %s", status_path(self.root), e)
