"""What the mixed output may hold, derived again from the sources with the audit's own code.

Deliberately a second reading of the rules, written apart from zones.py and sharing none of
its code: an error in one is caught by the other. It works on the parsed records and their
Markdown as written (never on the rendered passages), so that a mistake of the renderer
(a container line it did not see) cannot hide a passage from it either. Where it is unsure
it allows a file (the check then looks inside it) and treats text as internal.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ..cache import digest
from ..content.model import Post, Site
from ..scopes import PERSON_SCOPE as PERSON, SITE_SCOPE as SITE
from ..site.urls import HOME, Urls
from ..textmatch import Matcher, Memo, name

_CONTAINER = re.compile(r"^[ \t]*(?:>[ \t]*)*:{3,}(.*)$")
_LINKS = (  # (a pattern, and a string every text it matches holds: most texts hold none)
    (re.compile(r"\]\(\s*<?([^)>\s]+)"), "]("),  # inline link or image
    (re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*<?([^>\s]+)", re.M), "]:"),  # reference definition
    (re.compile(r"""\b(?:href|src)\s*=\s*["']?([^"'\s>]+)""", re.I), "="),  # raw HTML
)


@dataclass(frozen=True)
class Allowed:
    """A file the mixed zone may hold: the scope whose key must seal it and, for an
    attachment, the SHA-256 of the bytes it must hold."""

    scope: str
    sha256: str | None = None


@dataclass
class Expectation:
    """The audit's own view of one zone: allowed files, who opens which scopes, and the
    internal passages no page of the zone may contain."""

    files: dict[str, Allowed] = field(default_factory=dict)  # output path -> what may be there
    grants: dict[str, set[str]] = field(default_factory=dict)  # person id -> scopes they must open
    canaries: Matcher = field(default_factory=lambda: Matcher({}))  # normalised passage -> what it is
    internal_files: set[str] = field(default_factory=set)  # SHA-256 of attachments never to be found
    key: str = ""  # the hash of what a file is checked against besides its own entry (passages, files)


def split_containers(text: str) -> tuple[str, str]:
    """(outside, inside) of a Markdown text: what lies inside any fenced container (known or
    not, closed or not) is inside."""
    if ":::" not in text:
        return text, ""
    outside, inside, depth = [], [], False
    for line in text.split("\n"):
        m = _CONTAINER.match(line)
        if m:
            depth = bool(m.group(1).strip())
            continue
        (inside if depth else outside).append(line)
    return "\n".join(outside), "\n".join(inside)


def linked_keys(text: str, source: str) -> set[str]:
    """Content keys a Markdown text written in the source `source` may link to."""
    out = set()
    for pattern, needed in _LINKS:
        for m in pattern.finditer(text) if needed in text else ():
            parts = urlsplit(m.group(1))
            if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
                continue
            out.add(posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(parts.path))))
    return out


class _Texts:
    """Candidate passages (secret) and the texts that may legitimately hold them."""

    def __init__(self, memo: Memo) -> None:
        self.memo = memo
        self.secret: dict[str, str] = {}
        self.originals: dict[str, str] = {}
        self.legit: list[str] = []  # shared, staff-written texts (and the names every page shows)
        self.shared_mail: list[str] = []  # shared texts that came by email

    def internal(self, text: str, what: str = "internal text") -> None:
        self.secret.update((p, what) for p in self.memo.passages(text))

    def title(self, text: str) -> None:
        self.secret.update((p, "an internal title") for p in name(text))

    def shared(self, text: str, body: str = "") -> None:
        """A shared staff text: its title and what lies outside its containers."""
        outside, inside = split_containers(body)
        self.legit += [text, outside]
        self.internal(inside)

    def canaries(self) -> Matcher:
        """A Matcher of the secret passages no legitimate text holds, and of the passages of
        email originals no shared text holds."""
        matcher = self.memo.matcher({**self.originals, **self.secret})
        normal = self.memo.normalise  # (one search of all: no passage spans the "\n" between two)
        found = self.memo.find(matcher, "\n".join(map(normal, self.legit)))
        found |= {s for s in self.memo.find(matcher, "\n".join(map(normal, self.shared_mail))) if s not in self.secret}
        return matcher.without(found)


