"""Refusal notices: one short explanation to a refused human sender, at most once a day.

The Composer writes the notice; ``RefusalNotices`` adds the rate limit (a small JSON file in
the spool directory) and sends through the injected ``send`` callable. Whom a notice may go to
at all (a known person or an authenticated sender, never a stranger) is the gateway's check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from ...output import atomic_write
from .composer import Composer

DAY = 24 * 3600


class RefusalNotices:
    """Sends refusal notices through ``send``, at most one per sender and reason per ``window``."""

    def __init__(self, state_path: Path, send: Callable[[EmailMessage], None], composer: Composer, *,
                 window: float = DAY, clock: Callable[[], float] = time.time) -> None:
        self.state_path = Path(state_path)
        self.send = send
        self.composer = composer
        self.window = window
        self.clock = clock

    def explain(self, to: str, reason: str, *, subject: str = "", in_reply_to: str | None = None) -> bool:
        """Send a notice unless one went to ``to`` for ``reason`` within the window.

        Returns whether a notice was sent. The state is written before sending: after a
        crash in between, one notice may be missing, never repeated.
        """
        now = self.clock()
        state = {k: v for k, v in self._load().items() if now - v < self.window}
        key = f"{to.strip().lower()} {reason}"
        if key in state:
            return False
        state[key] = now
        atomic_write(self.state_path, json.dumps(state, sort_keys=True, indent=0).encode(), mode=0o600)
        self.send(self.composer.refusal(to, reason, subject=subject, in_reply_to=in_reply_to))
        return True

    def _load(self) -> dict[str, float]:
        try:
            data = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
