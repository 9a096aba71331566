"""`extranet moderate`: list, approve or reject email posts waiting for a staff approval.

A waiting post carries `pending: true` in its front matter and is shown on the internal
site only; so is an email post the zone rules hold back (zones.Rules.held). Approving
removes that line; rejecting moves the post (and its original and
attachments) out of content/ into .extranet/rejected/, so nothing is destroyed by mistake.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import config
from .content.loader import load_site
from .errors import ExtranetError
from .output import atomic_write
from .zones import Rules

_PENDING = re.compile(r"^pending:\s*true\s*$", re.M)
_VISIBILITY = re.compile(r"^visibility:.*$", re.M)
_REASON = re.compile(r"^pending_reason:.*(?:\n[ \t]+.*)*$", re.M)  # a YAML scalar, maybe folded


@dataclass(frozen=True)
class Waiting:
    """A post waiting for a staff decision: moderation, or held back from the mixed zone."""

    ref: str  # '<project>/<post id>'
    title: str
    author: str | None
    date: str
    excerpt: str
    held: str | None = None  # why it is not shared even once approved (zones.Rules.held)
    reason: str = ""  # why the gateway held it


def pending(root: Path) -> list[Waiting]:
    """Every post waiting for moderation or held back, oldest first."""
    settings, people = config.load(root)
    site = load_site(settings, people)
    rules = Rules(site, dt.datetime.now())
    out = []
    for project in site.projects:
        for post in project.posts:
            held = rules.held(post)
            if rules.waiting(post):
                text = re.sub(r"\s+", " ", post.body.text).strip()
                out.append(Waiting(f"{project.id}/{post.id}", post.title, post.author,
                                   post.date.strftime("%Y-%m-%d %H:%M"), text[:120], held, post.pending_reason or ""))
    return sorted(out, key=lambda w: w.date)


def _post_file(root: Path, ref: str) -> Path:
    project, _, post_id = ref.partition("/")
    if not project or not post_id or "/" in post_id or ".." in ref:
        raise ExtranetError(f"{ref}: expected <project>/<post id>, as shown by `extranet moderate list`")
    path = root / "content" / "projects" / project / "posts" / f"{post_id}.md"
    if not path.is_file():
        raise ExtranetError(f"{ref}: no such post")
    return path


def approve(root: Path, ref: str) -> str:
    """Publish a waiting post: its `pending: true` line goes. A post held back because it
    contains an internal passage is approved as internal (edit it to share it); one that
    could not be rendered cannot be approved before it is mended. Returns what was done."""
    path = _post_file(root, ref)
    held = next((w.held for w in pending(root) if w.ref == ref), None)
    if held and held.startswith("could not be rendered"):
        raise ExtranetError(f"{ref}: cannot be published as it is ({held}): mend or reject it")
    text = path.read_text(encoding="utf-8")
    head, sep, body = text[4:].partition("\n---\n")
    if not text.startswith("---\n") or not (_PENDING.search(head) or held):
        raise ExtranetError(f"{ref}: not waiting for moderation")
    head = _REASON.sub("", _PENDING.sub("", head))
    if held:
        head = _VISIBILITY.sub("visibility: internal", head)
    atomic_write(path, ("---\n" + re.sub(r"\n{2,}", "\n", head).strip("\n") + sep + body).encode())
    return f"approved {ref} as internal (it {held})" if held else f"approved {ref}"


def reject(root: Path, ref: str) -> Path:
    """Take a waiting post off the site; returns where it was kept."""
    path = _post_file(root, ref)
    held = any(w.ref == ref and w.held for w in pending(root))
    if not held and not _PENDING.search(path.read_text(encoding="utf-8").split("\n---\n", 1)[0]):
        raise ExtranetError(f"{ref}: not waiting for moderation (edit or delete published posts by hand)")
    project = ref.partition("/")[0]
    post_id = path.stem
    keep = root / ".extranet" / "rejected" / project / post_id
    keep.mkdir(parents=True, exist_ok=True)
    files = root / "content" / "projects" / project / "files" / post_id
    if files.is_dir():
        shutil.move(str(files), str(keep / "files"))
    original = path.with_name(f"{post_id}.original.txt")
    if original.exists():
        shutil.move(str(original), str(keep / original.name))
    shutil.move(str(path), str(keep / path.name))
    return keep
