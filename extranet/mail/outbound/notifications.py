"""Mail out: new posts -> recipients per zone -> message -> queue -> relay (or outbox) -> sent log.

A post is announced once per zone: to staff (internal zone version) when it is published,
to the project's external people (mixed zone version) when it is published and shared. The
sent log records each announced (post, zone) pair, so people who join a project later are
not flooded with its history, and a post that becomes shared later is announced to the
externals then. First run: with no sent log yet, every post already published is recorded
as announced without any mail ("baseline"), unless `send_all` (`extranet notify --all`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import config
from ...config import Person
from ...content.loader import load_site
from ...content.model import Post, Site
from ...errors import ExtranetError
from ...site.urls import Urls, urls_for
from ...zones import Rules
from ..reply_keys import site_token_keys
from .post_mail import PostMail
from .relay import Transport, deliver, transport_for
from .sent_log import DigestItem, SentLog


@dataclass(frozen=True)
class NotifyReport:
    """What a notify run did, for the command line and the build's log."""

    baselined: int = 0
    queued: int = 0
    digest_items: int = 0
    digests: int = 0
    sent: int = 0
    resumed: int = 0
    deferred: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    waiting: int = 0
    transport: str = ""

    def summary(self) -> str:
        """One line."""
        parts = []
        if self.baselined:
            parts.append(f"first run: {self.baselined} existing post(s) recorded as already announced, no mail sent"
                         " (use --all to mail them)")
        parts.append(f"{self.sent} message(s) sent via {self.transport}")
        if self.digest_items:
            parts.append(f"{self.digest_items} post(s) kept for digests")
        if self.digests:
            parts.append(f"{self.digests} digest(s) queued")
        if self.resumed:
            parts.append(f"{self.resumed} resumed after an interrupted run")
        if self.deferred:
            parts.append(f"{len(self.deferred)} deferred (temporary failure)")
        if self.waiting:
            parts.append(f"{self.waiting} waiting for the relay")
        if self.failed:
            parts.append(f"{len(self.failed)} failed for good")
        return "notify: " + "; ".join(parts)

    def problems(self) -> list[str]:
        """One line per deferred or failed message."""
        return [f"deferred: {d}" for d in self.deferred] + [f"failed: {f}" for f in self.failed]


@dataclass(frozen=True)
class Delivery:
    """One person to tell about one post, in the version of one zone."""

    post: Post
    person: Person
    zone: str


def audience(rules: Rules, post: Post) -> list[tuple[Person, str]]:
    """Who is mailed about `post`, and in which zone's version: its audience as the zone rules
    say (Rules.audience), but for its author and the people who asked for no mail."""
    return [(p, zone) for p, zone in rules.audience(post) if p.id != post.author and p.notify != "none"]


def plan(rules: Rules, announced: set[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[Delivery]]:
    """The (post, zone) pairs to announce now, and the deliveries they make. Pure."""
    pairs: list[tuple[str, str]] = []
    deliveries: list[Delivery] = []
    for project in rules.site.projects:
        for post in project.posts:
            zones = [z for z in rules.announced_zones(post) if (post.key, z) not in announced]
            if not zones:
                continue
            pairs += [(post.key, z) for z in zones]
            deliveries += [Delivery(post, person, zone) for person, zone in audience(rules, post) if zone in zones]
    return pairs, deliveries


def _check_settings(site: Site) -> None:
    mail = site.settings.mail
    missing = [name for name, value in (("from", mail.from_addr), ("reply_domain", mail.reply_domain)) if not value]
    if missing:
        raise ExtranetError(f"extranet.toml: set {' and '.join(missing)} in [mail] to send notifications")


def notify_new_posts(
    site: Site, rules: Rules, urls: Mapping[str, Urls], now: dt.datetime, *,
    send_all: bool = False, digest: bool = False, transport: Transport | None = None,
    delays: Sequence[float] = (2.0, 10.0), clock: Callable[[], dt.datetime] | None = None,
    progress: Callable[[str], None] | None = None,
) -> NotifyReport:
    """Queue and send the notifications of posts not yet announced (and, with `digest`,
    the digests of days before today's); resume whatever an interrupted run left queued."""
    _check_settings(site)
    mail = PostMail(site, rules, urls, site_token_keys(site.settings), now)
    transport = transport or transport_for(site.settings)
    with SentLog.open(site.settings.state_dir) as log:
        first = log.created() is None
        pairs, deliveries = plan(rules, log.announced())
        baselined = queued = kept = digests = 0
        if first and not send_all:
            log.record_plan(now, [(k, z, "baseline") for k, z in pairs], [], [])
            baselined = len({k for k, _ in pairs})
        else:
            outgoing = [mail.post_message(d.post, d.person, d.zone)
                        for d in deliveries if d.person.notify == "immediate"]
            items = [DigestItem(d.person.id, now.date(), d.post.key, d.zone)
                     for d in deliveries if d.person.notify == "digest"]
            log.record_plan(now, [(k, z, "announced") for k, z in pairs], outgoing, items)
            queued, kept = len(outgoing), len(items)
        if digest:
            digests = queue_digests(log, rules, mail, now)
        done = deliver(log, transport, now=clock or (lambda: now), delays=delays, progress=progress)
    return NotifyReport(baselined, queued, kept, digests, done.sent, done.resumed, tuple(done.deferred),
                        tuple(done.failed), done.waiting, transport.description)


def queue_digests(log: SentLog, rules: Rules, mail: PostMail, now: dt.datetime) -> int:
    """Turn the digest items of days before today into one message per person and day.

    Entitlement is checked again now: a post deleted, unshared or no longer readable by the
    person since it was kept is left out (and a digest left empty is not sent)."""
    site = rules.site
    groups: dict[tuple[str, dt.date], list[DigestItem]] = {}
    for item in log.digest_items(now.date()):
        groups.setdefault((item.person, item.day), []).append(item)
    count = 0
    for (pid, day), items in sorted(groups.items()):
        person = site.people.people.get(pid)
        posts: list[tuple[Post, str]] = []
        for item in items:
            post = site.by_key.get(item.post)
            if person is not None and isinstance(post, Post) and (person, item.zone) in audience(rules, post):
                posts.append((post, item.zone))
        posts.sort(key=lambda pz: (pz[0].date, pz[0].key))
        outgoing = [mail.digest_message(person, day, posts)] if person is not None and posts else []
        log.record_digests(now, items, outgoing)
        count += len(outgoing)
    return count


def notify_site(root: Path, *, site: Site | None = None, now: dt.datetime | None = None, encrypt: bool | None = None,
                send_all: bool = False, digest: bool = False,
                progress: Callable[[str], None] | None = None) -> NotifyReport:
    """`extranet notify`, and the notify that follows a build: notify with the output paths the
    build wrote (`encrypt`: as it was built; None: as the settings say). `site`: the site as a
    build at `now` just loaded it (None: loaded here)."""
    if site is None:
        settings, people = config.load(root)
        site = load_site(settings, people)
    clock = (lambda: now) if now is not None else dt.datetime.now
    now = now or dt.datetime.now().replace(microsecond=0)
    encrypt = site.settings.encrypt if encrypt is None else encrypt
    return notify_new_posts(site, Rules(site, now), urls_for(site.settings, encrypt), now,
                            send_all=send_all, digest=digest, clock=clock, progress=progress)
