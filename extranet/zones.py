"""Who sees what: the single place where zone visibility is decided.

Default deny: content is internal unless marked `visibility: mixed`. The mixed zone holds,
for each project with active external participants, its title and summary, and only the
pages, posts, passages and attachments shared with them. `view()` returns the filtered site
for one zone; the renderer only ever sees a View, so it cannot show what the View lacks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .config import MailAuth, Org, Person
from .content.markup import PLACEHOLDER
from .content.model import Attachment, Body, Page, Post, Project, Site

INTERNAL = "internal"
MIXED = "mixed"
ZONES = (INTERNAL, MIXED)
SITE_SCOPE = "_site"
_PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER) + r"(\d+)")


@dataclass(frozen=True)
class ProjectView:
    """A project as one zone shows it."""

    project: Project
    show_body: bool
    posts: tuple[Post, ...]  # visible posts, by date
    files: tuple[Attachment, ...]  # attachments published in this zone
    orgs: tuple[Org, ...]  # external organisations
    people: tuple[Person, ...]  # external people with access


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


def person_scope(person_id: str) -> str:
    """The scope of a person's own pages (their home page in the mixed zone)."""
    return f"person:{person_id}"


def visible_segments(zone: str, body: Body) -> list[tuple[str, bool]]:
    """Never an internal passage in the mixed zone."""
    return [(s.html, s.internal) for s in body.segments if zone == INTERNAL or not s.internal]


class Rules:
    """Visibility rules for one build at one moment `now` (expiry and future posts depend on it)."""

    def __init__(self, site: Site, now: dt.datetime, memo: "ViewMemo | None" = None) -> None:
        """`memo`: what a long-running process keeps of its last build's views (see ViewMemo)."""
        self.site = site
        self.settings = site.settings
        self.people = site.people
        self.now = now
        self.today = now.date()
        self._views: dict[str, View] = {}
        self._staff: list[Person] | None = None
        self.memo = memo
        if memo is not None:
            memo.begin()

    def is_staff(self, person: Person) -> bool:
        """Staff are the people of the site's own organisation."""
        return person.org == self.settings.org

    def staff(self) -> list[Person]:
        """Active staff."""
        if self._staff is None:
            self._staff = [p for p in self.people.people.values() if self.is_staff(p) and p.active(self.today)]
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
        """Mixed zone: only posts marked mixed that are not waiting for moderation."""
        return self.published(post) and (zone == INTERNAL or (post.visibility == MIXED and not post.pending))

    def page_visible(self, zone: str, page: Page) -> bool:
        """Mixed zone: only pages marked mixed."""
        return zone == INTERNAL or page.visibility == MIXED

    def body_visible(self, zone: str, project: Project) -> bool:
        """A project's page body is shared only when marked mixed (title and summary always are)."""
        return zone == INTERNAL or project.visibility == MIXED

    @staticmethod
    def unauthenticated_mail(auth: MailAuth, *, as_staff: bool) -> str:
        """What becomes of an email post whose sender is not authenticated: 'accept', 'moderate'
        or 'refuse', as [mail.auth] says for mail posted as staff (a staff reply address, any
        note address) or for mail of an external person."""
        return auth.staff if as_staff else auth.external

    @staticmethod
    def email_post_held(project: Project, *, staff: bool, doubts: Sequence[str] = ()) -> tuple[str, ...]:
        """Why an email post waits for a staff approval (empty: published at once): the
        project's moderation setting, then every doubt about the message (its sender not
        authenticated, its reply text uncertain)."""
        held = []
        if project.moderation == "all" or (project.moderation == "external" and not staff):
            held.append(f"the project holds {'all' if project.moderation == 'all' else 'external'} email posts for moderation")
        return (*held, *doubts)

    def readers(self, zone: str, project: Project) -> list[Person]:
        """Who may read a project in a zone: staff, and in the mixed zone its external members."""
        if not self.project_visible(zone, project):
            return []
        return self.staff() + (self.external_members(project) if zone == MIXED else [])

    def view(self, zone: str) -> View:
        """Filter the site for `zone` (once per zone: the internal view needs the mixed one)."""
        if zone not in self._views:
            self._views[zone] = self._view(zone)
        return self._views[zone]

    def _view(self, zone: str) -> View:
        projects: list[ProjectView] = []
        bodies: list[Body] = []
        pages = tuple(p for p in self.site.pages if self.page_visible(zone, p))
        bodies += [p.body for p in pages]
        for project in self.site.projects:
            if not self.project_visible(zone, project):
                continue
            posts = tuple(p for p in project.posts if self.post_visible(zone, p))
            show_body = self.body_visible(zone, project)
            bodies += [p.body for p in posts] + ([project.body] if show_body else [])
            projects.append(ProjectView(project, show_body, posts, (), (), ()))
        keys = {p.key for p in pages} | {pv.project.key for pv in projects}
        keys |= {post.key for pv in projects for post in pv.posts}
        linked = _linked_keys(zone, bodies, self.memo)
        grants: dict[str, set[str]] = {}
        final = []
        for pv in projects:
            project = pv.project
            files = tuple(a for a in project.files if zone == INTERNAL or a.key in linked)
            keys |= {a.key for a in files}
            people = self.external_members(project) if zone == MIXED else []
            orgs = tuple(self.people.orgs[o] for o in project.orgs if o in self.people.orgs)
            for person in self.readers(zone, project):
                grants.setdefault(person.id, {SITE_SCOPE}).add(project.id)
            made = ProjectView(project, pv.show_body, pv.posts, files, orgs, tuple(people))
            final.append(self.memo.project_view(zone, made) if self.memo is not None else made)
        for person in self.staff():
            grants.setdefault(person.id, {SITE_SCOPE})
        for pid in grants:
            grants[pid].add(person_scope(pid))
        shared = self.view(MIXED).keys if zone == INTERNAL else frozenset()
        return View(zone, self.site, tuple(final), pages, frozenset(keys),
                    {pid: frozenset(s) for pid, s in grants.items()}, shared)


