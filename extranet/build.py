"""The build, top to bottom (docs/architecture.md):

    settings, people -> inputs (nothing changed since the last build: done)
    -> content (parsed once, kept by content) -> views (zones.py: who sees what)
    -> render (kept pages by their declared inputs) -> protect (encrypt)
    -> audit (the staged output, trusting nothing) -> publish (atomic) -> record
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from . import config
from .errors import BuildError, Problems, WarningCounter
from .inputs import Inputs
from .render.output import ZoneOutput
from .scopes import INTERNAL, ZONES
from .state import SEEN, SPARE, TEXTS, VERDICTS, BuildState, memos, open_state, spare_of

if TYPE_CHECKING:  # (the stages are imported once there is work: a build that finds nothing changed loads none)
    from .content.model import Site
    from .zones import View

__all__ = ["BuildError", "BuildResult", "BuildState", "build"]
log = logging.getLogger("extranet")


@dataclass
class BuildResult:
    """What a build produced: the site, its views and the rendered zones (none of them when
    nothing changed since the last build: `unchanged`)."""

    site: Site | None
    views: dict[str, View]
    rendered: dict[str, ZoneOutput]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False

    def summary(self) -> str:
        """One line: pages per zone, warnings, time."""
        zones = ", ".join(f"{z}: {o.pages} pages" for z, o in self.rendered.items())
        warn = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return f"built {zones}{warn} in {self.seconds:.2f} s"


def build(root: Path, *, strict: bool = False, out: Path | None = None, now: dt.datetime | None = None,
          encrypt: bool | None = None, write: bool = True, progress: Callable[[str], None] | None = None,
          preview_banner: Callable[[config.Settings], str] | None = None, livereload: bool = False,
          cache: bool = True, jobs: int | None = None, state: BuildState | None = None) -> BuildResult:
    """Build both zones of the site at `root` into `out` (default root/public).

    `preview_banner` (text per settings) and `livereload` mark and wire a local preview's
    pages; `cache`: keep what earlier builds made from the same inputs (.extranet/cache/);
    `state`: what a long-running caller keeps between builds; `jobs`: processes for a cold
    build (default: all cores). Raises SiteError for invalid sources and BuildError for
    warnings under --strict or a failed audit; then the previous output is left untouched."""
    started, say, counter = time.perf_counter(), progress or (lambda message: None), WarningCounter()
    log.addHandler(counter)
    try:
        problems = Problems(root)
        settings, people = config.load_partial(root, problems)
        if settings is None or people is None:
            problems.raise_if_any()
        store = open_state(settings, cache, state)
        now, out = now or dt.datetime.now().replace(microsecond=0), out or root / "public"
        encrypt = settings.encrypt if encrypt is None else encrypt
        banner = preview_banner(settings) if preview_banner else ""
        inputs = Inputs(store, root, out, repr((str(out), encrypt, banner, livereload)))
        same = inputs.unchanged(now) if write and cache else None
        if same is not None:
            for message in same.warnings:
                log.warning("%s", message)
            say("nothing changed")
            rendered = {zone: ZoneOutput(zone, pages=n) for zone, n in same.pages}
        else:
            from .audit import Audit
            from .content.loader import load_site
            from .content.records import RecordStore
            from .output import publish, same_files
            from .protect.secrets import Secrets
            from .protect.site import content_keys, protect_site
            from .render.memo import PageMemo
            from .render.pages import ZoneRenderer
            from .render.pool import render_zones
            from .render.theme import Theme
            from .site.urls import urls_for
            from .zones import Rules
            say("loading content")
            records = RecordStore(store, settings.remote_images)
            site = load_site(settings, people, problems, files=inputs.content_files(), records=records,
                             jobs=jobs or os.cpu_count() or 1)
            records.keep()  # (the parsed sources this build used, for the next one)
            texts, verdicts = memos(store, state)
            views = Rules(site, now, texts).views()
            for key, reason in sorted((views[INTERNAL].held or {}).items()):
                log.warning("%s: held for moderation, not shared: it %s", key, reason)
            urls = urls_for(settings, encrypt)
            audit = Audit(site, now, urls, texts, verdicts) if write else None  # (reads the sources meanwhile)
            say("rendering")
            theme = Theme.kept(root, settings.theme, inputs.folders_digest(Theme.folders(root, settings.theme)),
                               state.theme if state else None)
            memo = PageMemo(store, out, encrypt) if write and cache else None
            rendered = render_zones({zone: ZoneRenderer(views[zone], urls[zone], theme, preview_banner=banner,
                                                        livereload=livereload, memo=memo.for_zone(zone) if memo else None)
                                     for zone in ZONES}, jobs)
            say("encrypting" if encrypt else "preparing")
            trees = protect_site(site, views, rendered, urls, memo.reusable if memo else None, encrypt)
            server = trees.pop("server")
            trees = {zone: trees[zone] for zone in reversed(ZONES)}  # (the audit reads the mixed zone meanwhile)
        if strict and counter.messages:
            raise BuildError(f"{len(counter.messages)} warning(s) with --strict, nothing written")
        if same is not None:
            return BuildResult(None, {}, rendered, counter.messages, time.perf_counter() - started, unchanged=True)
        if write:
            say("writing and auditing")
            secrets = Secrets.load(settings.state_dir) if encrypt else None
            spare = spare_of(settings, out, store) if cache else None
            publish(out, trees, trash=settings.state_dir / "trash", staging=settings.state_dir / "staging",
                    spare=spare, check=lambda staged: audit.check(staged, secrets),
                    early=lambda zone, staged: audit.early(zone, staged, secrets))
            store.touch(SPARE)
            if secrets is not None:
                secrets.save()  # (the user-name values the audit derived: a PBKDF2 each, once)
            if not livereload and not same_files(settings.state_dir / "server", server):
                publish(settings.state_dir, {"server": server}, staging=settings.state_dir / "staging")
            if memo is not None:
                memo.record(rendered, trees, content_keys(settings) if encrypt else {})
            inputs.record(site, now, trees, {z: o.pages for z, o in rendered.items()}, counter.messages)
            store.replace(TEXTS, texts.used())
            store.replace(VERDICTS, verdicts.used)
            store.replace(SEEN, verdicts.seen_now)
        store.save()
        if state is not None:
            state.theme = theme
    finally:
        log.removeHandler(counter)
    return BuildResult(site, views, rendered, counter.messages, time.perf_counter() - started)
