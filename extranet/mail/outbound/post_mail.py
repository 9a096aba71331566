"""What a notification says: a post (or a day's digest) for one person, in that person's zone.

Staff get the internal zone's version (internal passages marked, internal note address),
external people the mixed zone's: the body is rendered only from
`zones.visible_segments(zone, body)`, its links and attachments only from what that zone's
View holds. Templates are `mail/post.{txt,html}` and `mail/digest.{txt,html}` of the theme;
the envelope is the Composer's, as for every message the site sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html as htmlmod
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from email.utils import formataddr
from pathlib import Path, PurePosixPath

import jinja2
import markdownify
from markupsafe import Markup

from ...config import Person, Settings
from ...content.model import Attachment, Body, Post, Site
from ...messages import format_date, texts
from ...protect.sitekey import url_secret
from ...render.theme import Theme
from ...site.links import LinkResolver
from ...site.urls import Urls
from ...zones import Rules, View, visible_segments
from ..reply_keys import reply_address
from .composer import Composer, File, Sender
from .sent_log import Outgoing


class MailTemplates:
    """Jinja2 templates of the theme's `mail/` folder, a site theme overriding the default."""

    def __init__(self, site_root: Path, theme: str) -> None:
        dirs = [str(d / "mail") for d in Theme(site_root, theme).dirs]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(dirs),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )

    def render(self, name: str, **context) -> str:
        """Render `mail/<name>`."""
        return self.env.get_template(name).render(context)


@dataclass(frozen=True)
class Content:
    """A post's body for one zone: HTML with absolute links, plain text, attachments."""

    html: Markup
    text: str
    attached: tuple[Attachment, ...]
    linked: tuple[Attachment, ...]


