"""The protect stage: a zone's plaintext tree in, its encrypted tree out.

One content key per scope (a project, or ``_site`` for zone-wide pages) and zone; every
page and attachment is sealed with the key of its scope; each person's keyring entry
wraps the keys of the scopes they may open. Keys persist in the secrets dir between
builds, and a scope is rotated (new key) whenever someone who could open it at the
previous build no longer can (removed, expired, grant lost, password reset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..scopes import PERSON_SCOPE, SITE_SCOPE
from .crypto import ContentKey, ProtectError, key_for, open_blob, padded_size, payload_of, seal
from .keyring import KEYRING_FILE, TAG_ITERATIONS, KeyringMember, build_keyring, normalize_username, username_secret
from .secrets import GrantRecord, Secrets, ZoneSecrets
from .shell import LOGIN_PAGE, THEME_DIR, login_page, shell_blob, shell_page

BROWSER_FILES = ("extranet.js", "extranet.css")


def protect_zone(
    zone: str,
    files: Mapping[str, bytes],
    scope_of: Mapping[str, str],
    grants: Mapping[str, frozenset[str]],
    secrets: Secrets,
    *,
    title: str,
    language: str,
    remember_days: int,
    static_prefix: str = "static/",
    emails: Mapping[str, str] | None = None,
    tag_iterations: int = TAG_ITERATIONS,
    reusable: Callable[[str, bytes], bool] | None = None,
) -> dict[str, bytes]:
    """Encrypt a zone and return its output tree (relative path -> bytes).

    ``files`` holds every file of the zone: pages (``*.html``), attachments, and the
    theme's public files under ``static_prefix``. ``scope_of`` gives the scope of every
    page and attachment (a file without one is an error: default deny). ``grants`` maps
    each person allowed in the zone to their scopes; everyone in it may also open
    ``_site``. ``emails`` overrides the emails recorded with the credentials (user
    names are the id and the email). Adds ``login.html``, ``keyring.json`` and the
    browser script and style. Updates and saves ``secrets`` (keys, grants, tag cache).
    A file that is not bytes is a page kept from the last build (it has a ``render()``): its
    previous output stays when ``reusable(path, content key)`` says it was sealed with that
    same key, else it is rendered and sealed now.
    """
    zs = secrets.zone(zone)
    private = {p for p in files if not p.startswith(static_prefix)}
    _check_paths(private, scope_of)
    current = {pid: frozenset(scopes) | {SITE_SCOPE} for pid, scopes in grants.items()}
    missing = sorted(pid for pid in current if pid not in secrets.people)
    if missing:
        raise ProtectError(
            f"no credentials for {', '.join(missing)}: run `extranet people reset` for them"
        )
    _rotate(zone, zs, current, secrets)
    needed = {scope_of[p] for p in private} | {s for scopes in current.values() for s in scopes}
    for scope in list(zs.keys):
        if scope not in needed:
            del zs.keys[scope]
    keys = {s: ContentKey.from_secret(zs.keys.setdefault(s, ContentKey.generate().secret)) for s in sorted(needed)}

    out: dict[str, bytes] = {}
    homes = {p: d if isinstance(d, bytes) else d.render() for p, d in files.items()
             if scope_of.get(p, "").startswith(PERSON_SCOPE)}
    home_size = max((padded_size(len(payload_of(d)[1])) for d in homes.values()), default=0)
    for path, data in files.items():
        if path in homes:  # every home page of the zone has the same size: none tells whose it is
            out[path] = _served(path, seal(keys[scope_of[path]], homes[path], size=home_size), zone, title,
                                language, static_prefix)
            continue
        if not isinstance(data, bytes):
            if path in private and reusable is not None and reusable(path, keys[scope_of[path]].secret):
                out[path] = data
                continue
            data = data.render()
        if path in private:
            out[path] = _served(path, seal(keys[scope_of[path]], data), zone, title, language, static_prefix)
        else:
            out[path] = data
    for name in BROWSER_FILES:
        out.setdefault(static_prefix + name, (THEME_DIR / "static" / name).read_bytes())
    out[LOGIN_PAGE] = login_page(
        zone=zone, title=title, language=language, remember_days=remember_days, static_prefix=static_prefix
    )
    members = _members(zone, zs, current, secrets, keys, emails or {}, tag_iterations)
    out[KEYRING_FILE] = build_keyring(zs.tag_salt, members, tag_iterations=tag_iterations)
    zs.grants = {pid: GrantRecord(scopes, secrets.people[pid].wrap(zone).salt) for pid, scopes in current.items()}
    secrets.save()
    return out


def _served(path: str, blob: bytes, zone: str, title: str, language: str, static_prefix: str) -> bytes:
    """What is served for a sealed file: a page's blob inside its shell page, an attachment's as is."""
    if not path.endswith(".html"):
        return blob
    return shell_page(path, blob, zone=zone, title=title, language=language, static_prefix=static_prefix)


def _check_paths(private: set[str], scope_of: Mapping[str, str]) -> None:
    for reserved in (LOGIN_PAGE, KEYRING_FILE):
        if reserved in private:
            raise ProtectError(f"{reserved} is reserved for the login machinery")
    unscoped = sorted(p for p in private if not scope_of.get(p))
    if unscoped:
        raise ProtectError(f"no scope for {', '.join(unscoped[:5])}: every protected file needs one")


def lost_scopes(zone: str, zs: ZoneSecrets, current: Mapping[str, frozenset[str]], secrets: Secrets) -> set[str]:
    """Scopes that someone could open at the previous build and cannot open now.

    A person whose credentials changed since (password reset) counts as having lost
    all their previous scopes: whoever knew the old password must not read new content.
    """
    lost: set[str] = set()
    for pid, before in zs.grants.items():
        cred = secrets.people.get(pid)
        if pid not in current or cred is None or cred.wrap(zone).salt != before.salt:
            lost |= before.scopes
        else:
            lost |= before.scopes - current[pid]
    return lost


def _rotate(zone: str, zs: ZoneSecrets, current: Mapping[str, frozenset[str]], secrets: Secrets) -> None:
    for scope in lost_scopes(zone, zs, current, secrets):
        zs.keys.pop(scope, None)


def _members(
    zone: str,
    zs: ZoneSecrets,
    current: Mapping[str, frozenset[str]],
    secrets: Secrets,
    keys: Mapping[str, ContentKey],
    emails: Mapping[str, str],
    tag_iterations: int,
) -> list[KeyringMember]:
    owner: dict[str, str] = {}
    cache: dict[str, bytes] = {}
    members = []
    for pid in sorted(current):
        cred = secrets.people[pid]
        email = emails.get(pid, cred.email)
        names = {normalize_username(pid)} | ({normalize_username(email)} if email.strip() else set())
        for name in names:
            if owner.setdefault(name, pid) != pid:
                raise ProtectError(f"user name {name!r} is shared by {owner[name]} and {pid} in zone {zone}")
            slot = f"{tag_iterations}|{name}"
            cache[slot] = zs.tag_cache.get(slot) or username_secret(name, zs.tag_salt, tag_iterations)
        members.append(
            KeyringMember(
                name_secrets=tuple(cache[f"{tag_iterations}|{n}"] for n in sorted(names)),
                wrap=cred.wrap(zone),
                iterations=cred.iterations,
                content_secrets=tuple(keys[s].secret for s in sorted(current[pid])),
            )
        )
    # keep the tags of everyone with credentials (the audit opens the keyring as each of them)
    known = {f"{tag_iterations}|{normalize_username(n)}" for pid, c in secrets.people.items()
             for n in (pid, emails.get(pid, c.email)) if n.strip()}
    zs.tag_cache = {slot: t for slot, t in zs.tag_cache.items() if slot in known} | cache
    return members


def zone_keys(secrets: Secrets, zone: str) -> dict[str, ContentKey]:
    """The current content key of every scope of a zone (for audit and tests)."""
    if zone not in secrets.zones:
        raise ProtectError(f"no keys for zone {zone!r}: build it first")
    return {s: ContentKey.from_secret(k) for s, k in secrets.zones[zone].keys.items()}


def file_key(path: str, data: bytes, keys: list[ContentKey]) -> tuple[ContentKey, bytes]:
    """The key among `keys` whose hint marks one protected output file (shell page or
    attachment blob), and the file's blob; ProtectError when none does. The key is moved to the
    front of `keys`: the files of one folder share a key, so a walk in path order tries the
    right key first."""
    blob = shell_blob(data) if path.endswith(".html") else data
    key = key_for(blob, keys)
    if key is None:
        raise ProtectError(f"{path}: no key of this zone opens it")
    if keys[0] is not key:
        keys.remove(key)
        keys.insert(0, key)
    return key, blob


def decrypt_file(path: str, data: bytes, keys: list[ContentKey]) -> bytes:
    """Plaintext of one protected output file (see file_key)."""
    return open_blob(*file_key(path, data, keys))


def decrypt_zone(
    output: Mapping[str, bytes], secrets: Secrets, zone: str, *, static_prefix: str = "static/"
) -> dict[str, bytes]:
    """Decrypt every protected file of a built zone with the build's keys.

    Returns path -> plaintext for every page and attachment; public files (login page,
    keyring, static files) are left out. Raises ProtectError if any file cannot be
    opened, so ``extranet audit`` sees everything or fails.
    """
    keys = list(zone_keys(secrets, zone).values())
    return {
        path: decrypt_file(path, data, keys)
        for path, data in output.items()
        if not path.startswith(static_prefix) and path not in (LOGIN_PAGE, KEYRING_FILE)
    }
