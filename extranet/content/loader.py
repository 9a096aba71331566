"""Discover and parse every source of a site into immutable records, reporting all problems."""

from __future__ import annotations

import datetime as dt
import logging
import hashlib
import html as htmlmod
import os
import re
import unicodedata
from pathlib import Path

from ..cache import digest
from ..config import People, Settings
from ..errors import Problems
from ..schema import Field, check
from .frontmatter import FrontMatter, FrontMatterError, parse
from .markup import MarkupError, Renderer
from .model import Attachment, Body, Page, Post, Project, Segment, Site
from .parallel import BodyStore
from .records import Lines, ProjectMemo, RecordStore

PROJECT_FIELDS = (
    Field("title", "line", "Project title (shared with the project's members).", required=True),
    Field("summary", "str", "One-paragraph summary (shared with the project's members).", ""),
    Field("status", "choice", "active or closed.", "active", choices=("active", "closed")),
    Field("orgs", "ids", "External organisations taking part.", ()),
    Field("members", "ids", "Extra people taking part, by id.", ()),
    Field("moderation", "choice", "Which email posts wait for a staff approval.", "none",
          choices=("none", "external", "all")),
    Field("visibility", "choice", "Visibility of the page body.", "internal", choices=("internal", "mixed")),
)
POST_FIELDS = (
    Field("title", "line", "Post title.", required=True),
    Field("date", "datetime", "Publication date (and time); defaults to the file name's date.", None),
    Field("author", "id", "Author, by person id.", None),
    Field("visibility", "choice", "internal (default) or mixed.", "internal", choices=("internal", "mixed")),
    Field("in_reply_to", "str", "Id of the post this one answers.", None),
    Field("tags", "lines", "Tags.", ()),
    Field("draft", "bool", "A draft is never published.", False),
    Field("pending", "bool", "An email post waiting for moderation (internal site only).", False),
    Field("pending_reason", "str", "Why the gateway holds an email post for moderation.", None),
    Field("message_id", "str", "Message-ID of the email this post came from.", None),
    Field("source", "choice", "file or email.", "file", choices=("file", "email")),
)
PAGE_FIELDS = (
    Field("title", "line", "Page title.", required=True),
    Field("visibility", "choice", "internal (default) or mixed.", "internal", choices=("internal", "mixed")),
)
log = logging.getLogger("extranet")
POST_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")


def set_aside(text: str) -> Body:
    """The body of an email post that could not be rendered: its text as written, one
    internal passage (for staff to see what arrived)."""
    return Body((Segment(f"<pre>{htmlmod.escape(text)}</pre>", True),), (), text)


def slugify(name: str) -> str:
    """A URL-safe slug: ASCII lowercase letters, digits and dashes."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "x"


def _read_text(path: Path, problems: Problems, records: RecordStore | None = None) -> str | None:
    """Read a UTF-8 text file, reporting unreadable files and invalid UTF-8 with its line, and
    bytes other than those the build hashed (the file was edited while the build ran: see
    RecordStore.hashed_as)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.add(path, None, f"cannot read: {e.strerror}")
        return None
    if records is not None and records.hashed_as(path, raw) is False:
        problems.add(path, None, "changed while the build was reading it: build again")
        return None
    try:
        return raw.decode("utf-8").replace("\r\n", "\n").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        problems.add(path, raw[: e.start].count(b"\n") + 1, "invalid UTF-8")
        return None