class PostMail:
    """The notifications of one notify run (content is rendered once per post and zone)."""

    def __init__(self, site: Site, rules: Rules, urls: Mapping[str, Urls], token_keys: Mapping[int, bytes], now: dt.datetime,
                 templates: MailTemplates | None = None) -> None:
        self.site = site
        self.settings = site.settings
        self.rules = rules
        self.urls = urls
        self.token_keys = token_keys
        self.secret = url_secret(self.settings.state_dir)  # stable site secret: Message-IDs survive key rotation
        self.now = now
        self.lang = self.settings.language
        self.t = texts("notification", self.lang)
        self.templates = templates or MailTemplates(self.settings.root, self.settings.theme)
        self.composer = Composer(Sender.of(self.settings))
        self.projects = {p.id: p for p in site.projects}
        self._content: dict[tuple[str, str], Content] = {}
        self.domain = self.settings.mail.reply_domain

    @cached_property
    def views(self) -> dict[str, View]:
        """Both zones' Views (what each zone may link to and attach)."""
        return self.rules.views()

    # -- identities -----------------------------------------------------------------------
    def _hash(self, text: str) -> str:
        return hmac.new(self.secret, b"message-id\x00" + text.encode(), hashlib.sha256).hexdigest()[:24]

    def message_id(self, post: Post) -> str:
        """The stable Message-ID of a post's notification (opaque: names no project nor post)."""
        return f"<post.{self._hash(post.key)}@{self.domain}>"

    def url(self, zone: str, path: str) -> str:
        """An absolute URL in a zone."""
        return page_url(self.settings, zone, path)

    def _check(self, person: Person, post: Post, zone: str) -> None:
        """Defence in depth: the planner should never ask for a message the zone rules forbid."""
        if not self.rules.reads(person, post, zone):
            raise ValueError(f"{person.id} may not receive {post.key} in the {zone} zone")

    # -- content --------------------------------------------------------------------------
    def content(self, post: Post, zone: str) -> Content:
        """The post's passages visible in `zone`, links absolute, attachments split by size."""
        cached = self._content.get((post.key, zone))
        if cached is None:
            cached = self._content[(post.key, zone)] = self._render(post.body, post.key, zone)
        return cached

    @cached_property
    def links(self) -> dict[str, LinkResolver]:
        """Per zone: the site's link resolution, with absolute URLs and no repeated warnings."""
        return {zone: LinkResolver(view, self.urls[zone], url_of=lambda path, z=zone: self.url(z, path), quiet=True)
                for zone, view in self.views.items()}

    def _render(self, body: Body, source: str, zone: str) -> Content:
        html_parts, text_parts = [], []
        files: dict[str, Attachment] = {}
        for html, internal in visible_segments(zone, body):
            for item in self.links[zone].linked(html, body, source):
                if isinstance(item, Attachment):
                    files.setdefault(item.key, item)
            html = self.links[zone].resolve(html, body, "", source)
            text = markdownify.markdownify(html, heading_style="ATX", bullets="-").strip()
            if internal:
                label = htmlmod.escape(self.t["internal_passage"])
                html = ('<div style="border-left:4px solid #b45309;background:#fff7ed;padding:4px 12px;margin:8px 0">'
                        f'<p style="color:#b45309;font-size:12px;margin:4px 0">{label}</p>{html}</div>')
                text = f"[{self.t['internal_passage']}]\n" + "\n".join(f"| {line}" for line in text.splitlines())
            html_parts.append(html)
            text_parts.append(text)
        limit = self.settings.mail.attach_limit
        attached = tuple(a for a in files.values() if a.size <= limit)
        linked = tuple(a for a in files.values() if a.size > limit)
        return Content(Markup("\n".join(html_parts)), "\n\n".join(text_parts), attached, linked)

    # -- messages -------------------------------------------------------------------------
    def _author(self, post: Post) -> str | None:
        person = self.site.people.people.get(post.author or "")
        if person is None:
            return None
        org = self.site.people.orgs.get(person.org)
        return f"{person.name} ({org.name})" if org else person.name

    def _post_context(self, post: Post, person: Person, zone: str) -> dict:
        project = self.projects[post.project]
        author = self._author(post)
        parent = self._parent(post, zone)
        content = self.content(post, zone)
        notes = self.rules.writes_notes(person)
        return {
            "post": post, "project": project, "title": post.title, "project_title": project.title,
            "date": format_date(post.date.date(), self.lang),
            "headline": (self.t["posted"].format(author=author, project=project.title) if author
                         else self.t["posted_anon"].format(project=project.title)),
            "parent_title": parent.title if parent else None, "content": content,
            "url": self.url(zone, self.urls[zone].post(post)),
            "files": [{"name": PurePosixPath(a.name).name, "size": a.size, "attached": True,
                       "url": self.url(zone, self.urls[zone].attachment(a))} for a in content.attached]
                     + [{"name": PurePosixPath(a.name).name, "size": a.size, "attached": False,
                         "url": self.url(zone, self.urls[zone].attachment(a))} for a in content.linked],
            "reply_address": reply_address(self.settings, self.token_keys, person.id, post.key, "reply"),
            "note_address": reply_address(self.settings, self.token_keys, person.id, post.key, "note") if notes else None,
            "internal_post": notes and self.rules.marked_internal(post), "staff": notes,
        }

    def _parent(self, post: Post, zone: str) -> Post | None:
        parent = self.site.by_key.get(f"projects/{post.project}/posts/{post.in_reply_to}.md") if post.in_reply_to else None
        return parent if isinstance(parent, Post) and self.rules.post_visible(zone, parent) else None

    def _references(self, post: Post, zone: str) -> list[str]:
        """Message-IDs of the visible ancestors, oldest first (stops at a hidden one or a loop)."""
        chain: list[str] = []
        seen = {post.key}
        parent = self._parent(post, zone)
        while parent is not None and parent.key not in seen:
            seen.add(parent.key)
            chain.insert(0, self.message_id(parent))
            parent = self._parent(parent, zone)
        return chain

    def _files(self, files: tuple[Attachment, ...]) -> list[File]:
        root = self.settings.root / "content"
        return [File(PurePosixPath(a.name).name, (root / a.key).read_bytes()) for a in files]

    def post_message(self, post: Post, person: Person, zone: str) -> Outgoing:
        """The notification of `post` for `person`, in the version of `zone`."""
        self._check(person, post, zone)
        ctx = self._post_context(post, person, zone)
        ctx.update(self._common())
        ctx["why"] = self.t["why"].format(project=ctx["project_title"], site=self.settings.title)
        msg = self.composer.message(
            _to(person), f"[{ctx['project_title']}] {post.title}", self.message_id(post),
            text=self.templates.render("post.txt", **ctx), html=self.templates.render("post.html", **ctx),
            date=self.now, references=self._references(post, zone), reply_to=ctx["reply_address"],
            files=self._files(ctx["content"].attached))
        return self.composer.outgoing(msg, person.id, person.email, f"{post.project}/{post.id}")

    def digest_message(self, person: Person, day: dt.date, posts: list[tuple[Post, str]]) -> Outgoing:
        """One message with a day's posts for `person` (no attachments: they are linked)."""
        items = []
        for post, zone in posts:
            self._check(person, post, zone)
            ctx = self._post_context(post, person, zone)
            items.append(ctx)
        day_text = format_date(day, self.lang)
        subject = self.t["digest_subject"].format(site=self.settings.title, day=day_text, count=len(items))
        ctx = {"items": items, "day": day_text, "subject": subject, **self._common(),
               "intro": self.t["digest_intro"].format(day=day_text),
               "why": self.t["why_digest"].format(site=self.settings.title)}
        mid = f"<digest.{day.isoformat()}.{self._hash('digest:' + person.id)}@{self.domain}>"
        msg = self.composer.message(_to(person), subject, mid, text=self.templates.render("digest.txt", **ctx),
                                    html=self.templates.render("digest.html", **ctx), date=self.now)
        return self.composer.outgoing(msg, person.id, person.email, f"digest {day}")

    def _common(self) -> dict:
        return {"t": self.t, "lang": self.lang, "site_title": self.settings.title}


def page_url(settings: Settings, zone: str, path: str) -> str:
    """The absolute URL of a path of a zone's output."""
    return settings.zone_urls[zone].rstrip("/") + "/" + path


def _to(person: Person) -> str:
    return formataddr((person.name, person.email))
