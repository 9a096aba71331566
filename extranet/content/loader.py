"""Every source of a site to immutable records, with every problem reported at once.

The loader works from the build's scan of content/ (each file's path and SHA-256, taken
before anything is read): a source whose record the store keeps is not read at all; the
others are read, checked to be the very bytes scanned (a file saved while the build runs
stops it, naming the file), and parsed, in worker processes when there are many. Checks that
span sources — people and organisations named, replies, duplicate slugs — are made here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from ..cache import Cache, digest
from ..config import People, Settings
from ..errors import Problems
from .model import Attachment, Page, Post, Project, Site
from .parse import Parsed, decode
from .records import RecordStore

log = logging.getLogger("extranet")
POST_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
Files = Mapping[str, str]  # absolute path -> SHA-256 of every file below content/, as scanned


def slugify(name: str) -> str:
    """A URL-safe slug: ASCII lowercase letters, digits and dashes."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "x"


def scan(content: Path) -> dict[str, str]:
    """Path -> SHA-256 of every file below `content` (reading each: for a build without the
    scan of its inputs, e.g. a preview)."""
    out = {}
    for top, dirs, names in os.walk(content):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = os.path.join(top, name)
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


class _Loader:
    """One load of a site: the scanned files, the record store and the problems found."""

    def __init__(self, settings: Settings, people: People, problems: Problems, files: Files,
                 records: RecordStore) -> None:
        self.settings = settings
        self.people = people
        self.problems = problems
        self.files = files
        self.records = records
        self.content = settings.root / "content"
        self.prefix = str(self.content) + "/"
        self.parsed: dict[str, Parsed] = {}  # content key -> its record

    def key_of(self, path: str) -> str:
        """The content key of a file (its path below content/)."""
        return path[len(self.prefix):]

    def read_sources(self, sources: list[tuple[str, str]], jobs: int) -> None:
        """Find or parse each (kind, path) source; misses are read and parsed together."""
        todo: dict[str, tuple[str, str, bytes]] = {}
        where: dict[str, str] = {}
        for kind, path in sources:
            key = self.key_of(path)
            rkey = self.records.key(kind, key, self.files[path])
            hit = self.records.get(rkey)
            if hit is not None:
                self.parsed[key] = hit
                continue
            raw = self.read(path)
            if raw is not None:
                todo[rkey] = (kind, key, raw)
                where[rkey] = path
        for rkey, result in self.records.parse(todo.items(), jobs).items():
            path = where[rkey]
            if isinstance(result, Parsed):
                self.parsed[self.key_of(path)] = result
            else:
                for line, message in result:
                    self.problems.add(path, line, message)

    def read(self, path: str) -> bytes | None:
        """A file's bytes, when they are the ones scanned (else a problem)."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            self.problems.add(path, None, f"cannot read: {e.strerror}")
            return None
        if hashlib.sha256(raw).hexdigest() != self.files[path]:
            self.problems.add(path, None, "changed while the build was reading it: build again")
            return None
        return raw

    def notes(self, path: str, parsed: Parsed) -> None:
        """What rendering a staff source changed (an image from another site dropped)."""
        if parsed.values.get("source") != "email":
            for note in parsed.body.notes:
                log.warning("%s: %s", self.key_of(path) if path.startswith(self.prefix) else path, note)

    def person(self, path: str, line: int | None, pid: str) -> None:
        """Report an unknown person id."""
        if pid not in self.people.people and pid not in self.people.broken:
            self.problems.add(path, line, f"unknown person '{pid}'")

    def page(self, path: str) -> Page | None:
        """A site-wide page."""
        parsed = self.parsed.get(self.key_of(path))
        if parsed is None:
            return None
        self.notes(path, parsed)
        v = parsed.values
        return Page(self.key_of(path), slugify(Path(path).stem), v["title"], v["visibility"], parsed.body)

    def post(self, path: str, project: str) -> Post | None:
        """A dated post; its date comes from the file name unless the front matter sets it."""
        stem = path.rsplit("/", 1)[-1][:-3]  # (a str, as every path here: no Path arithmetic per post)
        parsed = self.parsed.get(self.key_of(path))
        if parsed is None:
            return None
        self.notes(path, parsed)
        m = POST_NAME.match(stem)
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))  # (checked by _post_files)
        v = parsed.values
        date = v["date"] or day
        if not isinstance(date, dt.datetime):
            date = dt.datetime.combine(date, dt.time())
        if date.tzinfo is not None:
            date = date.astimezone().replace(tzinfo=None)
        if date.date() != day:
            self.problems.add(path, parsed.line_of("date"), f"date {date.date()} does not match the file name's {day}")
        if v["author"]:
            self.person(path, parsed.line_of("author"), v["author"])
        original_path = path[:-3] + ".original.txt"
        original = None
        if original_path in self.files:
            raw = self.read(original_path)
            text = decode(raw) if raw is not None else None
            if isinstance(text, tuple):
                self.problems.add(original_path, text[0], text[1])
            else:
                original = text
        key = self.key_of(path)
        return Post(key, project, stem, v["title"], date, v["author"], v["visibility"], v["in_reply_to"],
                    tuple(v["tags"]), v["draft"], v["pending"], v["message_id"], v["source"], original,
                    parsed.body, parsed.defect, pending_reason=v["pending_reason"],
                    digest=digest("post", key, self.files[path], self.files.get(original_path, "-"), date.isoformat()))

    def project(self, folder: str, pid: str, posts: list[str], files: list[str]) -> Project | None:
        """A project folder: index.md, posts/, files/."""
        index = f"{folder}/index.md"
        loaded = [p for p in (self.post(f, pid) for f in posts) if p]
        parsed = self.parsed.get(self.key_of(index))
        if parsed is None:
            return None
        self.notes(index, parsed)
        v = parsed.values
        for oid in v["orgs"]:
            if oid not in self.people.orgs and oid not in self.people.broken:
                self.problems.add(index, parsed.line_of("orgs"), f"unknown organisation '{oid}'")
            elif oid == self.settings.org:
                self.problems.add(index, parsed.line_of("orgs"),
                                  f"'{oid}' is the site's own organisation: list external ones only")
        for person in v["members"]:
            self.person(index, parsed.line_of("members"), person)
        ids = {f.rsplit("/", 1)[-1][:-3] for f in posts}
        slugs: dict[str, str] = {}
        for post in loaded:
            path = self.prefix + post.key
            if post.in_reply_to and post.in_reply_to not in ids:
                self.problems.add(path, None, f"in_reply_to: no post '{post.in_reply_to}' in project '{pid}'")
            slug = slugify(post.id)
            if slug in slugs:
                self.problems.add(path, None, f"duplicate slug '{slug}' (also {slugs[slug]})")
            slugs[slug] = post.id
        loaded.sort(key=lambda p: (p.date, p.id))
        attachments = tuple(
            Attachment(self.key_of(f), pid, self.key_of(f)[len(f"projects/{pid}/files/"):], os.path.getsize(f),
                       self.files[f]) for f in files)
        key = self.key_of(index)
        return Project(key, pid, v["title"], v["summary"], v["status"], tuple(v["orgs"]), tuple(v["members"]),
                       v["moderation"], parsed.body, tuple(loaded), attachments, v["visibility"],
                       digest=digest("project", key, self.files[index]))


def _layout(files: Files, content: Path, problems: Problems) -> tuple[list[str], dict[str, tuple[list, list]]]:
    """The site-wide pages, and per project folder its posts and attachments (sorted), from
    the scanned files; misplaced or misnamed files are problems."""
    prefix = str(content) + "/"
    pages: list[str] = []
    projects: dict[str, tuple[list, list]] = {}
    for path in sorted(files):
        parts = path[len(prefix):].split("/")
        if any(part.startswith(".") for part in parts):
            continue
        if parts[0] == "pages" and len(parts) == 2 and parts[1].endswith(".md"):
            pages.append(path)
        elif parts[0] == "projects" and len(parts) >= 3:
            posts, attachments = projects.setdefault(parts[1], ([], []))
            if len(parts) == 4 and parts[2] == "posts" and parts[3].endswith(".md"):
                _post_name(path, parts[3], problems) and posts.append(path)
            elif len(parts) >= 4 and parts[2] == "files":
                attachments.append(path)
    return pages, projects


def _post_name(path: str, name: str, problems: Problems) -> bool:
    """Whether a post's file name is <YYYY-MM-DD>-<slug>.md with a real date (else a problem)."""
    m = POST_NAME.match(name[:-3])
    if not m:
        problems.add(path, None, "a post's file name must be <YYYY-MM-DD>-<slug>.md")
        return False
    try:
        dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        problems.add(path, None, f"bad date in file name: {name[:10]}")
        return False
    return True


