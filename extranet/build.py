"""The build, top to bottom: load, view per zone, render, audit, protect, write.

    settings + people -> content (parsed once) -> for each zone: view (default deny)
    -> render (links resolved) -> audit the mixed zone -> protect (encrypt) -> publish (atomic)
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import config
from .cache import Cache, digest, open_cache
from .errors import ExtranetError, Problems
from .inputs import Hasher, Inputs, output_snapshot, walk
from .output import Spare, discard, folder_identity, publish, same_files
from .render.output import ZoneOutput
from .site.urls import urls_for

if TYPE_CHECKING:  # the stages themselves are imported by build() once it has work for them
    from .content.model import Site
    from .render.theme import Theme
    from .site.urls import Urls
    from .zones import View

log = logging.getLogger("extranet")


class BuildError(ExtranetError):
    """The build failed; nothing was written."""


class WarningCounter(logging.Handler):
    """Counts (and keeps) warnings, so that --strict can fail the build on any of them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class BuildResult:
    """What a build produced: the rendered (plaintext) zones, the written trees and figures."""

    site: Site | None  # None when nothing changed since the last build (nothing was loaded)
    views: dict[str, View]
    rendered: dict[str, ZoneOutput]
    written: dict[str, dict[str, bytes]]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False

    def release(self) -> None:
        """Drop the pages (a long-running caller, done with them): reused pages are deferred
        renderings that refer to their renderer, a reference cycle the cyclic garbage
        collector would otherwise have to find among millions of objects."""
        for out in self.rendered.values():
            out.files.clear()
        for tree in self.written.values():
            tree.clear()

    def summary(self) -> str:
        """One line: pages per zone, warnings, time."""
        zones = ", ".join(f"{z}: {o.pages} pages" for z, o in self.rendered.items())
        warn = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return f"built {zones}{warn} in {self.seconds:.2f} s"


@dataclass
class Warm:
    """What a long-running caller (the gateway) keeps in memory from one build to the next,
    instead of reading or computing it again: the build cache, the loaded projects, the theme,
    the fingerprints of content records, and the output tree the last publish swapped out.
    Each is keyed by content hashes (or by the identity of immutable records and of the output
    folders), like the cache on disk, so a warm build writes what a cold one would (tests:
    test_incremental.py, test_output_spare.py)."""

    cache: Cache | None = None
    projects: dict = field(default_factory=dict)  # see content.records.ProjectMemo
    theme: tuple[str, Theme] | None = None  # (hash of its files, the theme)
    fingerprints: dict = field(default_factory=dict)  # zone -> render.fingerprint.Kept
    spare: Spare | None = None  # the output trees the last publish swapped out (see output.Spare)
    output: tuple | None = None  # (output folder, identity of each zone's folder, inputs.Snapshot) after it

    def load_project(self, settings: config.Settings, people: config.People, project_id: str):
        """One project as content.loader.load_project loads it (the gateway's view when a reply
        arrives), taken from the last build when its files and the settings and people files
        hash the same; else loaded, its bodies taken from the cache by content hash."""
        from .content.loader import load_project, slugify
        from .content.parallel import BodyStore
        from .content.records import ProjectMemo

        root = settings.root
        if slugify(project_id) == project_id:  # (else load_project finds none)
            hasher = Hasher({})
            hashes = {p: hasher.file(p) for p in (str(root / "extranet.toml"), str(root / "people.toml"))}
            hashes |= {p: hasher.file(p, st) for p, st in walk(root / "content" / "projects" / project_id)
                       if st is not None}
            memo = ProjectMemo(self.projects, hashes, root)
            if memo.has(project_id):
                return memo.get(project_id, None)
        return load_project(settings, people, project_id, BodyStore(self.cache, jobs=1, remote_images=settings.remote_images) if self.cache else None)

    def theme_for(self, root: Path, name: str, compiled: Path | None, hashes: dict[str, str]) -> Theme:
        """The site's theme, the one kept when none of its files (the site's own and the
        packaged ones, as hashed for this build) changed."""
        from .render.theme import PACKAGE_THEMES, Theme

        folders = tuple(f"{d}/" for d in (root / "themes", PACKAGE_THEMES))
        key = digest(str(root), name, *sorted(f"{p}\0{h}" for p, h in hashes.items() if p.startswith(folders)))
        if self.theme is None or self.theme[0] != key:
            self.theme = (key, Theme(root, name, compiled))
        return self.theme[1]