def expect_mixed(site: Site, now: dt.datetime, urls: Urls, homes: Mapping[str, Iterable[str]],
                 memo: Memo | None = None) -> Expectation:
    """The mixed zone as the sources allow it at `now` (`homes`: person id -> the paths of
    their home page, for the people who can log in; `memo`: passages of texts kept by content)."""
    settings, people = site.settings, site.people
    today = now.date()
    active = {pid: p for pid, p in people.people.items() if p.expires is None or today <= p.expires}
    staff = {pid for pid, p in active.items() if p.org == settings.org}
    exp = Expectation(grants={pid: {SITE} for pid in staff})
    texts = _Texts(memo or Memo())
    texts.legit += [settings.title, *(p.name for p in people.people.values()),
                    *(o.name for o in people.orgs.values())]
    exp.files[HOME] = Allowed(SITE)

    def published(post: Post) -> bool:
        return not post.draft and (settings.future_posts or post.date <= now)

    def shared(post: Post) -> bool:
        return post.visibility == "mixed" and not post.pending and post.defect is None and published(post)

    for page in site.pages:
        if page.visibility == "mixed":
            exp.files[urls.page(page)] = Allowed(SITE)
            texts.shared(page.title, page.body.text)
        else:
            texts.title(page.title)
            texts.internal(page.body.text)
    for project in site.projects:
        pid = project.id
        members = {x for x, p in active.items() if x not in staff and (p.org in project.orgs or x in project.members)}
        if not members:
            texts.title(project.title)
            texts.title(project.summary)
            texts.internal(project.body.text)
            for post in project.posts:
                texts.title(post.title)
                texts.internal(post.body.text)
            for a in project.files:
                exp.internal_files.add(a.sha256)
                texts.title(posixpath.basename(a.name))
            continue
        for x in members | staff:
            exp.grants.setdefault(x, {SITE}).add(pid)
        exp.files[urls.project(project)] = Allowed(pid)
        texts.legit += [project.title, project.summary]
        links: set[str] = set()
        if project.visibility == "mixed":
            texts.shared("", project.body.text)
            links |= linked_keys(split_containers(project.body.text)[0], project.key)
        else:
            texts.internal(project.body.text)
        email_folders = []
        for post in project.posts:
            if shared(post):
                exp.files[urls.post(post)] = Allowed(pid)
                for tag in post.tags:
                    exp.files[urls.tag(pid, tag)] = Allowed(pid)
            if post.source == "email" and post.visibility == "mixed":  # an external's own words
                if shared(post):
                    texts.shared_mail += [post.title, post.body.text]
                    email_folders.append(f"projects/{pid}/files/{post.id}/")
            elif shared(post):
                texts.shared(post.title, post.body.text)
                links |= linked_keys(split_containers(post.body.text)[0], post.key)
            else:
                texts.title(post.title)
                texts.internal(post.body.text)
            if post.original:
                own = set(texts.memo.passages(post.body.text))
                texts.originals.update((p, "a passage of an email original") for p in texts.memo.passages(post.original)
                                       if p not in own)
        for a in project.files:
            if a.key in links or a.key.startswith(tuple(email_folders)):
                exp.files[urls.attachment(a)] = Allowed(pid, a.sha256)
                texts.legit.append(a.name)
            else:
                exp.internal_files.add(a.sha256)
                texts.title(posixpath.basename(a.name))
    for x in exp.grants:
        exp.grants[x].add(PERSON + x)
    exp.canaries = texts.canaries()
    exp.key = digest(*sorted(exp.canaries.secrets), "\0files", *sorted(exp.internal_files))
    return place_homes(exp, homes)


def place_homes(exp: Expectation, homes: Mapping[str, Iterable[str]]) -> Expectation:
    """`exp` with the home pages of the people it grants anything (`homes`: person id -> the
    paths of their home page), each sealed for that person alone."""
    for x in exp.grants:
        for path in homes.get(x, ()):
            exp.files[path] = Allowed(PERSON + x)
    return exp


def expect_internal(site: Site, now: dt.datetime) -> Expectation:
    """The internal zone: its active staff open every scope of it, nobody else anything."""
    today = now.date()
    staff = [pid for pid, p in site.people.people.items()
             if p.org == site.settings.org and (p.expires is None or today <= p.expires)]
    scopes = {SITE, *(p.id for p in site.projects)}
    return Expectation(grants={pid: scopes | {PERSON + pid} for pid in staff})
