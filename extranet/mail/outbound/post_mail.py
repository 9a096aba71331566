"""One notification message: a post (or a day's digest) for one person, in that person's zone.

Staff get the internal zone's version (internal passages marked, internal note address),
external people the mixed zone's: the body is rendered only from
`zones.visible_segments(zone, body)`, its links and attachments only from what that zone's
View holds. Templates are `mail/post.{txt,html}` and `mail/digest.{txt,html}` of the theme.
"""

from __future__ import annotations

from collections.abc import Mapping

import datetime as dt
import hashlib
import hmac
import html as htmlmod
import mimetypes
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from functools import cached_property
from pathlib import Path, PurePosixPath

import jinja2
import markdownify
from markupsafe import Markup

from ...config import Person
from ...site.links import LinkResolver
from ...content.model import Attachment, Body, Post, Site
from ...render.i18n import format_date
from ...render.theme import Theme
from ...site.urls import Urls
from ...zones import INTERNAL, MIXED, ZONES, Rules, View, visible_segments
from ..reply_keys import reply_address
from .sent_log import Outgoing


STRINGS = {
    "fr": {
        "posted": "{author} a publié dans « {project} »", "posted_anon": "Nouveau message dans « {project} »",
        "in_reply_to": "En réponse à « {title} »", "view": "Voir sur le site", "attachments": "Pièces jointes",
        "attached": "jointe", "linked": "trop lourde pour être jointe : lien", "internal_post":
        "Message interne : réservé à l'équipe.", "internal_passage": "Passage interne : absent de la version partagée",
        "reply": "Répondez à ce courriel pour publier votre réponse sur le site.",
        "note": "Pour une note interne (visible de l'équipe seulement), écrivez à cette adresse :",
        "why": "Vous recevez ce message parce que vous participez au projet « {project} » sur {site}.",
        "digest_subject": "[{site}] Résumé du {day} : {count} message(s)",
        "digest_intro": "Les nouveaux messages du {day} :", "reply_link": "Répondre",
        "note_link": "Note interne", "why_digest": "Vous recevez ce résumé quotidien de {site}.",
    },
    "en": {
        "posted": "{author} posted in “{project}”", "posted_anon": "New post in “{project}”",
        "in_reply_to": "In reply to “{title}”", "view": "View on the site", "attachments": "Attachments",
        "attached": "attached", "linked": "too large to attach: link", "internal_post":
        "Internal post: staff only.", "internal_passage": "Internal passage: not in the shared version",
        "reply": "Reply to this email to post your answer on the site.",
        "note": "For an internal note (seen by staff only), reply to this address instead:",
        "why": "You receive this because you take part in the project “{project}” on {site}.",
        "digest_subject": "[{site}] Digest of {day}: {count} post(s)",
        "digest_intro": "New posts of {day}:", "reply_link": "Reply",
        "note_link": "Internal note", "why_digest": "You receive this daily digest from {site}.",
    },
}


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


