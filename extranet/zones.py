"""Who sees what: the single place where zone visibility is decided.

Default deny: content is internal unless marked `visibility: mixed`. The mixed zone holds,
for each project with active external participants, its title and summary, and only the
pages, posts, passages and attachments shared with them. `view()` returns the filtered site
for one zone; the renderer only ever sees a View, so it cannot show what the View lacks.

Rules content cannot bend:
- an attachment of project P is shared only when a shared, staff-written body of P links
  it, or when it came attached to a shared email post of P (it lies in that post's folder
  below files/); text that arrived by email never shares what it links;
- a mixed page links only to what its own readers may open: its project's shared items and
  the zone's shared pages; any other link is removed, whether its target exists or not;
- an email post that would be shared is held, internal only, when it failed to load or when
  it contains an internal passage of the site (a quote of an internal note, say).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from .config import MailAuth, Org, Person, Settings
from .content.markup import PLACEHOLDER, MarkupError, split_internal
from .content.model import Attachment, Body, Page, Post, Project, Site
from .scopes import INTERNAL, MIXED, SITE_SCOPE, ZONES, person_scope  # noqa: F401 (re-exported)
from .textmatch import Matcher, Memo, name, normalise

_PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER) + r"(\d+)")


@dataclass(frozen=True)
class ProjectView:
    """A project as one zone shows it."""

    project: Project
    show_body: bool
    posts: tuple[Post, ...]  # visible posts, by date
    files: tuple[Attachment, ...]  # attachments published in this zone
    orgs: tuple[Org, ...]  # external organisations
    people: tuple[Person, ...]  # external people shown as taking part (in the mixed zone: with access)
    staff: tuple[Person, ...] = ()  # staff who wrote one of the posts shown


def is_staff(settings: Settings, person: Person) -> bool:
    """Staff are the people of the site's own organisation."""
    return person.org == settings.org


def personal(zone: str) -> bool:
    """Whether a zone is read person by person (each person's home lists their projects)."""
    return zone == MIXED


def scope_of(key: str) -> str:
    """The scope of a content key: its project's id, or the site's for site-wide pages."""
    parts = key.split("/")
    return parts[1] if parts[0] == "projects" and len(parts) > 2 else SITE_SCOPE


def visible_segments(zone: str, body: Body) -> list[tuple[str, bool]]:
    """The (html, internal) passages of a body `zone` may show: never an internal one in the mixed zone."""
    return [(s.html, s.internal) for s in body.segments if zone == INTERNAL or not s.internal]


@dataclass(frozen=True)
class View:
    """The part of a site one zone may show, and who may read each scope of it."""

    zone: str
    site: Site
    projects: tuple[ProjectView, ...]
    pages: tuple[Page, ...]
    keys: frozenset[str]  # content keys a link may point to in this zone
    grants: dict[str, frozenset[str]]  # person id -> scopes (project ids, SITE_SCOPE)
    shared: frozenset[str] = frozenset()  # internal zone: the keys the mixed zone shows too
    held: dict[str, str] | None = None  # internal zone: post key -> why it is not shared
    waiting: frozenset[str] = frozenset()  # keys of the posts shown waiting for a staff decision

    @property
    def complete(self) -> bool:
        """Whether the zone shows everything (it marks what the other one shares, and reports
        broken links)."""
        return self.zone == INTERNAL

    @property
    def personal(self) -> bool:
        """Whether each person has a home page of their own (see `personal`)."""
        return personal(self.zone)

    def segments(self, body: Body) -> list[tuple[str, bool]]:
        """The (html, internal) passages of a body this zone may show."""
        return visible_segments(self.zone, body)

    def projects_of(self, person_id: str) -> tuple[ProjectView, ...]:
        """The projects a person may open in this zone (for their home page)."""
        scopes = self.grants.get(person_id, frozenset())
        return tuple(pv for pv in self.projects if pv.project.id in scopes)

    def original(self, post: Post) -> str | None:
        """The full original of an email post: internal zone only."""
        return post.original if self.zone == INTERNAL else None

    def item(self, key: str | None) -> object | None:
        """The content record a link target names, if any (a folder link means its index.md)."""
        item = self.site.by_key.get(key or "")
        if item is None and key and not key.endswith(".md"):
            item = self.site.by_key.get(key.rstrip("/") + "/index.md")
        return item

    def link_target(self, source: str, key: str | None) -> object | None:
        """What a link written in the source `source` to `key` may point to on this zone's
        pages, or None: the target must be shown in this zone and, in the mixed zone, be
        readable by everyone who reads the source (its own project, or a site-wide page)."""
        item = self.item(key)
        if item is None or getattr(item, "key") not in self.keys:
            return None
        if self.zone != INTERNAL and scope_of(item.key) not in (scope_of(source), SITE_SCOPE):  # type: ignore[attr-defined]
            return None
        return item