def _linked_keys(zone: str, bodies: list[Body], memo: "ViewMemo | None" = None) -> set[str]:
    """Content keys linked from the passages of `bodies` visible in `zone`."""
    out: set[str] = set()
    for body in bodies:
        out.update(memo.linked(zone, body) if memo is not None else _links_of(zone, body))
    return out


def _links_of(zone: str, body: Body) -> list[str]:
    """Content keys linked from the passages of `body` visible in `zone`."""
    out = []
    for html, _ in visible_segments(zone, body):
        for m in _PLACEHOLDER_RE.finditer(html):
            target = body.links[int(m.group(1))].target
            if target:
                out.append(target)
    return out


class ViewMemo:
    """What a long-running process (the gateway) keeps of its last build's views.

    Nothing here decides anything: each view is computed as always, then a project view equal
    to last build's (the same project, post and file records, equal organisations and people)
    is given as that very object again, so that what is memoised by identity (fingerprints)
    still holds; and the links of a body (an immutable record, kept alive by its entry) are
    read once."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], ProjectView] = {}
        self._links: dict[tuple[str, int], tuple[Body, list[str]]] = {}
        self._used_views: dict[tuple[str, str], ProjectView] = {}
        self._used_links: dict[tuple[str, int], tuple[Body, list[str]]] = {}

    def begin(self) -> None:
        """A new build: keep what the last one used."""
        if self._used_views or self._used_links:
            self._views, self._links = self._used_views, self._used_links
            self._used_views, self._used_links = {}, {}

    def project_view(self, zone: str, pv: ProjectView) -> ProjectView:
        """`pv`, or the equal project view of the last build."""
        key = (zone, pv.project.id)
        old = self._views.get(key)
        if (old is not None and old.project is pv.project and old.show_body == pv.show_body
                and _identical(old.posts, pv.posts) and _identical(old.files, pv.files)
                and old.orgs == pv.orgs and old.people == pv.people):
            pv = old
        self._used_views[key] = pv
        return pv

    def linked(self, zone: str, body: Body) -> list[str]:
        """_links_of(zone, body), read once per body record."""
        key = (zone, id(body))
        entry = self._links.get(key) or self._used_links.get(key)
        if entry is None or entry[0] is not body:
            entry = (body, _links_of(zone, body))
        self._used_links[key] = entry
        return entry[1]


def _identical(a: tuple, b: tuple) -> bool:
    """The same records, in the same order."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))
