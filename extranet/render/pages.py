"""Render one zone's View into HTML pages, with attachments and static files.

Every page is rendered from a context of declared records (context.py). Returns every output
file with the scope (project, site or person) that may read it, so that the protect stage can
encrypt each file for exactly its readers. With a page memo, a page whose key is the one its
previous output was made from is not rendered again (see memo.py).
"""

from __future__ import annotations

import html as htmlmod
import logging
import re
from collections.abc import Callable
from pathlib import Path

from markupsafe import Markup

from ..cache import digest
from ..content.model import Body, Page, Post, Project
from ..errors import WarningCounter
from ..scopes import SITE_SCOPE, person_scope
from ..site.links import LinkResolver
from ..site.policy import content_security_policy
from ..site.urls import HOME, Urls, relative
from ..zones import ProjectView, View
from .context import (FileLink, Lazy, PageHeader, Participants, PostCard, PostLink, ProjectCard, ProjectHeader,
                      Thread, fingerprint, page_key)
from .i18n import STRINGS, format_date
from .output import ZoneOutput
from .theme import Theme

log = logging.getLogger("extranet")
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|div|tr|td|th|blockquote|pre|dd|dt)>|<br\s*/?>")
Memo = Callable[[str, str], "tuple[str, ...] | None"]  # (path, page key) -> warnings to replay, or None


class Reused:
    """A page left unrendered because its previous output is still valid (same page key);
    `render()` makes its bytes when a later stage needs them after all (a rotated key)."""

    __slots__ = ("key", "_call", "_args")

    def __init__(self, key: str, call: Callable[..., bytes], *args: object) -> None:
        self.key = key
        self._call = call
        self._args = args

    def render(self) -> bytes:
        """The page's bytes."""
        return self._call(*self._args)


def excerpt_of(text: str, length: int) -> str:
    """The first `length` characters of a text (tags removed, entities not yet decoded), white
    space collapsed and entities decoded, cut at a word with "…" when the text is longer."""
    words = text.split(None, length)
    start = htmlmod.unescape(" ".join(words[:length])).strip()
    if len(words) > length and len(start) <= length:  # entities decoded to white space, stripped
        start = htmlmod.unescape(" ".join(text.split())).strip()
    return start if len(start) <= length else start[: length - 1].rsplit(" ", 1)[0] + "…"


