"""Render one zone's View into HTML pages, with attachments and static files.

Returns every output file with the scope (project, site or person) that may read it, so that
the protect stage can encrypt each file for exactly its readers.
"""

from __future__ import annotations

import html as htmlmod
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from ..config import Person
from ..content.model import Body, Post
from ..site.links import LinkResolver
from ..site.policy import content_security_policy
from ..site.urls import HOME, Urls, relative
from ..zones import INTERNAL, SITE_SCOPE, ProjectView, View, person_scope
from ..cache import FORMAT, digest
from .fingerprint import Fingerprint, Kept, Lazy, Unhashable
from .i18n import STRINGS, format_date
from .narrow import CardView, header
from .output import ZoneOutput
from .theme import Theme

log = logging.getLogger("extranet")
Memo = Callable[[str, str], "tuple[str, ...] | None"]  # (path, page key) -> warnings to replay, or None

PAGE_TEMPLATES = ("home.html", "page.html", "project.html", "post.html", "tag.html")  # what write() renders
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|div|tr|td|th|blockquote|pre|dd|dt)>|<br\s*/?>")


class Deferred:
    """A page left unrendered because its previous output is still valid (same page key).

    `render()` produces its bytes — `call(*args)` — when a later stage needs them after all
    (a new canary to check, a rotated key); otherwise the previous output file is linked into
    the new tree. (One small object per page: a build at 10,000 posts defers 22,000.)
    """

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
    words = text.split(None, length)  # runs of white space collapsed, only as far as needed
    start = htmlmod.unescape(" ".join(words[:length])).strip()  # (no entity spans a space)
    if len(words) > length and len(start) <= length:  # entities decoded to white space, stripped
        start = htmlmod.unescape(" ".join(text.split())).strip()
    return start if len(start) <= length else start[: length - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class Thread:
    """A post with its visible replies, for threaded listings."""

    post: Post
    replies: tuple["Thread", ...]


class ZoneRenderer:
    """Renders every page of one zone."""

    def __init__(self, view: View, urls: Urls, theme: Theme, *, preview_banner: str = "",
                 livereload: bool = False, memo: Memo | None = None, fingerprints: Kept | None = None) -> None:
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
        self.out = ZoneOutput(view.zone)
        self.memo = memo
        self.fp = Fingerprint(view.shared, fingerprints)
        self.narrowing = theme.narrowing
        self._groups_rendered: dict[str, dict[str, bytes]] = {}
        self._excerpts: dict[tuple[int, int], tuple[Body, str]] = {}
        if memo is not None:
            try:
                self.zone_key = digest(FORMAT, theme.digest, repr(self.settings),
                                       repr(self.people), view.zone, preview_banner, str(livereload),
                                       (urls.secret or b"").hex(), self.fp.of(view.pages))
            except Unhashable:
                self.memo = None

    # -- helpers --------------------------------------------------------------------------
    def body_html(self, body: Body, here: str, where: str) -> Markup:
        """The passages of a body this zone shows, links resolved, internal ones marked."""
        parts = []
        for html, internal in self.view.segments(body):
            html = self.links.resolve(html, body, here, where)
            if internal:
                html = (f'<aside class="internal-block" aria-label="{self.t["internal"]}">'
                        f'<p class="internal-label">{self.t["internal_note"]}</p>{html}</aside>')
            parts.append(html)
        return Markup("\n".join(parts))

    def excerpt(self, body: Body, length: int = 180) -> str:
        """Plain-text start of the passages this zone shows (computed once per body and
        length: a post is listed on its project's page and on each of its tags' pages)."""
        kept = self._excerpts.get((id(body), length))
        if kept is not None and kept[0] is body:  # (the entry keeps the body alive: its id is its own)
            return kept[1]
        text = self._excerpt(body, length)
        self._excerpts[(id(body), length)] = (body, text)
        return text

    def _excerpt(self, body: Body, length: int) -> str:
        return excerpt_of(" ".join(_TAG.sub("", _BLOCK_END.sub(" ", html)) for html, _ in self.view.segments(body)),
                          length)

    def person(self, pid: str | None) -> dict | None:
        """Display data of a person (name and organisation)."""
        p = self.people.people.get(pid or "")
        if p is None:
            return None
        org = self.people.orgs.get(p.org)
        return {"name": p.name, "org": org.name if org else p.org}

    def threads(self, pv: ProjectView) -> list[Thread]:
        """Visible posts as threads: newest thread first, replies oldest first."""
        visible = {p.id for p in pv.posts}
        children: dict[str | None, list[Post]] = {}
        for post in pv.posts:
            parent = post.in_reply_to if post.in_reply_to in visible else None
            children.setdefault(parent, []).append(post)

        def build(post: Post) -> Thread:
            return Thread(post, tuple(build(c) for c in children.get(post.id, [])))

        return sorted((build(p) for p in children.get(None, [])), key=lambda t: t.post.date, reverse=True)

    def content(self, body: Body, here: str, where: str) -> Lazy:
        """A body's HTML for one page, computed only if the page is rendered."""
        key = digest(body.digest, here, where, repr(self.links.signature(body, where)))
        return Lazy(key, lambda: self.body_html(body, here, where))

    def write(self, template: str, path: str, scope: str, **context) -> None:
        """Render `template` to `path` in the given scope, unless the memo knows its output.
        The page gets (and is keyed by) only the parts of its project it can read (narrow.py)."""
        drop_pv, project_header = self.narrowing.of(template)
        if drop_pv:
            context.pop("pv", None)
        if project_header and "project" in context:
            context["project"] = header(context["project"])
        key = None
        if self.memo is not None:
            try:
                key = digest(self.zone_key, template, path, scope, self.fp.of(context))
            except Unhashable:
                key = None
        if key is not None:
            replay = self.memo(path, key)
            if replay is not None:
                for message in replay:
                    log.warning("%s", message)
                self.out.add(path, Deferred(key, lambda: self._render(template, path, context, quiet=True)[0]),
                             scope)
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
        replayed for a deferred page, so not logged again)."""
        catcher = _Catcher()
        log.addHandler(catcher)
        silenced = quiet and _drop not in log.filters  # (a caller may have silenced the log already)
        if silenced:
            log.addFilter(_drop)
        try:
            context = {k: (v.compute() if isinstance(v, Lazy) else v) for k, v in context.items()}
            return self._template(template, path, context), tuple(catcher.messages)
        finally:
            log.removeHandler(catcher)
            if silenced:
                log.removeFilter(_drop)

    def _template(self, template: str, path: str, context: dict) -> bytes:
        """Render one template with the zone-wide values and `context`."""
        ctx = dict(
            site=self.settings, zone=self.view.zone, t=self.t, lang=self.lang, here=path,
            url=lambda target: relative(path, target), urls=self.urls, home=HOME,
            nav_pages=self.view.pages, banner=self.banner, internal=self.view.zone == INTERNAL,
            livereload=self.livereload,
            date=lambda d: format_date(d, self.lang), person=self.person,
            protected=self.urls.secret is not None, shared=self.view.shared,
            csp=content_security_policy(self.settings.remote_images),
        )
        ctx.update(context)
        return self.theme.env.get_template(template).render(ctx).encode("utf-8")

    # -- pages ----------------------------------------------------------------------------
    def start(self) -> None:
        """The zone-wide pages: home, person homes, site pages."""
        view = self.view
        # a local preview (never a published build) links every person's home from the mixed home
        homes = [(self.people.people[pid].name, self.urls.person_home(pid)) for pid in sorted(view.grants)
                 if self.banner and view.zone != INTERNAL and pid in self.people.people]
        self.write("home.html", HOME, SITE_SCOPE, projects=self.project_cards(view.projects),
                   personal=False, preview_homes=homes)
        if view.zone != INTERNAL:
            for pid in sorted(view.grants):
                self.write("home.html", self.urls.person_home(pid), person_scope(pid),
                           projects=self.project_cards(view.projects_of(pid)), personal=True, preview_homes=[])
        for page in view.pages:
            path = self.urls.page(page)
            self.write("page.html", path, SITE_SCOPE, page=page,
                       content=self.content(page.body, path, page.key))

    def finish(self) -> ZoneOutput:
        """Add the theme's static files; the zone's output is complete."""
        for name, src in self.theme.static_files().items():
            if name == "livereload.js" and not self.livereload:
                continue
            self.out.add(f"static/{name}", src.read_bytes(), None)
        return self.out

    def project_cards(self, projects: tuple[ProjectView, ...]) -> list[dict]:
        """Listing data for the home page."""
        narrow = self.narrowing.cards("home.html")
        return [{"pv": CardView(header(pv.project)) if narrow else pv, "url": self.urls.project(pv.project),
                 "count": len(pv.posts), "last": pv.posts[-1].date if pv.posts else None} for pv in projects]

    def plan(self, pv: ProjectView) -> tuple[str | None, list | None]:
        """The group key of a project (everything its pages are rendered from) and, when the
        previous build rendered that very group and its files are intact, its pages as (path,
        page key, warnings): then `reuse` takes them over without computing each page's key,
        else `render_project` (or a worker, render/pool.py) renders them."""
        gkey = self.group_key(pv)
        reuse = getattr(self.memo, "group", None) if gkey else None
        return gkey, reuse(gkey) if reuse else None

    def reuse(self, pv: ProjectView, gkey: str, entries: list) -> None:
        """Take over a project's pages from the previous build (deferred: rendered only if needed)."""
        files, scopes, keys, scope = self.out.files, self.out.scopes, self.out.keys, pv.project.id
        for path, key, replay in entries:  # (22,000 pages at 10,000 posts: kept lean)
            for message in replay:
                log.warning("%s", message)
            if path in files:
                raise ValueError(f"two outputs at {path}")
            files[path] = Deferred(key, ZoneRenderer._group_page, self, pv, path)
            scopes[path] = scope
            keys[path] = (key, replay)
        self.out.pages += len(entries)
        self.out.groups[gkey] = tuple(path for path, _, _ in entries)
        self._attachments(pv)

    def render_project(self, pv: ProjectView, gkey: str | None) -> None:
        """Render (or defer, page by page) a project's pages; remember them as a group when
        every page has a key."""
        before, pages = set(self.out.keys), self.out.pages
        self._project(pv)
        made = tuple(p for p in self.out.keys if p not in before)
        if gkey and len(made) == self.out.pages - pages:  # every page has a key: the group can be reused
            self.out.groups[gkey] = made

    def adopt(self, pv: ProjectView, gkey: str | None, part: ZoneOutput) -> None:
        """Add a project's pages rendered elsewhere (a worker process: render/pool.py); a page
        it deferred is a page key here, rendered with its group if its bytes are needed."""
        for path, data in part.files.items():
            if isinstance(data, str):
                data = Deferred(data, ZoneRenderer._group_page, self, pv, path)
            self.out.add(path, data, part.scopes.get(path))
        self.out.keys.update(part.keys)
        self.out.pages += part.pages
        self.out.sealed.update(part.sealed)
        if gkey and len(part.keys) == part.pages:
            self.out.groups[gkey] = tuple(part.keys)

    def group_key(self, pv: ProjectView) -> str | None:
        """The hash of what every page of a project is rendered from: the zone-wide values,
        the project view (its project, visible posts and files, each with whether it is
        shared) and what each shown body's links resolve to in this zone."""
        if self.memo is None:
            return None
        bodies = ([(pv.project.body, pv.project.key)] if pv.show_body else []) + [(p.body, p.key) for p in pv.posts]
        try:
            return digest(self.zone_key, "project-group", self.fp.of(pv),
                          repr([self.links.signature(b, source) for b, source in bodies]))
        except Unhashable:
            return None

    def _group_page(self, pv: ProjectView, path: str) -> bytes:
        """A page of a reused project group, rendered after all (its bytes are needed)."""
        cached = self._groups_rendered.get(pv.project.id)
        if cached is None:
            scratch = ZoneRenderer(self.view, self.urls, self.theme, preview_banner=self.banner,
                                   livereload=self.livereload)
            log.addFilter(_drop)  # its warnings were replayed already
            try:
                scratch._project(pv)
            finally:
                log.removeFilter(_drop)
            cached = self._groups_rendered[pv.project.id] = scratch.out.files
        return cached[path]

    def _project(self, pv: ProjectView) -> None:
        """Render (or defer, page by page) every page of a project."""
        project = pv.project
        scope = project.id
        path = self.urls.project(project)
        staff_ids = {p.author for p in pv.posts if p.author} & {
            pid for pid, p in self.people.people.items() if p.org == self.settings.org}
        staff = [self.people.people[s] for s in sorted(staff_ids)]
        self.write("project.html", path, scope, pv=pv, project=project,
                   content=self.content(project.body, path, project.key) if pv.show_body else None,
                   threads=self.threads(pv), excerpt=self.excerpt, files=self.file_links(pv, path),
                   participants=self.participants(pv, staff), tags=self.tags(pv))
        posts = list(pv.posts)
        by_id = {p.id: p for p in posts}
        replies: dict[str, list[Post]] = {}
        for p in posts:
            if p.in_reply_to in by_id:
                replies.setdefault(p.in_reply_to, []).append(p)
        for i, post in enumerate(posts):
            ppath = self.urls.post(post)
            self.write("post.html", ppath, scope, pv=pv, project=project, post=post,
                       content=self.content(post.body, ppath, post.key),
                       parent=by_id.get(post.in_reply_to or ""), replies=replies.get(post.id, []),
                       previous=posts[i - 1] if i > 0 else None,
                       next=posts[i + 1] if i + 1 < len(posts) else None,
                       original=self.view.original(post), held=(self.view.held or {}).get(post.key))
        for tag, tagged in self.tags(pv).items():
            self.write("tag.html", self.urls.tag(project.id, tag), scope, pv=pv, project=project,
                       tag=tag, posts=tagged, excerpt=self.excerpt)
        self._attachments(pv)

    def _attachments(self, pv: ProjectView) -> None:
        """The files a project shows in this zone."""
        root = self.view.site.settings.root / "content"
        for att in pv.files:
            self.out.add(self.urls.attachment(att), (root / att.key).read_bytes(), pv.project.id)

    def tags(self, pv: ProjectView) -> dict[str, list[Post]]:
        """Tags of the visible posts of a project."""
        out: dict[str, list[Post]] = {}
        for post in pv.posts:
            for tag in post.tags:
                out.setdefault(tag, []).append(post)
        return dict(sorted(out.items()))

    def file_links(self, pv: ProjectView, here: str) -> list[dict]:
        """The attachment list of a project page."""
        return [{"name": a.name, "url": relative(here, self.urls.attachment(a)),
                 "download": Path(a.name).name, "size": _size(a.size, self.lang),
                 "shared": a.key in self.view.shared} for a in pv.files]

    def participants(self, pv: ProjectView, staff: list[Person]) -> list[dict]:
        """Organisations with their people (externals in the mixed zone), then staff authors."""
        groups = []
        for org in pv.orgs:
            members = [p for p in pv.people if p.org == org.id] if self.view.zone != INTERNAL else [
                p for p in self.people.people.values() if p.org == org.id]
            groups.append({"org": org, "kind": self.t.get(org.kind or "", ""), "people": members})
        extra = [p for p in pv.people if p.org not in pv.project.orgs]
        if self.view.zone == INTERNAL:
            extra = [self.people.people[m] for m in pv.project.members if m in self.people.people]
        for p in extra:
            org = self.people.orgs[p.org]
            groups.append({"org": org, "kind": self.t.get(org.kind or "", ""), "people": [p]})
        own = self.people.orgs.get(self.settings.org)
        if staff and own:
            groups.append({"org": own, "kind": self.t["staff"], "people": staff})
        return groups


def _drop(record: logging.LogRecord) -> bool:
    """A logging filter that drops everything."""
    return False


class _Catcher(logging.Handler):
    """Keeps the warnings logged while one page renders (replayed when the page is reused)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _size(n: int, lang: str) -> str:
    """A file size people read: '820 B', '12 KB', '3.4 MB' (octets in French)."""
    unit = "o" if lang == "fr" else "B"
    if n < 1024:
        return f"{n} {unit}"
    for prefix in ("K", "M", "G"):
        n /= 1024
        if n < 1024 or prefix == "G":
            text = f"{n:.1f}" if n < 10 else f"{n:.0f}"
            return f"{text.replace('.', ',') if lang == 'fr' else text} {prefix}{unit}"
    return ""