class _Loader:
    """One load of a site: holds the problems collector and the Markdown renderer."""

    def __init__(self, settings: Settings, people: People, problems: Problems,
                 bodies: BodyStore | Renderer | None = None, records: RecordStore | None = None,
                 memo: ProjectMemo | None = None,
                 early: dict[str, tuple[str, FrontMatter, bool]] | None = None) -> None:
        self.root = settings.root
        self.content = str(settings.root / "content") + "/"
        self.settings = settings
        self.people = people
        self.problems = problems
        self.renderer = bodies or Renderer(settings.remote_images)
        self.records = records
        self.memo = memo
        self.early = early if early is not None else {}  # path -> (text, front matter, hashed bytes?) read ahead

    def key_of(self, path: Path) -> str:
        """The content key of a source (its path below content/)."""
        text = str(path)
        return text[len(self.content):] if text.startswith(self.content) else path.relative_to(self.root / "content").as_posix()

    def source(self, path: Path, fields: tuple[Field, ...], what: str):
        """Read, split and validate one Markdown source: (values, front matter lines, body) or
        None; a source whose bytes an earlier build loaded without problems comes from the
        record store."""
        rkey = self.records.key(path, self.key_of(path), what) if self.records else None
        parsed = self.records.get(rkey) if rkey else None
        if parsed is None:
            before = len(self.problems.items)
            parsed = self._parse(path, fields, what)
            if parsed is not None and rkey and len(self.problems.items) == before:
                self.records.put(rkey, parsed)
        if parsed is not None and parsed[0].get("source") != "email":
            for note in parsed[2].notes:
                log.warning("%s: %s", path.relative_to(self.root) if path.is_relative_to(self.root) else path, note)
        return parsed

    def _parse(self, path: Path, fields: tuple[Field, ...], what: str):
        """Read, split, validate and render one source."""
        ahead = self.early.pop(str(path), None)  # (text, front matter, whether its bytes are the hashed ones)
        if ahead is not None and ahead[2]:
            text = ahead[0]  # read ahead from the very bytes the build hashed: not read again
        else:
            text = _read_text(path, self.problems, self.records)
        if text is None:
            return None
        try:
            fm = ahead[1] if ahead is not None and ahead[0] == text else parse(text)
        except FrontMatterError as e:
            self.problems.add(path, e.line, str(e))
            return None
        values = check(fm.data, fields, self.problems, path, fm.line_of, what)
        if values is None:
            return None
        key = self.key_of(path)
        email = values.get("source") == "email"
        try:
            body = self.renderer.render(key, fm.body, fm.body_line, email=email)
        except MarkupError as e:
            if not email:
                self.problems.add(path, e.line, str(e))
                return None
            # what arrived by email never stops a build: the post is set aside, internal only
            values["defect"] = f"line {e.line}: {e}"
            body = set_aside(fm.body)
        return values, Lines({f.name: fm.line_of(f.name) for f in fields}), body

    def person(self, path: Path, line: int | None, pid: str) -> None:
        """Report an unknown person id."""
        if pid not in self.people.people and pid not in self.people.broken:
            self.problems.add(path, line, f"unknown person '{pid}'")

    def page(self, path: Path) -> Page | None:
        """A site-wide page."""
        src = self.source(path, PAGE_FIELDS, "page front matter")
        if src is None:
            return None
        v, _, body = src
        key = self.key_of(path)
        return Page(key, slugify(path.stem), v["title"], v["visibility"], body)

    def post(self, path: Path, project: str) -> Post | None:
        """A dated post; its date comes from the file name unless the front matter sets it."""
        stem = path.name[:-3]  # a .md file (see _md_files)
        m = POST_NAME.match(stem)
        if not m:
            self.problems.add(path, None, "a post's file name must be <YYYY-MM-DD>-<slug>.md")
            return None
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            self.problems.add(path, None, f"bad date in file name: {stem[:10]}")
            return None
        src = self.source(path, POST_FIELDS, "post front matter")
        if src is None:
            return None
        v, fm, body = src
        date = v["date"] or day
        if not isinstance(date, dt.datetime):
            date = dt.datetime.combine(date, dt.time())
        if date.tzinfo is not None:
            date = date.astimezone().replace(tzinfo=None)
        if date.date() != day:
            self.problems.add(path, fm.line_of("date"), f"date {date.date()} does not match the file name's {day}")
        if v["author"]:
            self.person(path, fm.line_of("author"), v["author"])
        original_name = str(path)[:-3] + ".original.txt"
        exists = self.records.exists(original_name) if self.records else os.path.exists(original_name)
        original = _read_text(Path(original_name), self.problems, self.records) if exists else None
        key = self.key_of(path)
        fingerprint = ""
        rkey = self.records.key(path, key, "post front matter") if self.records else None
        if rkey:  # the record key covers the source's path and bytes; the rest is added here
            fingerprint = digest("post", rkey, self.records.hashes.get(original_name, "-") if exists else "",
                                 date.isoformat())
        return Post(key, project, stem, v["title"], date, v["author"], v["visibility"],
                    v["in_reply_to"], tuple(v["tags"]), v["draft"], v["pending"], v["message_id"],
                    v["source"], original, body, v.get("defect"), fingerprint=fingerprint,
                    pending_reason=v["pending_reason"])

    def project(self, folder: Path) -> Project | None:
        """A project folder: index.md, posts/, files/ (taken over from the memo when every
        file of the folder is the one an earlier build loaded it from)."""
        pid = folder.name
        if self.memo is not None:
            hit = self.memo.get(pid, self.records)
            if hit is not None:
                return hit
        before = len(self.problems.items)
        project = self._project(folder, pid)
        if project is not None and self.memo is not None and len(self.problems.items) == before:
            used = self.records.used if self.records is not None else {}
            keys = [self.records.key(folder / "index.md", project.key, "project front matter")] + [
                self.records.key(self.root / "content" / p.key, p.key, "post front matter") for p in project.posts
            ] if self.records is not None else []
            self.memo.put(pid, project, {k: used[k] for k in keys if k in used})
        return project

    def _project(self, folder: Path, pid: str) -> Project | None:
        """Load a project folder."""
        index = folder / "index.md"
        if not index.is_file():
            self.problems.add(folder, None, "a project folder needs an index.md")
            return None
        src = self.source(index, PROJECT_FIELDS, "project front matter")
        sources = _md_files(folder / "posts")
        posts = [p for p in (self.post(f, pid) for f in sources) if p]
        files = self.attachments(folder / "files", pid)
        if src is None:
            return None
        v, fm, body = src
        for oid in v["orgs"]:
            if oid not in self.people.orgs and oid not in self.people.broken:
                self.problems.add(index, fm.line_of("orgs"), f"unknown organisation '{oid}'")
            elif oid == self.settings.org:
                self.problems.add(index, fm.line_of("orgs"), f"'{oid}' is the site's own organisation: list external ones only")
        for person in v["members"]:
            self.person(index, fm.line_of("members"), person)
        ids = {f.name[:-3] for f in sources}
        slugs: dict[str, str] = {}
        for post in posts:
            if post.in_reply_to and post.in_reply_to not in ids:
                self.problems.add(self.root / "content" / post.key, None,
                                  f"in_reply_to: no post '{post.in_reply_to}' in project '{pid}'")
            slug = slugify(post.id)
            if slug in slugs:
                self.problems.add(self.root / "content" / post.key, None,
                                  f"duplicate slug '{slug}' (also {slugs[slug]})")
            slugs[slug] = post.id
        posts.sort(key=lambda p: (p.date, p.id))
        return Project(self.key_of(index), pid, v["title"], v["summary"],
                       v["status"], tuple(v["orgs"]), tuple(v["members"]), v["moderation"], body,
                       tuple(posts), files, v["visibility"])

    def attachments(self, folder: Path, pid: str) -> tuple[Attachment, ...]:
        """Every file below files/ (hidden files ignored)."""
        out = []
        if not folder.is_dir():
            return ()
        for f in sorted(folder.rglob("*")):
            if not f.is_file() or any(part.startswith(".") for part in f.relative_to(folder).parts):
                continue
            try:
                data = f.read_bytes()
            except OSError as e:
                self.problems.add(f, None, f"cannot read: {e.strerror}")
                continue
            name = f.relative_to(folder).as_posix()
            out.append(Attachment(f"projects/{pid}/files/{name}", pid, name, len(data),
                                  hashlib.sha256(data).hexdigest()))
        return tuple(out)


