"""Local preview: build without encryption, serve both zones from memory, rebuild and reload.

    watch (watch.py) -> build(encrypt=False, write=False) -> Snapshot (files in memory)
    -> two loopback HTTP servers, internal and mixed, answer from the latest Snapshot
    -> livereload.js (EventSource on /__extranet/events) reloads open tabs on a new build id

No request path ever reaches the filesystem: a page is a key of an in-memory dict, so path
traversal is impossible by construction. Nothing is written to the output folder.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import mimetypes
import socket
import socketserver
import sys
import threading
import traceback
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote

from .build import build
from .config import Settings
from .errors import ExtranetError, SiteError
from .render.theme import PACKAGE_THEMES
from .site.urls import Urls
from .watch import Watcher
from .zones import INTERNAL, MIXED, personal

CSP = "default-src 'self'"
EVENTS = "/__extranet/events"
SCRIPT = "/__extranet/livereload.js"
LIVERELOAD_JS = PACKAGE_THEMES / "default" / "static" / "livereload.js"
HTML = "text/html; charset=utf-8"

BANNERS = {"fr": "Aperçu local non chiffré — pas pour publication",
           "en": "Local unencrypted preview — not for publication"}


def banner(settings: Settings) -> str:
    """The preview banner shown on every page, in the site's language."""
    return BANNERS.get(settings.language, BANNERS["en"])


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _digest(files: dict[str, dict[str, bytes]]) -> str:
    h = hashlib.sha256()
    for zone, path in sorted((z, p) for z in files for p in files[z]):
        h.update(f"{zone}\0{path}\0{len(files[zone][path])}\0".encode() + files[zone][path])
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Snapshot:
    """What the servers show: the files of the last good build and the last error, if any."""

    build_id: str
    files: dict[str, dict[str, bytes]]  # zone -> path -> bytes
    scopes: dict[str, str]  # mixed path -> scope (absent: public static file)
    grants: dict[str, frozenset[str]]  # person id -> mixed scopes they may read
    error: str | None
    language: str = "en"
    banner: str = BANNERS["en"]

    @classmethod
    def empty(cls) -> "Snapshot":
        """Before the first build."""
        return cls("none", {}, {}, {}, None)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, decided without I/O."""

    status: int
    body: bytes = b""
    ctype: str = "text/plain; charset=utf-8"
    location: str | None = None


def normalise(target: str) -> str | None:
    """The zone-relative key of a request target ('' for the root, '…/' for a folder).

    None (answer 400) for anything but a plain local path: absolute URLs, `.` or `..`
    segments (also percent-encoded), backslashes, control characters, invalid UTF-8.
    """
    if not target.startswith("/") or target.startswith("//"):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return None
    parts = path.split("/")[1:]
    if any(p in (".", "..") for p in parts):
        return None
    rel = "/".join(p for p in parts if p)
    return rel + "/" if rel and path.endswith("/") else rel


def content_type(path: str) -> str:
    """A Content-Type by extension; text types in UTF-8."""
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith(("javascript", "json", "xml")):
        ctype += "; charset=utf-8"
    return ctype


def resolve(target: str, snap: Snapshot, zone: str, person: str | None = None,
            wants_html: bool = False) -> Reply:
    """Answer a GET for `target` on `zone` from the snapshot (the mixed zone as `person` sees it)."""
    rel = normalise(target)
    if rel is None:
        return Reply(400, b"bad request\n")
    if person and personal(zone) and rel in ("", "index.html"):
        return Reply(302, location="/" + Urls().person_home(person))
    key = rel + "index.html" if rel == "" or rel.endswith("/") else rel
    files = snap.files.get(zone, {})
    if snap.error and (wants_html or key.endswith(".html")):
        return Reply(500, error_page(snap), HTML)
    if key not in files and key + "/index.html" in files:
        return Reply(301, location="/" + key + "/")
    if key in files and _readable(snap, zone, person, key):
        return Reply(200, files[key], content_type(key))
    return Reply(404, not_found_page(snap, person), HTML)


def _readable(snap: Snapshot, zone: str, person: str | None, key: str) -> bool:
    if not personal(zone) or person is None:
        return True
    scope = snap.scopes.get(key)
    return scope is None or scope in snap.grants.get(person, frozenset())


def _page(snap: Snapshot, title: str, body: str) -> bytes:
    """A bare preview page (banner, livereload) that needs no build: errors and 404s."""
    css = '<link rel="stylesheet" href="/static/style.css">\n' if any(
        "static/style.css" in f for f in snap.files.values()) else ""
    return (f'<!doctype html>\n<html lang="{snap.language}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)} · extranet</title>\n{css}"
            f'<script src="{SCRIPT}" defer></script>\n</head>\n<body>\n'
            f'<div class="preview-banner" role="status">{html.escape(snap.banner)}</div>\n'
            f'<main class="wrap">\n<h1>{html.escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n'
            ).encode("utf-8")


def error_page(snap: Snapshot) -> bytes:
    """The page every HTML request gets while the last build failed (error text escaped)."""
    t = _TEXT.get(snap.language, _TEXT["en"])
    return _page(snap, t["failed"], f'<pre class="build-error">{html.escape(snap.error or "")}</pre>\n'
                 f"<p>{t['hint']}</p>\n")


def not_found_page(snap: Snapshot, person: str | None) -> bytes:
    """404, with the live reload script so that the tab recovers when the page appears."""
    t = _TEXT.get(snap.language, _TEXT["en"])
    note = f"<p>{html.escape(t['as'].format(person))}</p>\n" if person else ""
    return _page(snap, t["missing"], note)


_TEXT = {
    "fr": {"failed": "La construction a échoué", "missing": "Page introuvable",
           "hint": "Corrigez le fichier et enregistrez : cette page se recharge d'elle-même.",
           "as": "Aperçu du site partagé tel que le voit {} : cette page ne lui est pas ouverte."},
    "en": {"failed": "Build failed", "missing": "Page not found",
           "hint": "Fix the file and save: this page reloads by itself.",
           "as": "Previewing the shared site as {} sees it: this page is not open to them."},
}


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD from the preview's latest snapshot; the event stream; nothing else."""

    server: "PreviewServer"
    server_version = "extranet-preview"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def end_headers(self) -> None:
        """Every response, errors included, carries the policy the published site must meet."""
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the terminal shows builds and their errors, not every request

    def _answer(self, head: bool) -> None:
        preview = self.server.preview
        snap = preview.current()
        path = self.path.split("?", 1)[0]
        if not self.server.host_allowed(self.headers.get("Host")):
            reply = Reply(400, b"unexpected Host header\n")
        elif path == EVENTS and not head:
            return self._events()
        elif path == SCRIPT:
            reply = Reply(200, LIVERELOAD_JS.read_bytes(), content_type(SCRIPT))
        else:
            wants_html = "text/html" in self.headers.get("Accept", "")
            reply = resolve(self.path, snap, self.server.zone, self.server.person, wants_html)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Server-Timing", f'build;desc="{snap.build_id}"')
        if reply.location:
            self.send_header("Location", reply.location)
        self.end_headers()
        if not head:
            self.wfile.write(reply.body)

    def _events(self) -> None:
        """Server-Sent Events: the current build id at once, then each new one."""
        preview = self.server.preview
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        known: str | None = None
        try:
            self.wfile.write(b"retry: 500\n\n")
            while not preview.closed:
                snap = preview.current() if known is None else preview.wait_for_change(known, 15)
                if preview.closed:
                    return
                if snap.build_id != known:
                    known = snap.build_id
                    self.wfile.write(f"event: build\ndata: {known}\n\n".encode())
                else:
                    self.wfile.write(b": ping\n\n")
        except OSError:
            return  # the tab went away