class Composer:
    """Builds the messages of one notify run (content is rendered once per post and zone)."""

    def __init__(self, site: Site, rules: Rules, urls: Mapping[str, Urls], token_keys: Mapping[int, bytes], now: dt.datetime,
                 templates: MailTemplates | None = None) -> None:
        from ...protect.sitekey import url_secret

        self.site = site
        self.settings = site.settings
        self.rules = rules
        self.urls = urls
        self.token_keys = token_keys
        self.secret = url_secret(self.settings.state_dir)  # stable site secret: Message-IDs survive key rotation
        self.now = now
        self.lang = self.settings.language
        self.t = STRINGS[self.lang]
        self.templates = templates or MailTemplates(self.settings.root, self.settings.theme)
        self.projects = {p.id: p for p in site.projects}
        self._content: dict[tuple[str, str], Content] = {}
        self.domain = self.settings.mail.reply_domain

    @cached_property
    def views(self) -> dict[str, View]:
        """Both zones' Views (what each zone may link to and attach)."""
        return {zone: self.rules.view(zone) for zone in ZONES}

    # -- identities -----------------------------------------------------------------------
    def _hash(self, text: str) -> str:
        return hmac.new(self.secret, b"message-id\x00" + text.encode(), hashlib.sha256).hexdigest()[:24]

    def message_id(self, post: Post) -> str:
        """The stable Message-ID of a post's notification (opaque: names no project nor post)."""
        return f"<post.{self._hash(post.key)}@{self.domain}>"

    def zone_of(self, person: Person) -> str:
        """Staff read the internal zone, everybody else the mixed one."""
        return INTERNAL if self.rules.is_staff(person) else MIXED

    def url(self, zone: str, path: str) -> str:
        """An absolute URL in a zone."""
        return self.settings.zone_urls[zone].rstrip("/") + "/" + path

    def _check(self, person: Person, post: Post, zone: str) -> None:
        """Defence in depth: the planner should never ask for a message the zone rules forbid."""
        project = self.projects[post.project]
        if zone != self.zone_of(person) or not self.rules.post_visible(zone, post) or \
                person.id not in {p.id for p in self.rules.readers(zone, project)}:
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
        staff = zone == INTERNAL
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
            "note_address": reply_address(self.settings, self.token_keys, person.id, post.key, "note") if staff else None,
            "internal_post": staff and post.visibility != MIXED, "staff": staff,
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

    def _envelope(self, person: Person, subject: str, message_id: str) -> EmailMessage:
        msg = EmailMessage(policy=SMTP)
        msg["From"] = formataddr((self.settings.title, self.settings.mail.from_addr))
        msg["To"] = formataddr((person.name, person.email))
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.now.astimezone())
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Extranet-Loop"] = self.domain  # the gateway drops anything that comes back with it
        msg["X-Auto-Response-Suppress"] = "All"
        return msg

    def _attach(self, msg: EmailMessage, files: tuple[Attachment, ...]) -> None:
        root = self.settings.root / "content"
        for att in files:
            ctype = mimetypes.guess_type(att.name)[0] or "application/octet-stream"
            maintype, subtype = ctype.split("/", 1)
            msg.add_attachment((root / att.key).read_bytes(), maintype=maintype, subtype=subtype,
                               filename=PurePosixPath(att.name).name)

    def post_message(self, post: Post, person: Person, zone: str) -> Outgoing:
        """The notification of `post` for `person`, in the version of `zone`."""
        self._check(person, post, zone)
        ctx = self._post_context(post, person, zone)
        ctx.update(self._common())
        ctx["why"] = self.t["why"].format(project=ctx["project_title"], site=self.settings.title)
        msg = self._envelope(person, f"[{ctx['project_title']}] {post.title}", self.message_id(post))
        refs = self._references(post, zone)
        if refs:
            msg["In-Reply-To"] = refs[-1]
            msg["References"] = " ".join(refs)
        msg["Reply-To"] = ctx["reply_address"]
        msg.set_content(self.templates.render("post.txt", **ctx), cte="quoted-printable")
        msg.add_alternative(self.templates.render("post.html", **ctx), subtype="html", cte="quoted-printable")
        self._attach(msg, ctx["content"].attached)
        return Outgoing(msg["Message-ID"], person.id, self.settings.mail.from_addr, person.email,
                        f"{post.project}/{post.id}", msg.as_bytes())

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
        msg = self._envelope(person, subject, mid)
        msg.set_content(self.templates.render("digest.txt", **ctx), cte="quoted-printable")
        msg.add_alternative(self.templates.render("digest.html", **ctx), subtype="html", cte="quoted-printable")
        return Outgoing(mid, person.id, self.settings.mail.from_addr, person.email, f"digest {day}", msg.as_bytes())

    def _common(self) -> dict:
        return {"t": self.t, "lang": self.lang, "site_title": self.settings.title}