def load_site(settings: Settings, people: People, problems: Problems | None = None, *,
              files: Files | None = None, records: RecordStore | None = None, jobs: int = 1) -> Site:
    """Load every page and project of the site; raise SiteError with all problems found
    (including those already in `problems`, e.g. from the settings and people files).
    `files`: the build's scan of content/ (path -> SHA-256), else scanned here; `records`:
    the record store (the cache), else one kept in memory for this load."""
    problems = problems or Problems(settings.root)
    content = settings.root / "content"
    if not content.is_dir():
        problems.add(content, None, "content folder not found")
        problems.raise_if_any()
    files = files if files is not None else scan(content)
    records = records if records is not None else RecordStore(Cache(None), settings.remote_images)
    loader = _Loader(settings, people, problems, files, records)
    page_files, project_files = _layout(files, content, problems)
    index = [(pid, f"{content}/projects/{pid}") for pid in sorted(project_files)]
    sources = [("page", p) for p in page_files]
    for pid, folder in index:
        if f"{folder}/index.md" in files:
            sources.append(("project", f"{folder}/index.md"))
        sources += [("post", p) for p in project_files[pid][0]]
    loader.read_sources(sources, jobs)
    pages = [p for p in (loader.page(f) for f in page_files) if p]
    seen: dict[str, str] = {}
    for page in pages:
        if page.name in seen:
            problems.add(content / page.key, None, f"duplicate slug '{page.name}' (also {seen[page.name]})")
        seen[page.name] = page.key
    projects = []
    for pid, folder in index:
        if slugify(pid) != pid:
            problems.add(folder, None, "a project folder name must be lowercase letters, digits and dashes")
        elif f"{folder}/index.md" not in files:
            problems.add(folder, None, "a project folder needs an index.md")
        elif (project := loader.project(folder, pid, *project_files[pid])) is not None:
            projects.append(project)
    problems.raise_if_any()
    site = Site(settings, people, tuple(pages), tuple(projects))
    for item in (*pages, *projects, *(x for p in projects for x in (*p.posts, *p.files))):
        site.by_key[item.key] = item
    return site


def load_project(settings: Settings, people: People, project_id: str,
                 records: RecordStore | None = None) -> Project | None:
    """One project alone (where a reply goes); None if there is none. Raises SiteError if its
    sources are invalid, like a build would."""
    folder = settings.root / "content" / "projects" / project_id
    if slugify(project_id) != project_id or not (folder / "index.md").is_file():
        return None
    files = scan(folder)
    problems = Problems(settings.root)
    records = records if records is not None else RecordStore(Cache(None), settings.remote_images)
    loader = _Loader(settings, people, problems, files, records)
    _, project_files = _layout(files, settings.root / "content", problems)
    posts, attachments = project_files.get(project_id, ([], []))
    loader.read_sources([("project", f"{folder}/index.md")] + [("post", p) for p in posts], 1)
    project = loader.project(str(folder), project_id, posts, attachments)
    problems.raise_if_any()
    return project
