"""The gateway assembled for a site: settings and people in, a running mail-to-post pipeline out.

After new posts are written the site is rebuilt (the build notifies the others when
`[build] notify` is on) and each sender gets a short confirmation with the post's link,
once the rebuild has published it (durable and exactly once: see mail/confirm.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .. import config
from ..publishing import Publishing
from ..content.model import Site
from ..zones import INTERNAL, MIXED, Rules
from .inbound.authentication import DnsLookup
from .outbound.confirmations import LATER, Confirmations, confirmation
from .inbound.directory import SiteDirectory
from .reply_keys import load_token_keys
from .outbound.refusals import Notifier
from .inbound.gateway import Gateway, GatewayPolicy, Outcome
from .inbound.post_writer import PostWriter
from .outbound.relay import send_now, transport_for
from .reply_keys import token_keys_path
from .outbound.sent_log import Outgoing
from .inbound.spool import Spool

log = logging.getLogger("extranet")
FULL_COLLECTION = 100  # rebuilds between two full collections of the gateway's memory (see _collector_aside)

class SiteGateway:
    """A Gateway whose handler writes posts into the site at `root`, with rebuild and confirmations."""

    def __init__(self, root: Path, *, rebuild: bool = True, dns: DnsLookup | None = None) -> None:
        """`dns`: how DKIM keys are looked up (None: the system resolver)."""
        self.root = root
        self.settings, _ = config.load(root)
        settings = self.settings
        if not settings.mail.reply_domain:
            raise config.ExtranetError("extranet.toml: [mail] reply_domain is needed to receive replies")
        self.rebuild = rebuild
        from ..build import Warm
        from ..cache import open_cache

        self._warm = Warm(open_cache(settings.state_dir))  # the build state, kept in memory between rebuilds
        self.writer = PostWriter(root, load=self._warm.load_project)
        spool = Spool(settings.state_dir / "spool")
        policy = GatewayPolicy(reply_domain=settings.mail.reply_domain,
                               token_keys=load_token_keys(token_keys_path(settings)),
                               own_addresses=tuple(a for a in (settings.mail.from_addr,) if a),
                               loop_id=settings.mail.reply_domain, max_size=settings.mail.max_message_size,
                               auth=settings.mail.auth, trusted_authserv_id=settings.mail.trusted_authserv_id, dns=dns)
        notifier = Notifier(spool.root / "notices.json", self._send, from_addr=settings.mail.from_addr,
                            site=settings.title, language=settings.language, loop_id=policy.loop_id)
        self.gateway = Gateway(spool, self.writer, policy, SiteDirectory(root), notifier)
        self.gateway.on_batch = self.after
        self.confirmations = Confirmations(spool, settings.state_dir, lambda: transport_for(self.settings))
        self.confirmations.start()
        self._published = not rebuild  # whether the posts in content/ are on the site (the last rebuild worked)
        self._lock = threading.Lock()
        self._rebuilds = 0
        self._warned: frozenset[str] = frozenset()  # the warnings of the last rebuild (see _Repeated)
        self.publishing = Publishing(root, settings)  # git commit of posts, deploy after rebuilds

    def _send(self, msg: EmailMessage) -> None:
        try:
            send_now(self.settings, msg)
        except Exception as e:  # noqa: BLE001 - a courtesy message never blocks the pipeline
            log.warning("could not send a message to %s: %s", msg["To"], e)

    def after(self, outcomes: list[Outcome] | None = None) -> None:
        """Rebuild the site once per batch of new posts, then confirm to their senders."""
        posted = list(self.writer.posted)
        self.writer.posted.clear()
        if posted:
            self.publishing.posts_written(posted)
        if posted and self.rebuild:
            self.rebuild_now("rebuild after new email posts")
        self.confirmations.send(self._confirmation)

    def rebuild_now(self, what: str) -> None:
        """Rebuild (new posts, or staff changes came in) and publish."""
        with self._collector_aside():
            result = self._rebuild(what)
            self._published = result is not None
        if result is not None:
            self.publishing.rebuilt()

    def warm_up(self) -> None:
        """Build the site once, keeping its state in memory, so that the first reply is
        published as quickly as the next ones (`extranet gateway` does this as it starts);
        then send the confirmations an interrupted run left."""
        if self.rebuild and self._warm.output is None:
            self.publishing.posts_written([])  # email posts a crash left uncommitted
            self.rebuild_now("build at start")
        self.confirmations.send(self._confirmation)

    def _rebuild(self, what: str):
        """Build with the state kept between rebuilds; None (and the error logged) on failure:
        the posts are safe in content/, a later build publishes them. The result comes without
        its pages (BuildResult.release: nothing here needs them)."""
        from ..build import build
        from ..lock import site_lock

        repeated = _Repeated(self._warned)
        shown = list(log.handlers)  # where warnings are shown (the build counts them on its own handler)
        with self._lock, site_lock(self.root):
            for handler in shown:
                handler.addFilter(repeated)
            try:
                result = build(self.root, warm=self._warm)
            except Exception as e:  # noqa: BLE001 - the gateway runs on
                log.error("%s failed: %s", what, e)
                return None
            finally:
                for handler in shown:
                    handler.removeFilter(repeated)
        if repeated.dropped:
            log.info("%d warning(s) given by the last rebuild not repeated", repeated.dropped)
        self._warned = frozenset(result.warnings)
        result.release()
        return result

    @contextlib.contextmanager
    def _collector_aside(self):
        """Run a rebuild with the cyclic garbage collector paused, then set what survives it —
        mostly the build state kept for the next rebuild — aside from the collector
        (gc.freeze): its collections over the millions of objects a rebuild leaves took
        0.06 s after every rebuild and 1.3 s, a full one, about every tenth message. The
        rebuild's pages are dropped first (BuildResult.release: they hold reference cycles);
        what is set aside is still freed by reference counting when dropped, and the few
        cycles among it are collected every FULL_COLLECTION rebuilds."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            self._rebuilds += 1
            if self._rebuilds % FULL_COLLECTION == 0:
                gc.unfreeze()
                gc.collect()
            else:
                gc.collect(1)  # the cycles left since the last rebuild (young objects only)
            gc.freeze()
            if collecting:
                gc.enable()

    def _confirmation(self, record: Mapping[str, Any]) -> Outgoing | None | str:
        """The confirmation of a posted record (confirm.Composer): LATER until a rebuild has
        published the post, None when the post or its author is gone."""
        if not self._published:
            return LATER
        key, pid = str(record.get("ref", "")), str(record.get("person", ""))
        settings, people = config.load(self.root)
        person = people.people.get(pid)
        parts = key.split("/")
        if person is None or not settings.mail.from_addr or len(parts) != 4 or parts[0] != "projects":
            return None
        project = self._warm.load_project(settings, people, parts[1])
        post = next((p for p in project.posts if p.key == key), None) if project else None
        if project is None or post is None:
            return None  # rejected by a moderator, or deleted, meanwhile
        from ..build import urls_for

        rules = Rules(Site(settings, people, (), (project,)), dt.datetime.now())
        zone = MIXED if not rules.is_staff(person) and rules.post_visible(MIXED, post) else INTERNAL
        link = None if post.pending else (settings.zone_urls[zone].rstrip("/") + "/"
                                          + urls_for(settings, settings.encrypt)[zone].post(post))
        return confirmation(post_ref=key, person=pid, to=person.email, title=post.title, link=link,
                            language=settings.language, site=settings.title, from_addr=settings.mail.from_addr,
                            domain=settings.mail.reply_domain)

    def process_pending(self) -> list[Outcome]:
        """Process what is waiting in the spool, then rebuild once."""
        outcomes = self.gateway.process_pending()
        self.after(outcomes)
        return outcomes


class _Repeated(logging.Filter):
    """Drops the warnings the gateway's last rebuild gave already: every rebuild finds them
    again (a link to internal content, say), and a log that repeats thousands of lines for
    each reply hides the one that is new. The build still counts and records them all."""

    def __init__(self, known: frozenset[str]) -> None:
        super().__init__()
        self.known = known
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage() in self.known:
            self.dropped += 1
            return False
        return True
