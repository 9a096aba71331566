"""The protect stage as the build calls it: encrypt both zones, add the server-side layer.

Plaintext zones in (from render), output trees out: `internal`, `mixed` (encrypted, with
login page and keyring) and `server` (.htpasswd and server snippets, never served).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..content.model import Site
from ..render.pages import ZoneOutput
from ..site.urls import Urls
from ..zones import MIXED, View, person_scope
from .homes import home_path, name_secret
from .secrets import Secrets
from .server import server_files
from .zone import Sealer, plan_keys, protect_zone

log = logging.getLogger("extranet")


def protect_site(site: Site, views: Mapping[str, View], rendered: Mapping[str, ZoneOutput],
                 urls: Mapping[str, Urls], reusable: Callable[[str, str, bytes], bool] | None = None,
                 sealers: Mapping[str, Sealer] | None = None) -> dict[str, dict[str, bytes]]:
    """Encrypt every zone for exactly its readers; people without a password are left out.
    `reusable(zone, path, content key)`: whether a deferred page's previous output may be kept;
    `sealers`: the ones render workers sealed files with ahead (see sealers_for)."""
    settings = site.settings
    secrets = Secrets.load(settings.state_dir, create=True)
    emails = {p.id: p.email for p in site.people.people.values()}
    missing = sorted({pid for v in views.values() for pid in v.grants if pid not in secrets.people})
    if missing:
        log.warning("%d %s no password yet and cannot log in (%s): run `extranet people reset ID`",
                    len(missing), "person has" if len(missing) == 1 else "people have", ", ".join(missing))
    trees: dict[str, dict[str, bytes]] = {}
    for zone, out in rendered.items():
        view = views[zone]
        grants = {pid: scopes for pid, scopes in view.grants.items() if pid in secrets.people}
        files = dict(out.files)
        scopes = dict(out.scopes)
        if zone == MIXED:
            out.moved.clear()
            out.moved.update(_place_homes(files, scopes, grants, secrets, zone, emails))
        ahead = sealers.get(zone) if sealers else None
        trees[zone] = protect_zone(zone, files, scopes, grants, secrets, title=settings.title,
                                   language=settings.language, remember_days=settings.remember_days,
                                   emails=emails,
                                   reusable=(lambda p, k, z=zone: reusable(z, p, k)) if reusable else None,
                                   sealed=out.sealed, fresh=ahead.keys if ahead else None)
    trees["server"] = server_tree(site, views, urls, secrets)
    return trees


def sealers_for(site: Site, views: Mapping[str, View]) -> dict[str, Sealer]:
    """A Sealer per zone with the key each project's scope will have when protect_site runs
    (for render workers to seal each project's files as they render them)."""
    settings = site.settings
    secrets = Secrets.load(settings.state_dir, create=True)
    out = {}
    for zone, view in views.items():
        grants = {pid: scopes for pid, scopes in view.grants.items() if pid in secrets.people}
        keys = plan_keys(zone, {pv.project.id for pv in view.projects}, grants, secrets)
        out[zone] = Sealer(zone, keys, title=settings.title, language=settings.language)
    return out


def server_tree(site: Site, views: Mapping[str, View], urls: Mapping[str, Urls],
                secrets: Secrets | None = None) -> dict[str, bytes]:
    """The server-side layer (.htpasswd and snippets): with encryption, and alone without it."""
    secrets = secrets or Secrets.load(site.settings.state_dir, create=True)
    emails = {p.id: p.email for p in site.people.people.values()}
    project_dirs = {zone: {p.id: urls[zone].project_dir(p.id) for p in site.projects} for zone in views}
    return server_files(views, project_dirs, secrets, emails)


def _place_homes(files: dict[str, bytes], scopes: dict[str, str], grants: Mapping[str, frozenset[str]],
                 secrets: Secrets, zone: str, emails: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Move each person's home page to the path their browser derives from their user name;
    returns where each home went (rendered path -> output paths)."""
    zs = secrets.zone(zone)
    moved: dict[str, tuple[str, ...]] = {}
    for path in [p for p, s in scopes.items() if s.startswith("person:")]:
        pid = scopes[path].split(":", 1)[1]
        data = files.pop(path)
        del scopes[path]
        if pid not in grants:
            continue
        targets = []
        for name in {pid, emails.get(pid, "")} - {""}:
            target = home_path(name_secret(zs, name))
            files[target] = data
            scopes[target] = person_scope(pid)
            targets.append(target)
        moved[path] = tuple(sorted(targets))
    return moved
