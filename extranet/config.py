"""Typed, frozen settings from extranet.toml and people.toml.

Every option is declared once in a schema below (type, default, meaning). Loading reports
all problems of both files together, each as `file:line: message`.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deploy.destination import DestinationError, parse_destination
from .errors import Problems
from .schema import ID_RE, Field, check
from .scopes import ZONES


SITE_FIELDS = (
    Field("title", "line", "Site title, shown in every page header.", required=True),
    Field("language", "choice", "Interface and mail language.", "fr", choices=("fr", "en")),
    Field("org", "id", "The site's own organisation: its people are staff.", required=True),
    Field("theme", "str", "Theme name: themes/<theme>/ in the site, else the packaged one.", "default"),
    Field("zones", "table", "Base URL of each zone: [zones.internal] and [zones.mixed].", {}),
    Field("mail", "table", "Mail settings: [mail], [mail.relay], [mail.smtp], [mail.imap].", {}),
    Field("protect", "table", "Output protection: [protect].", {}),
    Field("build", "table", "Build options: [build].", {}),
    Field("deploy", "table", "Where the zones are published: [deploy], [deploy.s3].", {}),
    Field("git", "table", "The gateway and a git work tree: [git].", {}),
)
ZONE_FIELDS = (Field("url", "str", "Public base URL of the zone, ending with /.", "/"),)
PROTECT_FIELDS = (
    Field("encrypt", "bool", "Encrypt every page and attachment (turn off only for a trusted intranet).", True),
    Field("remember_days", "int", "How long 'remember me' keeps a browser logged in.", 30),
    Field("iterations", "int", "PBKDF2-SHA256 iterations for password-derived keys (>= 600000).", 600_000),
)
BUILD_FIELDS = (
    Field("notify", "bool", "Send notifications for new posts at the end of each build.", False),
    Field("future_posts", "bool", "Publish posts dated in the future.", False),
    Field("remote_images", "bool", "Keep images from other sites in staff pages (readers' browsers then "
          "fetch them); an email post never keeps one.", False),
)
MAIL_FIELDS = (
    Field("reply_domain", "line", "Domain of the personal reply addresses reply+<token>@domain.", ""),
    Field("from", "line", "From address of every message the site sends.", ""),
    Field("attach_limit", "int", "Attachments up to this many bytes are attached, larger ones linked.", 2_000_000),
    Field("max_message_size", "int", "Largest inbound message accepted, in bytes.", 25_000_000),
    Field("trusted_authserv_id", "str", "authserv-id of the server whose Authentication-Results we trust.", ""),
    Field("relay", "table", "Outbound SMTP relay.", None),
    Field("smtp", "table", "Inbound SMTP listener.", None),
    Field("imap", "table", "Inbound IMAP mailbox.", None),
    Field("auth", "table", "Sender authentication policy: [mail.auth].", {}),
)
AUTH_FIELDS = (
    Field("staff", "choice", "Mail posted as staff (a staff reply+ address, any note+ address) whose sender "
          "is not authenticated: held for moderation, or refused.", "moderate", choices=("moderate", "refuse")),
    Field("external", "choice", "Mail from an external person whose sender is not authenticated: accepted, "
          "held for moderation, or refused.", "accept", choices=("accept", "moderate", "refuse")),
    Field("dkim", "bool", "Verify DKIM signatures here (DNS lookups); false: trust only the "
          "Authentication-Results of trusted_authserv_id.", True),
)
RELAY_FIELDS = (
    Field("host", "str", "Relay host.", required=True),
    Field("port", "int", "Relay port.", 587),
    Field("security", "choice", "Transport security.", "starttls", choices=("starttls", "tls", "none")),
    Field("user", "str", "Login (password from $EXTRANET_RELAY_PASSWORD).", ""),
)
SMTP_FIELDS = (Field("listen", "str", "host:port of the inbound SMTP listener.", "127.0.0.1:2525"),)
IMAP_FIELDS = (
    Field("host", "str", "IMAP host.", required=True),
    Field("port", "int", "IMAP port.", 993),
    Field("security", "choice", "Transport security.", "tls", choices=("starttls", "tls", "none")),
    Field("user", "str", "Login (password from $EXTRANET_IMAP_PASSWORD).", ""),
    Field("folder", "str", "Folder to watch.", "INBOX"),
    Field("processed_folder", "str", "Move processed messages there (empty: flag them \\Seen).", ""),
    Field("idle_seconds", "int", "Re-issue IDLE at least this often (< 1740).", 1500),
    Field("poll_seconds", "int", "Polling interval when the server has no IDLE.", 60),
    Field("token_command", "str", "OAuth2 (Gmail, Microsoft 365): a command printing a fresh access token; "
          "no password then.", ""),
    Field("oauth2_mechanism", "choice", "SASL mechanism used with token_command.", "XOAUTH2",
          choices=("XOAUTH2", "OAUTHBEARER")),
)
DEPLOY_FIELDS = (
    Field("internal", "str", "Where public/internal/ is published: a folder, user@host:/path/ (rsync over SSH), "
          "rsync://host/module/ or s3://bucket/prefix/ (empty: not published).", ""),
    Field("mixed", "str", "Where public/mixed/ is published (same forms).", ""),
    Field("server_auth", "str", "Where .extranet/server/ (htpasswd files, snippets) goes on a web server: a folder "
          "or user@host:/path/ outside the web root (empty: not published).", ""),
    Field("after_build", "bool", "The gateway deploys after each of its rebuilds.", False),
    Field("max_deletes", "int", "A deploy that would delete more files stops before changing anything "
          "(extranet deploy --max-deletes N overrides it).", 256),
    Field("report_to", "list", "Addresses told by mail when the gateway's deploys keep failing "
          "(empty: the site's active staff).", []),
    Field("s3", "table", "S3-compatible storage: [deploy.s3].", None),
)
S3_FIELDS = (
    Field("endpoint_url", "str", "The provider's endpoint, e.g. https://s3.gra.io.cloud.ovh.net (empty: AWS).", ""),
    Field("region", "str", "Region (empty: $AWS_DEFAULT_REGION or ~/.aws/config).", ""),
    Field("profile", "str", "Profile of ~/.aws/credentials (empty: environment variables, then the default).", ""),
    Field("addressing_style", "choice", "Bucket in the path or in the host name.", "auto",
          choices=("auto", "path", "virtual")),
)
GIT_FIELDS = (
    Field("commit", "bool", "When the site folder is in a git work tree, the gateway commits each post it writes.",
          True),
    Field("pull_every", "int", "Seconds between two pulls of staff changes by the gateway (0: never).", 0),
    Field("push", "bool", "The gateway pushes its commits.", False),
    Field("remote", "str", "The remote pulled from and pushed to.", "origin"),
    Field("branch", "str", "The branch pulled and pushed (empty: the checked-out one).", ""),
    Field("report_to", "list", "Addresses told by mail when a pull conflicts (empty: the site's active staff).", []),
)
ORG_FIELDS = (
    Field("name", "line", "Display name.", required=True),
    Field("kind", "choice", "client or supplier (not set for the site's own organisation).", None,
          choices=("client", "supplier")),
)
PERSON_FIELDS = (
    Field("name", "line", "Display name.", required=True),
    Field("email", "line", "Email address (also a login name).", required=True),
    Field("org", "id", "Organisation id.", required=True),
    Field("expires", "date", "Access ends after this day.", None),
    Field("notify", "choice", "Notifications by email.", "immediate", choices=("immediate", "digest", "none")),
)

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Relay:
    """Outbound SMTP relay."""

    host: str
    port: int
    security: str
    user: str


@dataclass(frozen=True)
class Imap:
    """Inbound IMAP mailbox."""

    host: str
    port: int
    security: str
    user: str
    folder: str
    processed_folder: str
    idle_seconds: int
    poll_seconds: int
    token_command: str = ""
    oauth2_mechanism: str = "XOAUTH2"


@dataclass(frozen=True)
class MailAuth:
    """What becomes of mail whose sender is not authenticated (see mail/inbound/authentication.py)."""

    staff: str = "moderate"  # moderate | refuse
    external: str = "accept"  # accept | moderate | refuse
    dkim: bool = True


@dataclass(frozen=True)
class Mail:
    """Mail settings; relay/imap/smtp_listen are None when not configured."""

    reply_domain: str
    from_addr: str
    attach_limit: int
    max_message_size: int
    trusted_authserv_id: str
    relay: Relay | None
    smtp_listen: str | None
    imap: Imap | None
    auth: MailAuth = MailAuth()


@dataclass(frozen=True)
class S3:
    """S3-compatible storage; credentials come from the environment or ~/.aws, never from here."""

    endpoint_url: str = ""
    region: str = ""
    profile: str = ""
    addressing_style: str = "auto"


@dataclass(frozen=True)
class Deploy:
    """[deploy]: destinations as written (parsed by extranet.deploy.destination) and options."""

    zones: dict[str, str] = field(default_factory=dict)  # zone -> destination; only the zones set
    server_auth: str = ""
    after_build: bool = False
    max_deletes: int = 256
    report_to: tuple[str, ...] = ()
    s3: S3 = S3()


@dataclass(frozen=True)
class Git:
    """[git]: how the gateway shares the site folder's git work tree with staff."""

    commit: bool = True
    pull_every: int = 0
    push: bool = False
    remote: str = "origin"
    branch: str = ""
    report_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Site settings from extranet.toml."""

    root: Path
    title: str
    language: str
    org: str
    theme: str
    zone_urls: dict[str, str]
    encrypt: bool
    remember_days: int
    iterations: int
    notify_on_build: bool
    future_posts: bool
    remote_images: bool
    mail: Mail
    deploy: Deploy = Deploy()
    git: Git = Git()

    @property
    def state_dir(self) -> Path:
        """Local state (secrets, cache, spool, outbox): never published, never committed."""
        return self.root / ".extranet"


@dataclass(frozen=True)
class Org:
    """An organisation: the site's own (staff) or a client or supplier."""

    id: str
    name: str
    kind: str | None


