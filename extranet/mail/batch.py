"""What follows each batch of the gateway: commit the posts -> build -> notify -> confirm -> deploy.

`SiteBuilds` is the one place mail calls the build: the gateway's builds, one at a time, with
the build's state kept in memory from one to the next. `Batch` runs the steps in order, each
given what it needs: the outcomes of the batch (which posts were written, by whom), the build's
result (the site it loaded), the processed index (what is left to confirm).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import config
from ..build import BuildResult, BuildState, build
from ..config import People, Settings
from ..content.loader import load_project
from ..content.model import Project, Site
from ..content.records import RecordStore
from ..lock import site_lock
from ..publishing import Publishing
from ..site.urls import urls_for
from ..zones import Rules
from .inbound.outcomes import Outcome, Posted
from .outbound.composer import Composer, Sender
from .outbound.confirmations import LATER, Confirmations, confirmation_of
from .outbound.notifications import notify_site
from .outbound.sent_log import Outgoing

log = logging.getLogger("extranet")
FULL_COLLECTION = 100  # builds between two full collections of what the gateway keeps (see _collector_aside)


class SiteBuilds:
    """The site's builds as the gateway runs them: one at a time, the build's state kept in
    memory from one to the next (nothing of it is needed for correctness), each warning shown
    once however many builds find it again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = BuildState()
        self.fresh = True  # this process has not built the site yet
        self._lock = threading.Lock()
        self._warned: frozenset[str] = frozenset()  # the warnings of the last build (see _Repeated)
        self._count = 0

    def load_project(self, settings: Settings, people: People, project_id: str) -> Project | None:
        """One project (where a reply goes), its sources taken from the records the last build
        kept in memory when they are the same."""
        cache = self.state.cache
        return load_project(settings, people, project_id,
                            RecordStore(cache, settings.remote_images) if cache is not None else None)

    def build(self, what: str, now: dt.datetime | None = None) -> BuildResult | None:
        """Build and publish the site as of `now`; None (and the error logged) on failure: the
        posts are safe in content/, a later build publishes them."""
        repeated = _Repeated(self._warned)
        shown = list(log.handlers)  # where warnings are shown (the build counts them on its own handler)
        with self._collector_aside(), self._lock, site_lock(self.root):
            for handler in shown:
                handler.addFilter(repeated)
            try:
                result = build(self.root, now=now, state=self.state)
            except Exception as e:  # noqa: BLE001 - the gateway runs on
                log.error("%s failed: %s", what, e)
                return None
            finally:
                for handler in shown:
                    handler.removeFilter(repeated)
        self.fresh = False
        if repeated.dropped:
            log.info("%d warning(s) given by the last rebuild not repeated", repeated.dropped)
        self._warned = frozenset(result.warnings)
        return result

    @contextlib.contextmanager
    def _collector_aside(self) -> Iterator[None]:
        """Build with the cyclic garbage collector paused, then set what survives the build
        (mostly the state kept for the next one) aside from it (gc.freeze), so that the
        collector does not walk it again after every build; it is still freed by reference
        counting, and the few cycles among it are collected every FULL_COLLECTION builds
        (docs/benchmarks.md, round 6)."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            self._count += 1
            if self._count % FULL_COLLECTION == 0:
                gc.unfreeze()
                gc.collect()
            else:
                gc.collect(1)  # the cycles left since the last build (young objects only)
            gc.freeze()
            if collecting:
                gc.enable()


class Batch:
    """The steps after each batch of processed messages, in order: commit the new posts (git),
    build, notify (when `[build] notify` is on), confirm to their senders, deploy."""

    def __init__(self, root: Path, builds: SiteBuilds | None, publishing: Publishing, confirmations: Confirmations,
                 load: Callable[[Settings, People, str], Project | None]) -> None:
        """`builds` None: never build (the posts are confirmed as written); `load`: how a
        project is loaded for a confirmation."""
        self.root = root
        self.builds = builds
        self.publishing = publishing
        self.confirmations = confirmations
        self.load = load
        self.published = builds is None  # whether the posts in content/ are on the site

    def __call__(self, outcomes: Sequence[Outcome] = ()) -> None:
        """After a batch: commit and publish the posts it wrote, then confirm them."""
        posted = [(o.ref, o.person) for o in outcomes if isinstance(o, Posted)]
        if posted:
            self.publishing.posts_written(posted)
            if self.builds is not None:
                self.rebuild("rebuild after new email posts")
        self.confirm()

    def start(self) -> None:
        """Before the first batch: commit the posts a crash left, build once (so that the first
        reply is published as quickly as the next ones), confirm what an interrupted run left."""
        if self.builds is not None and self.builds.fresh:
            self.publishing.posts_written([])
            self.rebuild("build at start")
        self.confirm()

    def rebuild(self, what: str) -> None:
        """Build (new posts, or staff changes came in), notify, and deploy."""
        if self.builds is None:
            return
        now = dt.datetime.now().replace(microsecond=0)
        result = self.builds.build(what, now)
        self.published = result is not None
        if result is None:
            return
        settings, _ = config.load(self.root)
        if settings.notify_on_build:
            try:
                report = notify_site(self.root, site=result.site, now=now)
            except Exception as e:  # noqa: BLE001 - the posts are published; the next run mails them
                log.error("notify after the %s failed: %s", what, e)
            else:
                for line in report.problems():
                    log.warning("%s", line)
                log.info("%s", report.summary())
        self.publishing.rebuilt()

    def confirm(self) -> None:
        """Queue the confirmations of the posts written since the last ones, and send the queue."""
        self.confirmations.send(self._confirmation)

    def _confirmation(self, record: Mapping[str, Any]) -> Outgoing | None | str:
        """The confirmation of a posted record: LATER until a build has published the post,
        None when the post or its author is gone."""
        if not self.published:
            return LATER
        key, pid = str(record.get("ref", "")), str(record.get("person", ""))
        settings, people = config.load(self.root)
        person = people.people.get(pid)
        parts = key.split("/")
        if person is None or not settings.mail.from_addr or len(parts) != 4 or parts[0] != "projects":
            return None
        project = self.load(settings, people, parts[1])
        post = next((p for p in project.posts if p.key == key), None) if project else None
        if project is None or post is None:
            return None  # rejected by a moderator, or deleted, meanwhile
        rules = Rules(Site(settings, people, (), (project,)), dt.datetime.now())
        return confirmation_of(Composer(Sender.of(settings)), rules, urls_for(settings, settings.encrypt), post, person)


class _Repeated(logging.Filter):
    """Drops the warnings the gateway's last build gave already: every build finds them again
    (a link to internal content, say), and a log that repeats them for each reply hides the
    one that is new. The build still counts and records them all."""

    def __init__(self, known: frozenset[str]) -> None:
        super().__init__()
        self.known = known
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage() in self.known:
            self.dropped += 1
            return False
        return True