def _md_files(folder: Path) -> list[Path]:
    """Markdown files directly in `folder`, sorted; none if it does not exist (one scandir:
    no stat per file, names sorted as strings, the order of the paths of one folder)."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".md") and not e.is_dir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):  # as glob: nothing listed
        return []
    return [folder / name for name in names]


def _bodies_to_render(content: Path, bodies: BodyStore, records: RecordStore | None = None,
                      memo: ProjectMemo | None = None,
                      early: dict[str, tuple[str, FrontMatter, bool]] | None = None):
    """(key, markdown, first line, email) of every source whose body the cache lacks, for
    rendering ahead in a process pool (a source with the bytes of a cached one is not parsed;
    a project the memo has is not walked). `early` gets each front matter parsed here, by
    path with its text and whether its bytes are the ones the build hashed: the loader takes
    it instead of parsing the same text again, and such a text instead of reading the file
    again."""
    files = _md_files(content / "pages")
    projects = content / "projects"
    if projects.is_dir():
        for folder in sorted(p for p in projects.iterdir() if p.is_dir()):
            if memo is None or not memo.has(folder.name):
                files += [folder / "index.md"] + _md_files(folder / "posts")
    prefix = str(content) + "/"
    for path in files:
        key = str(path).removeprefix(prefix)
        what = "page" if key.startswith("pages/") else "project" if path.name == "index.md" else "post"
        if records is not None and records.key(path, key, f"{what} front matter") in records.known:
            continue  # parsed by an earlier build: its body is in its record
        try:
            raw = path.read_bytes()
            if bodies.has_source(key, raw):
                continue
            text = raw.decode("utf-8").replace("\r\n", "\n").removeprefix("\ufeff")
            fm = parse(text)
        except (OSError, ValueError):
            continue  # reported by the loader itself
        if early is not None:
            early[str(path)] = (text, fm, records is not None and records.hashed_as(path, raw) is True)
        item = (key, fm.body, fm.body_line, fm.data.get("source") == "email")
        bodies.note_source(key, raw, item)
        yield item


def load_site(settings: Settings, people: People, problems: Problems | None = None, *,
              bodies: BodyStore | None = None, records: RecordStore | None = None,
              memo: ProjectMemo | None = None) -> Site:
    """Load every page and project of the site; raise SiteError with all problems found
    (including those already in `problems`, e.g. from the settings and people files).
    `bodies` renders Markdown through the build cache (and a process pool on a cold build);
    `records` holds the sources earlier builds parsed, by content hash; `memo` the projects a
    long-running process loaded before (see ProjectMemo)."""
    content = settings.root / "content"
    early: dict[str, tuple[str, FrontMatter, bool]] = {}
    if bodies is not None and content.is_dir():
        bodies.prefetch(_bodies_to_render(content, bodies, records, memo, early))
    try:
        return _load(settings, people, problems, content, bodies, records, memo, early)
    finally:
        if bodies is not None:
            bodies.finish()


def _load(settings: Settings, people: People, problems: Problems | None, content: Path,
          bodies: BodyStore | None, records: RecordStore | None, memo: ProjectMemo | None,
          early: dict[str, tuple[str, FrontMatter, bool]]) -> Site:
    """The walk of load_site (bodies may still be rendering in the pool)."""
    loader = _Loader(settings, people, problems or Problems(settings.root), bodies, records, memo, early)
    if not content.is_dir():
        loader.problems.add(content, None, "content folder not found")
        loader.problems.raise_if_any()
    pages = [p for p in (loader.page(f) for f in _md_files(content / "pages")) if p]
    seen: dict[str, str] = {}
    for page in pages:
        if page.name in seen:
            loader.problems.add(content / page.key, None, f"duplicate slug '{page.name}' (also {seen[page.name]})")
        seen[page.name] = page.key
    projects = []
    proj_dir = content / "projects"
    if proj_dir.is_dir():
        for folder in sorted(p for p in proj_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if slugify(folder.name) != folder.name:
                loader.problems.add(folder, None, "a project folder name must be lowercase letters, digits and dashes")
                continue
            project = loader.project(folder)
            if project:
                projects.append(project)
    loader.problems.raise_if_any()
    site = Site(settings, people, tuple(pages), tuple(projects))
    for page in pages:
        site.by_key[page.key] = page
    for project in projects:
        site.by_key[project.key] = project
        for post in project.posts:
            site.by_key[post.key] = post
        for att in project.files:
            site.by_key[att.key] = att
    return site


def load_project(settings: Settings, people: People, project_id: str,
                 bodies: BodyStore | None = None) -> Project | None:
    """One project alone (the gateway's view when a reply arrives); None if there is none.
    `bodies`: rendered bodies by content hash (a build's cache), instead of rendering each.

    Raises SiteError if its sources are invalid, like a build would."""
    folder = settings.root / "content" / "projects" / project_id
    if slugify(project_id) != project_id or not (folder / "index.md").is_file():
        return None
    loader = _Loader(settings, people, Problems(settings.root), bodies)
    project = loader.project(folder)
    loader.problems.raise_if_any()
    return project