def links_of(zone: str, body: Body) -> list[str]:
    """Content keys linked from the passages of `body` visible in `zone`."""
    out = []
    for html, _ in visible_segments(zone, body):
        for m in _PLACEHOLDER_RE.finditer(html):
            target = body.links[int(m.group(1))].target
            if target:
                out.append(target)
    return out


def email_folder(post: Post) -> str:
    """Where the attachments of a post that came by email lie (below its project's files/)."""
    return f"projects/{post.project}/files/{post.id}/"


class Rules:
    """Visibility rules for one build at one moment `now` (expiry and future posts depend on it)."""

    def __init__(self, site: Site, now: dt.datetime, texts: Memo | None = None) -> None:
        """`texts`: normal forms and passages of texts kept by content (textmatch.Memo)."""
        self.texts = texts or Memo()
        self.site = site
        self.settings = site.settings
        self.people = site.people
        self.now = now
        self.today = now.date()
        self._views: dict[str, View] = {}

    def is_staff(self, person: Person) -> bool:
        """Staff are the people of the site's own organisation."""
        return is_staff(self.settings, person)

    def waiting(self, post: Post) -> str | None:
        """Why a post waits for a staff decision (moderation, or held back), or None."""
        if post.pending:
            return post.pending_reason or "waiting for moderation"
        return self.held(post)

    @cached_property
    def _staff(self) -> tuple[Person, ...]:
        return tuple(p for p in self.people.people.values() if self.is_staff(p) and p.active(self.today))

    def staff(self) -> list[Person]:
        """Active staff."""
        return list(self._staff)

    def external_members(self, project: Project) -> list[Person]:
        """Active external people of a project: people of its organisations and its listed members."""
        return [p for p in self.people.people.values()
                if not self.is_staff(p) and p.active(self.today)
                and (p.org in project.orgs or p.id in project.members)]

    def project_visible(self, zone: str, project: Project) -> bool:
        """A project with no active external participant does not exist in the mixed zone."""
        return zone == INTERNAL or bool(self.external_members(project))

    def published(self, post: Post) -> bool:
        """Drafts and (unless configured) future posts are never published."""
        return not post.draft and (self.settings.future_posts or post.date <= self.now)

    def post_visible(self, zone: str, post: Post) -> bool:
        """Mixed zone: only posts marked mixed that wait for no moderation and are not held."""
        if not self.published(post):
            return False
        return zone == INTERNAL or (self._shareable(post) and self.held(post) is None)

    def _shareable(self, post: Post) -> bool:
        """Marked mixed and not waiting for a staff approval (what the author asked for)."""
        return post.visibility == MIXED and not post.pending

    def page_visible(self, zone: str, page: Page) -> bool:
        """Mixed zone: only pages marked mixed."""
        return zone == INTERNAL or page.visibility == MIXED

    def body_visible(self, zone: str, project: Project) -> bool:
        """A project's page body is shared only when marked mixed (title and summary always are)."""
        return zone == INTERNAL or project.visibility == MIXED

    # -- people and their mail ----------------------------------------------------------------
    def zone_of(self, person: Person) -> str:
        """The zone a person reads: staff the internal zone, everybody else the mixed zone."""
        return INTERNAL if self.is_staff(person) else MIXED

    def writes_notes(self, person: Person) -> bool:
        """Whether a person may post internal notes (the note+ addresses): staff only."""
        return self.is_staff(person)

    @staticmethod
    def marked_internal(post: Post) -> bool:
        """Whether a post's author kept it internal (not marked for the mixed zone)."""
        return post.visibility != MIXED

    def reads(self, person: Person, post: Post, zone: str) -> bool:
        """Whether `person` reads `post` in the version of `zone`: the zone they read, the post
        shown there, in a project they may open there."""
        project = self._projects.get(post.project)
        return (project is not None and zone == self.zone_of(person) and self.post_visible(zone, post)
                and person.id in {p.id for p in self.readers(zone, project)})

    def announced_zones(self, post: Post) -> list[str]:
        """The zones in which `post` is out now, so that it may be announced there: none while it
        is a draft, dated in the future or waiting for moderation; the mixed zone once shared."""
        if post.pending or not self.post_visible(INTERNAL, post):
            return []
        return [INTERNAL] + ([MIXED] if self.post_visible(MIXED, post) else [])

    def audience(self, post: Post) -> list[tuple[Person, str]]:
        """Who is told about `post` now, each with the zone whose version they get: staff the
        internal one, the project's active external people the mixed one once it is shared."""
        project = self._projects.get(post.project)
        if project is None:
            return []
        return [(p, zone) for zone in self.announced_zones(post)
                for p in self.readers(zone, project) if self.zone_of(p) == zone]

    def confirmation_zone(self, person: Person, post: Post) -> str | None:
        """The zone whose page of `post` its author is sent to: none while it waits for
        moderation; the mixed zone for an external person once it is shared there, else the
        internal zone."""
        if post.pending:
            return None
        return MIXED if self.zone_of(person) == MIXED and self.post_visible(MIXED, post) else INTERNAL

    def may_reply(self, person: Person, project: Project, parent: Post, kind: str) -> bool:
        """Whether `person` may post by email a reply of `kind` to `parent` in `project`: a note
        only as staff; an external person only in a project they take part in; and only to a
        post they can read in their zone."""
        if kind == "note" and not self.writes_notes(person):
            return False
        if not self.is_staff(person) and person not in self.external_members(project):
            return False
        zone = self.zone_of(person)
        return self.project_visible(zone, project) and self.post_visible(zone, parent)

    @staticmethod
    def reply_visibility(parent: Post, kind: str) -> str:
        """The visibility of a post that arrived by email: a note is internal, a reply has its
        parent's."""
        return INTERNAL if kind == "note" else parent.visibility

    @staticmethod
    def posted_as_staff(staff: bool, kind: str) -> bool:
        """Whether mail is posted as staff: sent to a staff member's reply address (`staff`),
        or to any note address."""
        return staff or kind == "note"

    @staticmethod
    def unauthenticated_mail(auth: MailAuth, *, as_staff: bool) -> str:
        """What becomes of an email post whose sender is not authenticated: 'accept', 'moderate'
        or 'refuse', as [mail.auth] says for mail posted as staff (see posted_as_staff) or for
        mail of an external person."""
        return auth.staff if as_staff else auth.external

    def email_post_held(self, project: Project, person: Person, doubts: Sequence[str] = ()) -> tuple[str, ...]:
        """Why an email post by `person` waits for a staff approval (empty: published at once):
        the project's moderation setting, then every doubt about the message (its sender not
        authenticated, its reply text uncertain)."""
        held = []
        if project.moderation == "all" or (project.moderation == "external" and not self.is_staff(person)):
            held.append(f"the project holds {'all' if project.moderation == 'all' else 'external'} email posts for moderation")
        return (*held, *doubts)

    @cached_property
    def _projects(self) -> dict[str, Project]:
        return {p.id: p for p in self.site.projects}

    def readers(self, zone: str, project: Project) -> list[Person]:
        """Who may read a project in a zone: staff, and in the mixed zone its external members."""
        if not self.project_visible(zone, project):
            return []
        return self.staff() + (self.external_members(project) if zone == MIXED else [])

    # -- email posts held back --------------------------------------------------------------
    def held(self, post: Post) -> str | None:
        """Why an email post that would be shared is kept internal (waiting for a staff
        decision), or None: it failed to load, or it contains an internal passage."""
        if post.source != "email":
            return None
        if post.defect:
            return f"could not be rendered ({post.defect})"
        if post.visibility != MIXED or not self.published(post):
            return None  # (checked even while it waits for moderation: approving it shares nothing)
        project = self._project(post.project)
        if project is None or not self.project_visible(MIXED, project):
            return None
        rendered = "\n".join([post.title, *(html for html, _ in visible_segments(MIXED, post.body))])
        normal = self.texts.normalise
        found = self.texts.find(self._internal_passages, normal(post.title + "\n" + post.body.text) + "\n"
                                + normal(rendered))  # (no passage spans the line break: see textmatch)
        if found:
            text = max(found, key=len)
            return f"contains {self._internal_passages.secrets[text]}: '{text.strip()[:80]}'"
        return None

    def _project(self, pid: str) -> Project | None:
        item = self.site.by_key.get(f"projects/{pid}/index.md")
        return item if isinstance(item, Project) else None

    @cached_property
    def _internal_passages(self) -> Matcher:
        """Every passage of the site's internal content (internal posts, pages and blocks,
        titles, names of unshared files) that no shared, staff-written text contains."""
        secret: dict[str, str] = {}
        shown: list[str] = []

        def body(b: Body, shared: bool) -> None:
            try:
                parts = split_internal(b.text)  # (the Markdown as written, as the audit reads it)
            except MarkupError:
                parts = [(b.text, True)]
            for markdown, internal in parts:
                if shared and not internal:
                    shown.append(self.texts.normalise(markdown))
                else:
                    secret.update((p, "internal text") for p in self.texts.passages(markdown))

        for page in self.site.pages:
            shared = self.page_visible(MIXED, page)
            (shown.append(normalise(page.title)) if shared else
             secret.update((p, "an internal title") for p in name(page.title)))
            body(page.body, shared)
        for project in self.site.projects:
            in_mixed = self.project_visible(MIXED, project)
            for text in (project.title, project.summary):
                (shown.append(normalise(text)) if in_mixed else
                 secret.update((p, "an internal title") for p in name(text)))
            body(project.body, in_mixed and self.body_visible(MIXED, project))
            staff_shared = {p.key for p in project.posts
                            if p.source != "email" and in_mixed and self.published(p) and self._shareable(p)}
            for post in project.posts:
                if post.source == "email" and post.visibility == MIXED:
                    continue  # an external's own words: neither secret nor a reason to drop one
                shared = post.key in staff_shared
                (shown.append(normalise(post.title)) if shared else
                 secret.update((p, "an internal title") for p in name(post.title)))
                body(post.body, shared)
            linked = {k for p in project.posts if p.key in staff_shared for k in links_of(MIXED, p.body)}
            if in_mixed and self.body_visible(MIXED, project):
                linked.update(links_of(MIXED, project.body))
            email_folders = tuple(email_folder(p) for p in project.posts
                                  if p.source == "email" and p.visibility == MIXED)
            for a in project.files:
                if a.key in linked or a.key.startswith(email_folders):
                    shown.append(normalise(a.name))
                else:
                    secret.update((p, "the name of an internal file") for p in name(a.name.rsplit("/", 1)[-1]))
        matcher = self.texts.matcher(secret)
        return matcher.without(self.texts.find(matcher, "\n".join(shown)))  # (as in held)

    # -- views --------------------------------------------------------------------------------
    def views(self) -> dict[str, View]:
        """Every zone's view."""
        return {zone: self.view(zone) for zone in ZONES}

    def view(self, zone: str) -> View:
        """Filter the site for `zone` (once per zone: the internal view needs the mixed one)."""
        if zone not in self._views:
            self._views[zone] = self._view(zone)
        return self._views[zone]

    def shared_files(self, project: Project, posts: tuple[Post, ...], show_body: bool) -> tuple[Attachment, ...]:
        """The attachments of a project the mixed zone shows, given its shared posts: those a
        shared staff-written body of the project links, and those of its shared email posts."""
        linked: set[str] = set()
        for post in posts:
            if post.source != "email":
                linked.update(links_of(MIXED, post.body))
        if show_body:
            linked.update(links_of(MIXED, project.body))
        folders = tuple(email_folder(p) for p in posts if p.source == "email")
        return tuple(a for a in project.files if a.key in linked or a.key.startswith(folders))

    def _view(self, zone: str) -> View:
        projects: list[ProjectView] = []
        pages = tuple(p for p in self.site.pages if self.page_visible(zone, p))
        grants: dict[str, set[str]] = {}
        for project in self.site.projects:
            if not self.project_visible(zone, project):
                continue
            posts = tuple(p for p in project.posts if self.post_visible(zone, p))
            show_body = self.body_visible(zone, project)
            files = project.files if zone == INTERNAL else self.shared_files(project, posts, show_body)
            orgs = tuple(self.people.orgs[o] for o in project.orgs if o in self.people.orgs)
            for person in self.readers(zone, project):
                grants.setdefault(person.id, {SITE_SCOPE}).add(project.id)
            projects.append(ProjectView(project, show_body, posts, files, orgs, self._participants(zone, project),
                                        self._authors(posts)))
        keys = {p.key for p in pages} | {pv.project.key for pv in projects}
        keys |= {item.key for pv in projects for item in (*pv.posts, *pv.files)}
        for person in self.staff():
            grants.setdefault(person.id, {SITE_SCOPE})
        for pid in grants:
            grants[pid].add(person_scope(pid))
        shared, held = frozenset(), None
        waiting = frozenset(p.key for pv in projects for p in pv.posts if p.pending)
        if zone == INTERNAL:
            shared = self.view(MIXED).keys
            held = {post.key: reason for pv in projects for post in pv.posts
                    if (reason := self.held(post)) is not None}
        return View(zone, self.site, tuple(projects), pages, frozenset(keys),
                    {pid: frozenset(s) for pid, s in grants.items()}, shared, held, waiting | frozenset(held or ()))

    def _participants(self, zone: str, project: Project) -> tuple[Person, ...]:
        """Who a zone shows as taking part: in the mixed zone the external people with access;
        in the internal zone everyone of the project's organisations and its members."""
        if zone == MIXED:
            return tuple(self.external_members(project))
        return tuple(p for p in self.people.people.values() if p.org in project.orgs or p.id in project.members)

    def _authors(self, posts: tuple[Post, ...]) -> tuple[Person, ...]:
        """The staff who wrote one of `posts`, by id."""
        ids = {p.author for p in posts if p.author in self.people.people}
        return tuple(self.people.people[i] for i in sorted(ids) if self.is_staff(self.people.people[i]))