class PreviewServer(ThreadingHTTPServer):
    """One zone's preview server, bound to the given host, answering from memory only."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], zone: str, preview: "Preview",
                 person: str | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.zone = zone
        self.preview = preview
        self.person = person
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup of HTTPServer (no network needed)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def host_allowed(self, header: str | None) -> bool:
        """On loopback, only loopback Host names: a foreign page cannot read the preview
        through DNS rebinding."""
        bound = str(self.server_address[0])
        if header is None or not is_loopback(bound):
            return True
        name = header.rsplit(":", 1)[0] if not header.endswith("]") else header
        name = name.strip("[]").lower()
        return name == bound or is_loopback(name)


@dataclass
class Preview:
    """The whole preview: first build, the two servers and the watcher, with start()/stop().

    `ports` are the internal and mixed ports (0: any free port); `person` previews the mixed
    site as that person sees it; build results and errors are reported on `out` and `err`.
    """

    root: Path
    host: str = "127.0.0.1"
    ports: tuple[int, int] = (8000, 8001)
    person: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    delay: float = 0.2

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.snapshot = Snapshot.empty()
        self._cond = threading.Condition()
        self._build_lock = threading.Lock()
        self.closed = False
        self.servers: dict[str, PreviewServer] = {}
        self._threads: list[threading.Thread] = []
        self._watcher = Watcher(self.root, self.rebuild, self.delay)

    # -- state shared with the servers ------------------------------------------------------
    def current(self) -> Snapshot:
        """The latest snapshot (good files of the last successful build, last error if any)."""
        with self._cond:
            return self.snapshot

    def wait_for_change(self, known: str, timeout: float) -> Snapshot:
        """Block until the build id differs from `known`, the preview stops, or `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: self.closed or self.snapshot.build_id != known, timeout)
            return self.snapshot

    def _publish(self, snapshot: Snapshot) -> None:
        with self._cond:
            self.snapshot = snapshot
            self._cond.notify_all()

    def rebuild(self) -> Snapshot:
        """Build once; on failure keep the last good files, record the error and report it."""
        with self._build_lock:
            previous = self.current()
            try:
                result = build(self.root, encrypt=False, write=False, preview_banner=banner,
                               livereload=True)
            except SiteError as e:
                error = "\n".join(str(p) for p in e.problems)
            except ExtranetError as e:
                error = str(e)
            except Exception as e:  # a theme or code error must not stop the preview
                error = f"{type(e).__name__}: {e}"
                self.err.write(traceback.format_exc())
            else:
                files = {zone: out.files for zone, out in result.rendered.items()}
                self._publish(Snapshot(_digest(files), files, dict(result.rendered[MIXED].scopes),
                                       dict(result.views[MIXED].grants), None,
                                       result.site.settings.language, banner(result.site.settings)))
                print(result.summary(), file=self.out, flush=True)
                return self.current()
            self._publish(replace(previous, build_id=_digest({"error": {"": error.encode()}}),
                                  error=error))
            lines = [*error.splitlines(), "build failed; still serving the last good build, fix and save"]
            print("".join(f"error: {line}\n" for line in lines), end="", file=self.err, flush=True)
            return self.current()

    def start(self) -> None:
        """Build, start both servers (bound to `host`) and the watcher."""
        self.rebuild()
        try:
            for zone, port in zip((INTERNAL, MIXED), self.ports):
                try:
                    server = PreviewServer((self.host, port), zone, self,
                                           self.person if personal(zone) else None)
                except OSError as e:
                    raise ExtranetError(f"cannot listen on {self.host}:{port}: {e.strerror}") from e
                self.servers[zone] = server
                thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                          name=f"extranet-serve-{zone}", daemon=True)
                thread.start()
                self._threads.append(thread)
            self._watcher.start()
        except BaseException:
            self.stop()  # e.g. the second port is taken: do not leave the first one running
            raise
        snap = self.current()
        if self.person and not snap.error and self.person not in snap.grants:
            self.err.write(f"warning: {self.person!r} can read nothing on the mixed site "
                           "(unknown, expired, or in no shared project)\n")

    def url(self, zone: str) -> str:
        """The address of a zone's server."""
        host, port = self.servers[zone].server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def stop(self) -> None:
        """Stop the watcher and the servers; open event streams end at once."""
        self._watcher.stop()
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