@dataclass(frozen=True)
class Person:
    """A person who may read a zone; staff when their org is the site's own."""

    id: str
    name: str
    email: str
    org: str
    expires: dt.date | None
    notify: str

    def active(self, today: dt.date) -> bool:
        """Whether the person still has access on `today` (access ends after `expires`)."""
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class People:
    """Organisations and people from people.toml."""

    orgs: dict[str, Org] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()  # ids declared with errors (already reported)


class TomlLines:
    """Finds the line of a table or key in a TOML text, for error messages."""

    _HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, str | None], int] = {}
        table = ""
        for n, line in enumerate(text.splitlines(), 1):
            m = self._HEADER.match(line)
            if m:
                table = ".".join(part.strip().strip("\"'") for part in m.group(1).split("."))
                self.lines.setdefault((table, None), n)
                continue
            m = self._KEY.match(line)
            if m:
                self.lines.setdefault((table, m.group(1).strip("\"'")), n)

    def finder(self, table: str):
        """A function key -> line for keys of `table` (falls back to the table header)."""
        return lambda key: self.lines.get((table, key)) or self.lines.get((table, None))


def _read_toml(path: Path, problems: Problems) -> tuple[dict[str, Any], TomlLines] | None:
    """Read a TOML file, reporting syntax or encoding errors with their line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.add(path, None, "file not found")
        return None
    except OSError as e:
        problems.add(path, None, f"cannot read: {e.strerror}")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.add(path, line, "invalid UTF-8")
        return None
    parsed = _PARSED.get(text)
    if parsed is None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column \d+\)", str(e))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
            problems.add(path, int(m.group(1)) if m else None, f"invalid TOML: {msg}")
            return None
        parsed = (data, TomlLines(text))
        with _PARSED_LOCK:
            _PARSED[text] = parsed
            while len(_PARSED) > 4:
                del _PARSED[next(iter(_PARSED))]
    return copy.deepcopy(parsed[0]), parsed[1]


# The last few TOML texts parsed, by their exact text (a long-running gateway reads people.toml
# for every message: tomllib takes ~0.1 s for a few hundred [people.x] tables). Callers get a
# copy of the data, never the kept one.
_PARSED: dict[str, tuple[dict[str, Any], TomlLines]] = {}
_PARSED_LOCK = threading.Lock()


def _sub(data: dict, name: str, fields, problems, path, lines: TomlLines, table: str):
    """Validate a sub-table; None if absent and optional."""
    value = data.get(name)
    if value is None:
        return None
    return check(value, fields, problems, path, lines.finder(table), f"[{table}]")


def load_settings(root: Path, problems: Problems) -> Settings | None:
    """Load extranet.toml from `root`; problems are collected, None if unusable."""
    path = root / "extranet.toml"
    read = _read_toml(path, problems)
    if read is None:
        return None
    data, lines = read
    top = check(data, SITE_FIELDS, problems, path, lines.finder(""), "extranet.toml")
    if top is None:
        return None
    zone_urls: dict[str, str] = {}
    for name in top["zones"]:
        if name not in ZONES:
            problems.add(path, lines.finder(f"zones.{name}")(None), f"unknown zone '{name}' (allowed: internal, mixed)")
    for zone in ZONES:
        z = check(top["zones"].get(zone, {}), ZONE_FIELDS, problems, path, lines.finder(f"zones.{zone}"), f"[zones.{zone}]")
        zone_urls[zone] = (z or {"url": "/"})["url"]
    prot = check(top["protect"], PROTECT_FIELDS, problems, path, lines.finder("protect"), "[protect]") or {}
    if prot and prot["iterations"] < 600_000:
        problems.add(path, lines.finder("protect")("iterations"), "'iterations' must be at least 600000")
    build = check(top["build"], BUILD_FIELDS, problems, path, lines.finder("build"), "[build]") or {}
    mail_raw = top["mail"]
    mail = check(mail_raw, MAIL_FIELDS, problems, path, lines.finder("mail"), "[mail]")
    relay = _sub(mail_raw, "relay", RELAY_FIELDS, problems, path, lines, "mail.relay")
    smtp = _sub(mail_raw, "smtp", SMTP_FIELDS, problems, path, lines, "mail.smtp")
    imap = _sub(mail_raw, "imap", IMAP_FIELDS, problems, path, lines, "mail.imap")
    deploy = _deploy(top["deploy"], root, problems, path, lines)
    git = check(top["git"], GIT_FIELDS, problems, path, lines.finder("git"), "[git]")
    if git and git["pull_every"] < 0:
        problems.add(path, lines.finder("git")("pull_every"), "'pull_every' must be 0 (never) or a number of seconds")
    auth_raw = mail_raw.get("auth")
    auth = check(auth_raw if isinstance(auth_raw, dict) else {}, AUTH_FIELDS, problems, path,
                 lines.finder("mail.auth"), "[mail.auth]")
    if mail is None or auth is None or not prot or not build or deploy is None or not git:
        return None
    return Settings(
        root=root,
        title=top["title"],
        language=top["language"],
        org=top["org"],
        theme=top["theme"],
        zone_urls=zone_urls,
        encrypt=prot["encrypt"],
        remember_days=prot["remember_days"],
        iterations=prot["iterations"],
        notify_on_build=build["notify"],
        future_posts=build["future_posts"],
        remote_images=build["remote_images"],
        mail=Mail(
            reply_domain=mail["reply_domain"],
            from_addr=mail["from"],
            attach_limit=mail["attach_limit"],
            max_message_size=mail["max_message_size"],
            trusted_authserv_id=mail["trusted_authserv_id"],
            relay=Relay(**relay) if relay else None,
            smtp_listen=smtp["listen"] if smtp else "127.0.0.1:2525",
            imap=Imap(**imap) if imap else None,
            auth=MailAuth(**auth),
        ),
        deploy=deploy,
        git=Git(**{**git, "report_to": tuple(git["report_to"])}),
    )


def _deploy(raw: dict, root: Path, problems: Problems, path: Path, lines: TomlLines) -> Deploy | None:
    """[deploy] and [deploy.s3], with every destination parsed and checked against the others."""
    where = lines.finder("deploy")
    values = check(raw, DEPLOY_FIELDS, problems, path, where, "[deploy]")
    s3 = _sub(raw, "s3", S3_FIELDS, problems, path, lines, "deploy.s3")
    if values is None or (raw.get("s3") is not None and s3 is None):
        return None
    parsed = {}
    for key in (*ZONES, "server_auth"):
        if values[key]:
            try:
                parsed[key] = parse_destination(values[key], root)
            except DestinationError as e:
                problems.add(path, where(key), str(e))
    ok = len(parsed) == sum(1 for key in (*ZONES, "server_auth") if values[key])
    for a, b in (("internal", "mixed"), ("mixed", "internal"), ("internal", "server_auth"),
                 ("mixed", "server_auth"), ("server_auth", "internal"), ("server_auth", "mixed")):
        if a in parsed and b in parsed and parsed[a].contains(parsed[b]):
            problems.add(path, where(b), f"'{b}' is inside '{a}': each zone and the server files need a place of their own")
            ok = False
    if "server_auth" in parsed and parsed["server_auth"].kind == "s3":
        problems.add(path, where("server_auth"), "'server_auth' goes to a web server (a folder or user@host:/path/), "
                     "never to object storage")
        ok = False
    if values["max_deletes"] < 0:
        problems.add(path, where("max_deletes"), "'max_deletes' must be 0 or more")
        ok = False
    if not ok:
        return None
    return Deploy(zones={z: values[z] for z in ZONES if values[z]}, server_auth=values["server_auth"],
                  after_build=values["after_build"], max_deletes=values["max_deletes"],
                  report_to=tuple(values["report_to"]), s3=S3(**s3) if s3 else S3())


def load_people(root: Path, own_org: str | None, problems: Problems) -> People | None:
    """Load people.toml: organisations and people, cross-checked (unknown org, duplicate email)."""
    path = root / "people.toml"
    read = _read_toml(path, problems)
    if read is None:
        return None
    data, lines = read
    for key in data:
        if key not in ("orgs", "people"):
            problems.add(path, lines.finder("")(key) or lines.finder(key)(None), f"unknown table '{key}' (allowed: orgs, people)")
    orgs: dict[str, Org] = {}
    broken_orgs: set[str] = set()
    for oid, raw in (data.get("orgs") or {}).items():
        where = lines.finder(f"orgs.{oid}")
        if not ID_RE.match(oid):
            problems.add(path, where(None), f"invalid organisation id '{oid}'")
            continue
        if not isinstance(raw, dict):
            problems.add(path, where(None), f"[orgs.{oid}] must be a table")
            continue
        v = check(raw, ORG_FIELDS, problems, path, where, f"[orgs.{oid}]")
        if v:
            orgs[oid] = Org(oid, v["name"], v["kind"])
        else:
            broken_orgs.add(oid)
    if own_org and own_org not in orgs:
        problems.add(path, None, f"the site's own organisation '{own_org}' (org in extranet.toml) is not in [orgs]")
    people: dict[str, Person] = {}
    emails: dict[str, str] = {}
    broken: set[str] = set()
    for pid, raw in (data.get("people") or {}).items():
        where = lines.finder(f"people.{pid}")
        if not ID_RE.match(pid):
            problems.add(path, where(None), f"invalid person id '{pid}'")
            continue
        if not isinstance(raw, dict):
            problems.add(path, where(None), f"[people.{pid}] must be a table")
            continue
        v = check(raw, PERSON_FIELDS, problems, path, where, f"[people.{pid}]")
        if not v:
            broken.add(pid)
            continue
        bad = False
        if v["org"] not in orgs and v["org"] not in broken_orgs:
            problems.add(path, where("org"), f"unknown organisation '{v['org']}' for person '{pid}'")
            bad = True
        if not EMAIL_RE.match(v["email"]):
            problems.add(path, where("email"), f"invalid email address {v['email']!r}")
            bad = True
        elif v["email"].lower() in emails:
            problems.add(path, where("email"), f"email {v['email']} is also used by '{emails[v['email'].lower()]}'")
            bad = True
        if bad:
            broken.add(pid)
        else:
            emails[v["email"].lower()] = pid
            people[pid] = Person(pid, v["name"], v["email"], v["org"], v["expires"], v["notify"])
    return People(orgs, people, frozenset(broken | broken_orgs))


def load_partial(root: Path, problems: Problems) -> tuple[Settings | None, People | None]:
    """Load both files, collecting problems; what could be loaded is returned."""
    settings = load_settings(root, problems)
    people = load_people(root, settings.org if settings else None, problems)
    return settings, people


def load(root: Path) -> tuple[Settings, People]:
    """Load and cross-check both files; raise SiteError with every problem found."""
    problems = Problems(root)
    settings, people = load_partial(root, problems)
    problems.raise_if_any()
    assert settings is not None and people is not None
    return settings, people
