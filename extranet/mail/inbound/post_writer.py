"""From an authenticated reply to a post file: the gateway's handler.

Everything in the message is untrusted. The text comes from the extractor (quotes and
signatures cut, HTML converted, raw HTML escaped; the renderer sanitises again), the
title is bounded plain text dumped as YAML, attachment names are sanitised and never
choose a folder. The post file is the commit point: attachments and the original are
written first, the post last, each atomically. Idempotent on the message key, so a
resumed entry after a crash never posts twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as htmlmod
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

from ... import config
from ...config import People, Person, Settings
from ...content.loader import load_project, slugify
from ...content.model import Post, Project, Site
from ...output import atomic_write
from ...zones import Rules
from .extract import extract
from .message import InboundMessage
from .neutralise import neutralise
from .outcomes import Envelope, Outcome, Posted, Refused

log = logging.getLogger("extranet")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)
_PREFIX = re.compile(r"^\s*((re|fw|fwd|tr|réf|ref|aw|sv|wg)\s*(\[\d+\])?\s*:\s*)+", re.I)
MAX_TITLE = 150
MAX_NAME = 100


def safe_filename(name: str | None, taken: set[str]) -> str:
    """A harmless, unique file name: no folder, control or bidi character, reserved name or dot-file."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # Cc, Cf (bidi), Co, Cn, Cs
    text = re.sub(r"[^\w.()+ -]", "_", text).strip(" .")
    text = re.sub(r"\s+", " ", text) or "attachment"
    if _RESERVED.match(text):
        text = "_" + text
    stem, dot, ext = text.rpartition(".")
    if not dot:
        stem, ext = text, ""
    ext = ext[:12]
    stem = stem[: MAX_NAME - len(ext) - 1] or "attachment"
    candidate = f"{stem}.{ext}" if ext else stem
    n = 2
    while candidate.lower() in taken:
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        n += 1
    taken.add(candidate.lower())
    return candidate


def clean_title(subject: str, fallback: str) -> str:
    """The post title from the subject: no Re:/TR: prefixes, no control characters, bounded."""
    text = "".join(c for c in subject if unicodedata.category(c)[0] != "C" or c == " ")
    text = re.sub(r"\s+", " ", _PREFIX.sub("", text)).strip()
    text = re.sub(r"^\[[^\]]{0,200}\]\s*", "", text)  # our own "[Project]" subject prefix
    return (text or fallback)[:MAX_TITLE]


@dataclass(frozen=True)
class Placed:
    """Where a new post goes and what it answers."""

    project: Project
    parent: Post
    author: Person


class PostWriter:
    """The gateway's Handler: writes the post of an authenticated reply into the site's content."""

    def __init__(self, root: Path, now=dt.datetime.now,
                 load: Callable[[Settings, People, str], Project | None] = load_project) -> None:
        """`load`: how a project is loaded (a long-running gateway takes its sources from the
        records its last build kept: mail.batch.SiteBuilds.load_project)."""
        self.root = root
        self.now = now
        self.load = load

    def _site(self, project_id: str) -> Site:
        """The site as far as this reply needs it: settings, people and its one project.

        Loading one project keeps the time per message independent of the site's size."""
        settings, people = config.load(self.root)
        project = self.load(settings, people, project_id)
        return Site(settings, people, (), (project,) if project else ())

    def _place(self, site: Site, rules: Rules, envelope: Envelope) -> Placed | Refused:
        project_id, _, post_id = envelope.post_ref.partition("/")
        project = next((p for p in site.projects if p.id == project_id), None)
        parent = next((p for p in project.posts if p.id == post_id), None) if project else None
        if project is None or parent is None:
            return Refused("unknown_post")
        person = site.people.people[envelope.person_id]
        if not rules.may_reply(person, project, parent, envelope.kind):
            return Refused("no_access")
        return Placed(project, parent, person)

    def process(self, message: InboundMessage, envelope: Envelope) -> Outcome:
        """Write the post (or find the one already written for this message)."""
        site = self._site(envelope.post_ref.partition("/")[0])
        key = envelope.message_key
        digest = hashlib.sha256(envelope.idempotency_key.encode()).hexdigest()[:8]
        for project in site.projects:
            for post in project.posts:
                if post.message_id == key and post.id.endswith(f"-{digest}"):
                    return Posted(post.key)
        rules = Rules(site, self.now())
        placed = self._place(site, rules, envelope)
        if isinstance(placed, Refused):
            return placed
        ex = extract(message)
        if not ex.text.strip() and not ex.attachments:
            return Refused("empty")
        received = dt.datetime.fromtimestamp(envelope.received_at or self.now().timestamp()).replace(microsecond=0)
        received = min(received, self.now().replace(microsecond=0))
        parent_slug = slugify(placed.parent.id[11:])[:40]
        post_id = f"{received:%Y-%m-%d}-re-{parent_slug}-{digest}"
        folder = self.root / "content" / "projects" / placed.project.id
        inert = neutralise(ex.text.strip())
        held = rules.email_post_held(placed.project, placed.author, (*envelope.held, *ex.reasons, *inert.reasons))
        links = self._attachments(folder, post_id, ex.attachments)
        body = inert.text
        if links:
            body += "\n\n" + "\n".join(links)
        front = {
            "title": clean_title(ex.subject, f"Re: {placed.parent.title}"),
            "date": received,
            "author": envelope.person_id,
            "visibility": Rules.reply_visibility(placed.parent, envelope.kind),
            "in_reply_to": placed.parent.id,
            "source": "email",
            "message_id": key,
        }
        if held:
            front["pending"] = True
            front["pending_reason"] = "; ".join(held)[:500]
        if ex.original.strip():
            atomic_write(folder / "posts" / f"{post_id}.original.txt",
                         htmlmod.unescape(ex.original).encode("utf-8"))
        text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + body + "\n"
        if held:
            log.warning("%s waits for moderation: %s", post_id, "; ".join(held))
        post_key = f"projects/{placed.project.id}/posts/{post_id}.md"
        atomic_write(self.root / "content" / post_key, text.encode("utf-8"))
        return Posted(post_key)

    def _attachments(self, folder: Path, post_id: str, attachments) -> list[str]:
        """Save attachments under files/<post id>/ with safe unique names; Markdown links to them."""
        links: list[str] = []
        taken: set[str] = set()
        for att in attachments:
            name = safe_filename(att.filename, taken)
            atomic_write(folder / "files" / post_id / name, att.data)
            href = f"../files/{post_id}/{quote(name)}"
            label = name.replace("[", "(").replace("]", ")")
            if att.content_type.startswith("image/") and att.content_type != "image/svg+xml":
                links.append(f"![{label}]({href})")
            else:
                links.append(f"- [{label}]({href})")
        return links