def _without_gc(fn):
    """Run `fn` with the cyclic garbage collector off (its previous state restored after): a
    build makes millions of objects and few reference cycles, and full collections over them
    cost a long-running process (the gateway) seconds per rebuild."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        collecting = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()
    return wrapper


@_without_gc
def build(
    root: Path,
    *,
    strict: bool = False,
    out: Path | None = None,
    now: dt.datetime | None = None,
    encrypt: bool | None = None,
    write: bool = True,
    progress: Callable[[str], None] | None = None,
    preview_banner: Callable[[config.Settings], str] | None = None,
    livereload: bool = False,
    cache: bool = True,
    jobs: int | None = None,
    warm: Warm | None = None,
) -> BuildResult:
    """Build both zones of the site at `root` into `out` (default root/public).

    `preview_banner` (text per settings) and `livereload` mark and wire a local preview's pages.
    `cache`: reuse what earlier builds computed from identical inputs (.extranet/cache/, keyed
    by content hashes); `warm`: what a long-running caller (the gateway) keeps in memory between
    builds (see Warm), filled by this build; `jobs`: processes for Markdown and
    pages on a cold build (default: all cores).
    Raises SiteError for invalid sources and BuildError for warnings under --strict or a failed
    audit; in every failure case the previous output is left untouched.
    """
    started = time.perf_counter()
    say = progress or (lambda msg: None)
    counter = WarningCounter()
    log.addHandler(counter)
    try:
        problems = Problems(root)
        settings, people = config.load_partial(root, problems)
        if settings is None or people is None:
            problems.raise_if_any()
        assert settings is not None and people is not None
        store = warm.cache if warm is not None and cache else None
        if store is None or store.folder != settings.state_dir / "cache":
            store = open_cache(settings.state_dir, cache)
            if warm is not None and cache:
                warm.cache = store
        now = now or dt.datetime.now().replace(microsecond=0)
        out = out or root / "public"
        inputs = None
        if write and cache and preview_banner is None and not settings.notify_on_build:
            inputs = Inputs(store, root, out, repr((str(out), encrypt, livereload)))
            # (a long-running process's first build does the work anyway, to fill what it keeps)
            same = inputs.unchanged(now) if warm is None or warm.output is not None else None
            if same is not None:
                for message in same.warnings:
                    log.warning("%s", message)
                if strict and counter.messages:
                    raise BuildError(f"{len(counter.messages)} warning(s) with --strict, nothing written")
                say("nothing changed")
                rendered = {zone: ZoneOutput(zone, pages=n) for zone, n in same.pages}
                return BuildResult(None, {}, rendered, {}, counter.messages, time.perf_counter() - started,
                                   unchanged=True)
        from .audit import audit_output
        from .content.loader import load_site
        from .content.parallel import BodyStore
        from .content.records import ProjectMemo, RecordStore
        from .incremental import OutputMemo
        from .render.pages import ZoneRenderer
        from .render.pool import render_zones
        from .render.theme import Theme
        from .zones import ZONES, Rules

        say("loading content")
        bodies = BodyStore(store, jobs, settings.remote_images)
        hashes = inputs.hashes() if inputs is not None else {}
        warmed = warm is not None and inputs is not None  # a warm process's memos rely on the input hashes
        records = RecordStore(store, hashes)
        projects = ProjectMemo(warm.projects, hashes, root) if warmed else None
        site = load_site(settings, people, problems, bodies=bodies, records=records, memo=projects)
        rules = Rules(site, now)
        compiled = store.folder / "templates" if store.folder else None
        theme = warm.theme_for(root, settings.theme, compiled, hashes) if warmed else Theme(root, settings.theme, compiled)
        encrypt = settings.encrypt if encrypt is None else encrypt
        urls = urls_for(settings, encrypt)
        memo = OutputMemo(store, out, encrypt) if write and cache else None
        views = {zone: rules.view(zone) for zone in ZONES}
        banner = preview_banner(settings) if preview_banner else ""
        say("rendering")
        kept = warmed and memo is not None
        renderers = {zone: ZoneRenderer(views[zone], urls[zone], theme, preview_banner=banner, livereload=livereload,
                                        memo=memo.for_zone(zone) if memo else None,
                                        fingerprints=warm.fingerprints.get(zone, {}) if kept else None)
                     for zone in ZONES}
        sealers: dict = {}  # render workers seal what they render, if there are workers

        def seals() -> dict:
            from .protect.build import sealers_for

            sealers.update(sealers_for(site, views))
            return {zone: sealer.seal_all for zone, sealer in sealers.items()}

        rendered = render_zones(renderers, jobs, seals=seals if encrypt else None)
        for message in _set_aside(views):
            log.warning("%s", message)
        trees = {zone: out_.files for zone, out_ in rendered.items()}
        secrets = None
        if encrypt:
            from .protect.build import protect_site  # the protect stage (encryption, server auth)
            from .protect.secrets import Secrets

            say("encrypting")
            trees = protect_site(site, views, rendered, urls, memo.reusable if memo else None, sealers)
            for out_ in rendered.values():
                out_.sealed.clear()  # (the trees hold what they took)
            secrets = Secrets.load(settings.state_dir)
        # .htpasswd and server snippets: for the server's configuration, never in a served folder
        server = trees.pop("server", None)
        if server is None and write and not livereload and preview_banner is None:
            from .protect.build import server_tree  # unencrypted output: the server layer is all there is

            server = server_tree(site, views, urls)
        if strict and counter.messages:
            raise BuildError(f"{len(counter.messages)} warning(s) with --strict, nothing written")
        bodies.keep()
        records.keep()
        if write:
            say("writing")
            spare, trash = None, settings.state_dir / "trash"
            spares = settings.state_dir / "spare" / digest(str(out.resolve()))[:16]  # per output folder
            if warm is not None:
                if warm.spare is None or warm.spare.folder != spares:
                    warm.spare = Spare(spares)
                spare = warm.spare
            live = {zone: folder_identity(out / zone) for zone in trees}
            def audit(staged: dict[str, Path]) -> None:
                say("auditing")
                failures = audit_output(site, now, staged, urls, secrets)
                if failures:
                    raise BuildError(f"audit failed, nothing written ({len(failures)} problem(s)): "
                                     + "; ".join(failures[:5]))

            with ThreadPoolExecutor(1) as saver:  # the cache so far (by content) while the files are written
                saved = saver.submit(store.save)
                publish(out, trees, trash=trash, spare=spare, staging=settings.state_dir / "staging", check=audit)
            saved.result()
            if secrets is not None:
                secrets.save()  # user-name tags the audit derived (a PBKDF2 each): derived once
            if spare is None and spares.exists():
                discard(spares, trash)  # a gateway's, out of date now (it will stage afresh)
            if server is not None and not same_files(settings.state_dir / "server", server):
                publish(settings.state_dir, {"server": server})
            say("recording")  # what the next build needs to know of this one
            snapshot = None  # of the output just written, for the memo and the no-change test
            if inputs is not None:
                known = warm.output if warmed else None  # the last publish of this process, if still served
                snapshot = (known[2].after(out, trees) if known is not None and known[:2] == (out, live)
                            else output_snapshot(out, trees))
                if warmed:
                    warm.output = (out, {zone: folder_identity(out / zone) for zone in trees}, snapshot)
            if memo is not None:
                memo.record(rendered, trees, _content_keys(settings) if encrypt else {}, snapshot)
            if inputs is not None:
                inputs.record(site, now, trees, {z: o.pages for z, o in rendered.items()}, counter.messages,
                              snapshot)
        store.save()
        if projects is not None:
            warm.projects = projects.used
        if kept:
            warm.fingerprints = {zone: r.fp.used for zone, r in renderers.items()}
    finally:
        log.removeHandler(counter)
    return BuildResult(site, views, rendered, trees, counter.messages, time.perf_counter() - started)


def _set_aside(views: dict[str, View]) -> list[str]:
    """What staff must know of the email posts held back from the mixed zone."""
    from .zones import INTERNAL

    held = views[INTERNAL].held or {}
    return [f"{key}: held for moderation, not shared: {reason}" for key, reason in sorted(held.items())]


def _content_keys(settings: config.Settings) -> dict[str, dict[str, bytes]]:
    """zone -> scope -> content key, as the protect stage just saved them."""
    from .protect.secrets import Secrets

    secrets = Secrets.load(settings.state_dir)
    return {zone: dict(zs.keys) for zone, zs in secrets.zones.items()}
