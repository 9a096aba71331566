"""Where each item lives in a zone's output, readable or opaque.

Readable paths are for previews. Opaque paths (HMAC of the item's key with a secret of the
zone) are used when the output is protected, so that file names reveal no project, title or
person.
"""

from __future__ import annotations

import hashlib
import hmac

from ..config import Settings
from ..content.loader import slugify
from ..content.model import Attachment, Page, Post, Project
from ..protect.sitekey import url_secret
from ..scopes import ZONES

HOME = "index.html"
STATIC = "static"


class Urls:
    """Maps content to the output paths of one zone (relative to the zone root).

    Opaque names are keyed by the zone's own secret (derived from the site's for `zone`):
    the two zones share no file name, so that their listings side by side tell nothing."""

    def __init__(self, secret: bytes | None = None, zone: str = "") -> None:
        if secret is not None and zone:
            secret = hmac.new(secret, b"zone:" + zone.encode(), hashlib.sha256).digest()
        self.secret = secret
        self._names: dict[str, str] = {}  # every page links the same few items: one HMAC each

    def _h(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            assert self.secret is not None
            name = self._names[key] = hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()[:20]
        return name

    def project_dir(self, pid: str) -> str:
        """The folder of a project: every path of the project lies below it."""
        return f"p/{self._h('project:' + pid)}" if self.secret else f"projects/{pid}"

    def project(self, project: Project | str) -> str:
        """A project's page."""
        pid = project if isinstance(project, str) else project.id
        return f"{self.project_dir(pid)}/index.html"

    def post(self, post: Post) -> str:
        """A post's page."""
        name = self._h("post:" + post.key) if self.secret else slugify(post.id)
        return f"{self.project_dir(post.project)}/{name}.html"

    def attachment(self, att: Attachment) -> str:
        """An attachment (opaque: no name nor extension)."""
        if self.secret:
            return f"{self.project_dir(att.project)}/f/{self._h('file:' + att.key)}.bin"
        return f"{self.project_dir(att.project)}/files/{att.name}"

    def tag(self, pid: str, tag: str) -> str:
        """A tag's page within a project (tags never list other projects' posts)."""
        name = self._h(f"tag:{pid}:{tag}") if self.secret else slugify(tag)
        return f"{self.project_dir(pid)}/tags/{name}.html"

    def page(self, page: Page) -> str:
        """A site-wide page."""
        return f"pages/{self._h('page:' + page.key) if self.secret else page.name}.html"

    def person_home(self, person_id: str) -> str:
        """A person's own home page (mixed zone): lists only their projects."""
        return f"home/{self._h('home:' + person_id) if self.secret else person_id}.html"

    def for_item(self, item: object) -> str:
        """The path of any content record."""
        if isinstance(item, Post):
            return self.post(item)
        if isinstance(item, Project):
            return self.project(item)
        if isinstance(item, Page):
            return self.page(item)
        if isinstance(item, Attachment):
            return self.attachment(item)
        raise TypeError(item)


def relative(from_path: str, to_path: str) -> str:
    """A relative URL from the page at `from_path` to `to_path` (both zone-relative, normalised:
    no `.`, `..` or empty parts; the result is posixpath.relpath's, computed on the strings)."""
    here = from_path.split("/")[:-1]
    there = [p for p in to_path.split("/") if p]
    common = 0
    for a, b in zip(here, there):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(here) - common) + there[common:]) or "."


def urls_for(settings: Settings, encrypt: bool) -> dict[str, Urls]:
    """The output paths of each zone of a site: opaque (keyed by a secret of the zone) when
    encrypted, readable otherwise."""
    if not encrypt:
        return {zone: Urls(None) for zone in ZONES}
    secret = url_secret(settings.state_dir)
    return {zone: Urls(secret, zone) for zone in ZONES}
