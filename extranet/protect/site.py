"""The protect stage: the rendered zones in, the trees to publish out.

`internal` and `mixed` encrypted, each file for exactly the scope that may read it, with
their login page and keyring; `server`, the .htpasswd files and server snippets (never
served). Keys are chosen, kept and rotated in protect/zone.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..content.model import Site
from ..render.pages import ZoneOutput
from ..site.urls import Urls
from ..scopes import MIXED, PERSON_SCOPE, person_scope
from ..zones import View
from .homes import home_path, name_secret
from .secrets import Secrets
from .server import server_files
from .zone import protect_zone

log = logging.getLogger("extranet")


def protect_site(site: Site, views: Mapping[str, View], rendered: Mapping[str, ZoneOutput],
                 urls: Mapping[str, Urls], reusable: Callable[[str, str, bytes], bool] | None = None,
                 encrypt: bool = True) -> dict[str, dict[str, bytes]]:
    """The trees to publish: both zones (encrypted for exactly their readers, people without a
    password left out, unless `encrypt` is false) and the server layer. `reusable(zone, path,
    content key)`: whether a kept page's previous output may stay as it is."""
    settings = site.settings
    secrets = Secrets.load(settings.state_dir, create=True)
    trees: dict[str, dict[str, bytes]] = {}
    if not encrypt:
        trees = {zone: dict(out.files) for zone, out in rendered.items()}
        trees["server"] = server_tree(site, views, urls, secrets)
        return trees
    emails = {p.id: p.email for p in site.people.people.values()}
    missing = sorted({pid for v in views.values() for pid in v.grants if pid not in secrets.people})
    if missing:
        log.warning("%d %s no password yet and cannot log in (%s): run `extranet people reset ID`",
                    len(missing), "person has" if len(missing) == 1 else "people have", ", ".join(missing))
    shared_salt = sorted(pid for pid, cred in secrets.people.items() if cred.one_salt)
    if shared_salt:
        log.warning("%s: one salt for both zones (credentials made before zones had their own): run "
                    "`extranet people reset ID` to separate them", ", ".join(shared_salt))
    for zone, out in rendered.items():
        grants = {pid: scopes for pid, scopes in views[zone].grants.items() if pid in secrets.people}
        files, scopes = dict(out.files), dict(out.scopes)
        _place_homes(files, scopes, grants, secrets, zone, emails)  # (person scopes: in a personal zone)
        trees[zone] = protect_zone(zone, files, scopes, grants, secrets, title=settings.title,
                                   language=settings.language, remember_days=settings.remember_days,
                                   emails=emails,
                                   reusable=(lambda p, k, z=zone: reusable(z, p, k)) if reusable else None)
    trees["server"] = server_tree(site, views, urls, secrets)
    return trees


def server_tree(site: Site, views: Mapping[str, View], urls: Mapping[str, Urls],
                secrets: Secrets | None = None) -> dict[str, bytes]:
    """The server-side layer (.htpasswd and snippets): with encryption, and alone without it."""
    secrets = secrets or Secrets.load(site.settings.state_dir, create=True)
    emails = {p.id: p.email for p in site.people.people.values()}
    project_dirs = {zone: {p.id: urls[zone].project_dir(p.id) for p in site.projects} for zone in views}
    return server_files(views, project_dirs, secrets, emails)


def _place_homes(files: dict[str, bytes], scopes: dict[str, str], grants: Mapping[str, frozenset[str]],
                 secrets: Secrets, zone: str, emails: Mapping[str, str]) -> None:
    """Move each person's home page to the path their browser derives from their user name."""
    zs = secrets.zone(zone)
    for path in [p for p, s in scopes.items() if s.startswith(PERSON_SCOPE)]:
        pid = scopes[path].split(":", 1)[1]
        data = files.pop(path)
        del scopes[path]
        if pid not in grants:
            continue
        for name in {pid, emails.get(pid, "")} - {""}:
            target = home_path(name_secret(zs, name))
            files[target] = data
            scopes[target] = person_scope(pid)


def content_keys(settings) -> dict[str, dict[str, bytes]]:
    """zone -> scope -> content key, as the protect stage saved them (for the page memo)."""
    secrets = Secrets.load(settings.state_dir)
    return {zone: dict(zs.keys) for zone, zs in secrets.zones.items()}