class ZoneRenderer:
    """Renders every page of one zone."""

    def __init__(self, view: View, urls: Urls, theme: Theme, *, preview_banner: str = "",
                 livereload: bool = False, memo: Memo | None = None) -> None:
        self.view = view
        self.urls = urls
        self.theme = theme
        self.settings = view.site.settings
        self.lang = self.settings.language
        self.t = STRINGS[self.lang]
        self.people = view.site.people
        self.links = LinkResolver(view, urls)
        self.banner = preview_banner
        self.livereload = livereload
        self.memo = memo
        self.out = ZoneOutput(view.zone)
        self.nav = tuple(self.page_header(p) for p in view.pages)
        self.csp = content_security_policy(self.settings.remote_images)
        self.zone_key = digest(theme.digest, repr(self.settings), repr(self.people), view.zone, preview_banner,
                               str(livereload), (urls.secret or b"").hex(), fingerprint(self.nav), self.csp)
        self._excerpts: dict[str, str] = {}
        self._rendered_groups: dict[str, dict] = {}

    # -- the records a page is given --------------------------------------------------------
    def shared(self, key: str) -> bool:
        """(Internal zone) whether the mixed zone shows this item too."""
        return key in self.view.shared

    def link(self, post: Post) -> PostLink:
        """A post as a link shows it."""
        return PostLink(post.key, post.id, post.project, post.title, post.date)

    def card(self, post: Post) -> PostCard:
        """A post as a listing shows it."""
        return PostCard(post.key, post.id, post.project, post.title, post.date, post.author, post.source,
                        post.key in self.view.waiting, self.shared(post.key), post.tags, self.excerpt(post.body))

    def header(self, project: Project) -> ProjectHeader:
        """A project as each of its pages shows it."""
        return ProjectHeader(project.key, project.id, project.title, project.summary, project.status,
                             self.shared(project.key))

    def page_header(self, page: Page) -> PageHeader:
        """A site-wide page as the navigation shows it."""
        return PageHeader(page.key, page.name, page.title, self.shared(page.key))

    def excerpt(self, body: Body, length: int = 180) -> str:
        """Plain-text start of the passages this zone shows (once per body)."""
        key = digest(body.digest or body.text, str(length))
        text = self._excerpts.get(key)
        if text is None:
            parts = (_TAG.sub("", _BLOCK_END.sub(" ", h)) for h, _ in self.view.segments(body))
            text = self._excerpts[key] = excerpt_of(" ".join(parts), length)
        return text

    def content(self, body: Body, here: str, source: str) -> Lazy:
        """A body's HTML on one page: keyed by the body and what its links resolve to."""
        key = digest(body.digest or digest(body.text), here, source, repr(self.links.signature(body, source)))
        return Lazy(key, lambda: self.body_html(body, here, source))

    def body_html(self, body: Body, here: str, source: str) -> Markup:
        """The passages of a body this zone shows, links resolved, internal ones marked."""
        parts = []
        for html, internal in self.view.segments(body):
            html = self.links.resolve(html, body, here, source)
            if internal:
                html = (f'<aside class="internal-block" aria-label="{self.t["internal"]}">'
                        f'<p class="internal-label">{self.t["internal_note"]}</p>{html}</aside>')
            parts.append(html)
        return Markup("\n".join(parts))

    def person(self, pid: str | None) -> dict | None:
        """Display data of a person (name and organisation): zone-wide, from the people file."""
        p = self.people.people.get(pid or "")
        if p is None:
            return None
        org = self.people.orgs.get(p.org)
        return {"name": p.name, "org": org.name if org else p.org}

    # -- writing pages ----------------------------------------------------------------------
    def write(self, template: str, path: str, scope: str, **context) -> None:
        """Render `template` to `path` in `scope`, unless the memo knows its output."""
        key = page_key(self.zone_key, template, path, scope, context) if self.memo is not None else None
        if key is not None:
            replay = self.memo(path, key)
            if replay is not None:
                for message in replay:
                    log.warning("%s", message)
                self.out.add(path, Reused(key, lambda: self._render(template, path, context, quiet=True)[0]), scope)
                self.out.keys[path] = (key, replay)
                self.out.pages += 1
                return
        data, warnings = self._render(template, path, context)
        self.out.add(path, data, scope)
        if key is not None:
            self.out.keys[path] = (key, warnings)
        self.out.pages += 1

    def _render(self, template: str, path: str, context: dict, quiet: bool = False) -> tuple[bytes, tuple[str, ...]]:
        """The bytes of one page and the warnings logged while rendering it (`quiet`: already
        replayed for a reused page, so not logged again)."""
        catcher = WarningCounter()
        log.addHandler(catcher)
        silenced = quiet and _drop not in log.filters
        if silenced:
            log.addFilter(_drop)
        try:
            values = {k: (v.compute() if isinstance(v, Lazy) else v) for k, v in context.items()}
            return self._template(template, path, values), tuple(catcher.messages)
        finally:
            log.removeHandler(catcher)
            if silenced:
                log.removeFilter(_drop)

    def _template(self, template: str, path: str, context: dict) -> bytes:
        """Render one template with the zone-wide values and `context`."""
        ctx = dict(
            site=self.settings, zone=self.view.zone, t=self.t, lang=self.lang, here=path,
            url=lambda target: relative(path, target), urls=self.urls, home=HOME, nav_pages=self.nav,
            banner=self.banner, internal=self.view.complete, livereload=self.livereload,
            date=lambda d: format_date(d, self.lang), person=self.person,
            protected=self.urls.secret is not None, csp=self.csp,
        )
        ctx.update(context)
        return self.theme.env.get_template(template).render(ctx).encode("utf-8")

    # -- pages of the zone ------------------------------------------------------------------
    def start(self) -> None:
        """The zone-wide pages: home, person homes, site pages."""
        view = self.view
        # a local preview (never a published build) links every person's home from the mixed home
        homes = tuple((self.people.people[pid].name, self.urls.person_home(pid)) for pid in sorted(view.grants)
                      if self.banner and view.personal and pid in self.people.people)
        self.write("home.html", HOME, SITE_SCOPE, projects=self.project_cards(view.projects),
                   personal=False, preview_homes=homes)
        if view.personal:
            for pid in sorted(view.grants):
                self.write("home.html", self.urls.person_home(pid), person_scope(pid),
                           projects=self.project_cards(view.projects_of(pid)), personal=True, preview_homes=())
        for page in view.pages:
            path = self.urls.page(page)
            self.write("page.html", path, SITE_SCOPE, page=self.page_header(page),
                       content=self.content(page.body, path, page.key))

    def finish(self) -> ZoneOutput:
        """Add the theme's static files; the zone's output is complete."""
        for name, src in self.theme.static_files().items():
            if name == "livereload.js" and not self.livereload:
                continue
            self.out.add(f"static/{name}", src.read_bytes(), None)
        return self.out

    def project_cards(self, projects: tuple[ProjectView, ...]) -> tuple[ProjectCard, ...]:
        """Listing data for a home page."""
        return tuple(ProjectCard(self.header(pv.project), self.urls.project(pv.project), len(pv.posts),
                                 pv.posts[-1].date if pv.posts else None) for pv in projects)

    def group_key(self, pv: ProjectView) -> str | None:
        """The hash of everything every page of a project is rendered from: the zone-wide
        values, the project's and each visible post's source (their content digests), what
        this zone shows of them, and what each shown body's links resolve to."""
        if self.memo is None:
            return None
        project = pv.project
        held = self.view.held or {}
        parts = [self.zone_key, "group", project.digest, str(pv.show_body), fingerprint(self.header(project)),
                 fingerprint(self.participants(pv)), repr(self.links.signature(project.body, project.key))]
        for post in pv.posts:
            parts += [post.digest, str(self.shared(post.key)), held.get(post.key, ""),
                      repr(self.links.signature(post.body, post.key))]
        parts += [f"{a.key}\0{a.sha256}\0{self.shared(a.key)}" for a in pv.files]
        return digest(*parts)

    # -- projects, kept whole when their group key is unchanged ------------------------------
    def plan(self, pv: ProjectView) -> tuple[str | None, list | None]:
        """The group key of a project and, when the previous build rendered that very group
        and its files are intact, its pages as (path, page key, warnings) to reuse."""
        gkey = self.group_key(pv)
        group = getattr(self.memo, "group", None)
        return gkey, group(gkey) if gkey and group else None

    def reuse(self, pv: ProjectView, gkey: str, entries: list) -> None:
        """Take over a project's pages from the previous build (rendered only if needed)."""
        for path, key, replay in entries:
            for message in replay:
                log.warning("%s", message)
            self.out.add(path, Reused(key, ZoneRenderer._group_page, self, pv, path), pv.project.id)
            self.out.keys[path] = (key, replay)
        self.out.pages += len(entries)
        self.out.groups[gkey] = tuple(path for path, _, _ in entries)
        self.attachments(pv)

    def render_project(self, pv: ProjectView, gkey: str | None) -> None:
        """Render (or reuse, page by page) a project's pages; remember them as a group."""
        before, pages = set(self.out.keys), self.out.pages
        self.project(pv)
        made = tuple(p for p in self.out.keys if p not in before)
        if gkey and len(made) == self.out.pages - pages:
            self.out.groups[gkey] = made

    def adopt(self, pv: ProjectView, gkey: str | None, part: ZoneOutput) -> None:
        """Add a project's pages rendered in a worker process (render/pool.py); a page it
        reused comes back as its key, rendered here with its group if its bytes are needed."""
        for path, data in part.files.items():
            if isinstance(data, str):
                data = Reused(data, ZoneRenderer._group_page, self, pv, path)
            self.out.add(path, data, part.scopes.get(path))
        self.out.keys.update(part.keys)
        self.out.pages += part.pages
        if gkey and len(part.keys) == part.pages:
            self.out.groups[gkey] = tuple(part.keys)

    def _group_page(self, pv: ProjectView, path: str) -> bytes:
        """A page of a reused project, rendered after all (its bytes are needed)."""
        cached = self._rendered_groups.get(pv.project.id)
        if cached is None:
            scratch = ZoneRenderer(self.view, self.urls, self.theme, preview_banner=self.banner,
                                   livereload=self.livereload)
            log.addFilter(_drop)  # its warnings were replayed already
            try:
                scratch.project(pv)
            finally:
                log.removeFilter(_drop)
            cached = self._rendered_groups[pv.project.id] = scratch.out.files
        return cached[path]

    def project(self, pv: ProjectView) -> None:
        """Every page of a project: its page, its posts, its tags; and its attachments."""
        project = pv.project
        scope, path = project.id, self.urls.project(project)
        header = self.header(project)
        self.write("project.html", path, scope, project=header,
                   content=self.content(project.body, path, project.key) if pv.show_body else None,
                   threads=self.threads(pv), files=self.file_links(pv, path), participants=self.participants(pv),
                   tags=tuple(self.tags(pv)))
        posts = pv.posts
        by_id = {p.id: p for p in posts}
        replies: dict[str, list[Post]] = {}
        for p in posts:
            if p.in_reply_to in by_id:
                replies.setdefault(p.in_reply_to, []).append(p)
        held = self.view.held or {}
        for i, post in enumerate(posts):
            ppath = self.urls.post(post)
            parent = by_id.get(post.in_reply_to or "")
            self.write("post.html", ppath, scope, project=header, post=self.card(post),
                       content=self.content(post.body, ppath, post.key),
                       parent=self.link(parent) if parent else None,
                       replies=tuple(self.link(r) for r in replies.get(post.id, ())),
                       previous=self.link(posts[i - 1]) if i > 0 else None,
                       next=self.link(posts[i + 1]) if i + 1 < len(posts) else None,
                       original=self.view.original(post), held=held.get(post.key))
        for tag, tagged in self.tags(pv).items():
            self.write("tag.html", self.urls.tag(project.id, tag), scope, project=header, tag=tag,
                       posts=tuple(self.card(p) for p in tagged))
        self.attachments(pv)

    def attachments(self, pv: ProjectView) -> None:
        """The files a project shows in this zone."""
        root = self.view.site.settings.root / "content"
        for att in pv.files:
            self.out.add(self.urls.attachment(att), (root / att.key).read_bytes(), pv.project.id)

    def threads(self, pv: ProjectView) -> tuple[Thread, ...]:
        """Visible posts as threads: newest thread first, replies oldest first."""
        visible = {p.id for p in pv.posts}
        children: dict[str | None, list[Post]] = {}
        for post in pv.posts:
            parent = post.in_reply_to if post.in_reply_to in visible else None
            children.setdefault(parent, []).append(post)

        def thread(post: Post) -> Thread:
            return Thread(self.card(post), tuple(thread(c) for c in children.get(post.id, [])))

        return tuple(sorted((thread(p) for p in children.get(None, [])), key=lambda t: t.post.date, reverse=True))

    def tags(self, pv: ProjectView) -> dict[str, list[Post]]:
        """Tags of the visible posts of a project."""
        out: dict[str, list[Post]] = {}
        for post in pv.posts:
            for tag in post.tags:
                out.setdefault(tag, []).append(post)
        return dict(sorted(out.items()))

    def file_links(self, pv: ProjectView, here: str) -> tuple[FileLink, ...]:
        """The attachment list of a project page."""
        return tuple(FileLink(a.name, relative(here, self.urls.attachment(a)), Path(a.name).name,
                              _size(a.size, self.lang), self.shared(a.key)) for a in pv.files)

    def participants(self, pv: ProjectView) -> tuple[Participants, ...]:
        """The organisations taking part with their people, the other people shown, then the
        staff who wrote (the zone's view says who it shows)."""
        orgs = self.people.orgs
        groups = [Participants(org.name, self.t.get(org.kind or "", ""), tuple(p.name for p in pv.people
                                                                          if p.org == org.id))
                  for org in pv.orgs]
        groups += [Participants(orgs[p.org].name, self.t.get(orgs[p.org].kind or "", ""), (p.name,))
                   for p in pv.people if p.org not in pv.project.orgs]
        own = orgs.get(self.settings.org)
        if pv.staff and own:
            groups.append(Participants(own.name, self.t["staff"], tuple(p.name for p in pv.staff)))
        return tuple(groups)


def _drop(record: logging.LogRecord) -> bool:
    """A logging filter that drops everything."""
    return False


def _size(n: float, lang: str) -> str:
    """A file size people read: '820 B', '12 KB', '3.4 MB' (octets in French)."""
    unit = "o" if lang == "fr" else "B"
    if n < 1024:
        return f"{int(n)} {unit}"
    for prefix in ("K", "M", "G"):
        n /= 1024
        if n < 1024 or prefix == "G":
            text = f"{n:.1f}" if n < 10 else f"{n:.0f}"
            return f"{text.replace('.', ',') if lang == 'fr' else text} {prefix}{unit}"
    return ""
