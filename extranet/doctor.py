"""`extranet doctor`: is this site ready for production? Each problem is one line with its fix.

    settings -> zone URLs (set, HTTPS) -> secrets kept out of git -> passwords -> relay (connect,
    log in) -> mailbox (log in, folders) -> [probe: reply+/note+ reach the mailbox] -> deploy
    destinations (reachable, writable) and the gateway's last deploy -> git remote -> DNS records

Only the servers named in extranet.toml are contacted, and nothing is sent unless `probe` is
asked for. The DNS records are worked out from the settings, never looked up.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from . import config
from .config import ZONES, Settings
from .content.model import Site
from .deploy.publisher import status_path
from .deploy.run import jobs_for, open_target
from .errors import ExtranetError, SiteError
from .gitsync import GitError, Repo
from .mail.inbound.imap import ImapSource, imap_settings
from .mail.outbound.relay import SmtpTransport, TemporaryFailure, send_now, transport_for
from .mail.inbound.spool import Spool
from .mailhints import dns_hints
from .protect.crypto import ProtectError
from .protect.secrets import Secrets
from .zones import Rules

PROBE_HEADER = "X-Extranet-Probe"


@dataclass(frozen=True)
class Finding:
    """One result: `problem` (with its fix), or a passed check, or a note that needs no action."""

    level: str  # "ok" | "note" | "problem"
    what: str
    text: str
    fix: str = ""

    def line(self) -> str:
        """The one line shown."""
        fix = f" -> fix: {self.fix}" if self.fix else ""
        return f"{self.level}: {self.what}: {self.text}{fix}"


def _ok(what: str, text: str) -> Finding:
    return Finding("ok", what, text)


def _problem(what: str, text: str, fix: str) -> Finding:
    return Finding("problem", what, text, fix)


def _note(what: str, text: str, fix: str = "") -> Finding:
    return Finding("note", what, text, fix)


def check_site(root: Path, *, probe: bool = False, probe_wait: float = 60.0,
               report: Callable[[Finding], None] = lambda f: None) -> list[Finding]:
    """Every check, in order; each finding is also handed to `report` as soon as it is known."""
    out: list[Finding] = []

    def add(findings: list[Finding]) -> None:
        for f in findings:
            out.append(f)
            report(f)

    try:
        settings, people = config.load(root)
    except SiteError as e:
        add([_problem(str(p).split(": ", 1)[0], p.message, "correct the file at that line") for p in e.problems])
        return out
    for check in (_zones, _secrets, _passwords, _relay, _mailbox):
        add(check(settings, people))
    if probe:
        add(_probe(settings, probe_wait))
    add(_deploys(settings))
    add(_git(settings))
    add([_note("dns", hint) for hint in dns_hints(settings)])
    return out


def _zones(settings: Settings, people) -> list[Finding]:
    out = []
    for zone in ZONES:
        url = settings.zone_urls[zone]
        what = f"[zones.{zone}] url"
        if not url.startswith(("http://", "https://")):
            out.append(_problem(what, f"not set ({url!r}): the links in mails cannot reach the site",
                               f'set url = "https://…/" under [zones.{zone}] in extranet.toml'))
        elif not url.startswith("https://"):
            out.append(_problem(what, f"{url} is not HTTPS: passwords and pages would cross the network in clear",
                               "serve the zone over HTTPS (Caddy does it by itself; nginx: certbot) and write https://"))
        elif not url.endswith("/"):
            out.append(_problem(what, f"{url} does not end with /", f'write url = "{url}/"'))
        else:
            out.append(_ok(what, url))
    return out


def _secrets(settings: Settings, people) -> list[Finding]:
    repo = Repo.find(settings.root)
    if repo is None:
        return [_note(".extranet/", "the site folder is not in a git work tree: back up .extranet/ (it holds the keys)")]
    try:
        tracked = repo.git("ls-files", "--", ".extranet").strip()
        ignored = repo.succeeds("check-ignore", "-q", ".extranet/secrets.json")
    except GitError as e:
        return [_problem(".extranet/", str(e), "check the git work tree")]
    if tracked:
        return [_problem(".extranet/", "secrets are committed in git",
                        "git rm -r --cached .extranet && add .extranet/ to .gitignore, then reset every password "
                        "(extranet people reset) and rebuild")]
    if not ignored:
        return [_problem(".extranet/", "not ignored by git: the next `git add -A` would commit the keys",
                        "add the line .extranet/ to .gitignore")]
    return [_ok(".extranet/", "ignored by git (keys, spool and state stay on this machine)")]


def _passwords(settings: Settings, people) -> list[Finding]:
    try:
        secrets = Secrets.load(settings.state_dir)
    except ProtectError:
        return [_note("passwords", "nobody has one yet", "extranet people reset ID, then extranet build")]
    rules = Rules(Site(settings, people, (), ()), dt.datetime.now())
    missing = sorted(p.id for p in people.people.values() if p.active(rules.today) and p.id not in secrets.people)
    if missing:
        return [_note("passwords", f"{len(missing)} people cannot log in yet ({', '.join(missing[:8])}"
                     f"{', …' if len(missing) > 8 else ''})", "extranet people reset ID, then extranet build")]
    return [_ok("passwords", "every active person has one")]


def _relay(settings: Settings, people) -> list[Finding]:
    relay = settings.mail.relay
    if not settings.mail.from_addr:
        return [_problem("[mail] from", "not set: mail cannot be sent", 'set from = "extranet@your-domain" under [mail]')]
    if relay is None:
        return [_note("[mail.relay]", "not set: notifications are written to .extranet/outbox/, not sent",
                     "set [mail.relay] host, port, security, user (docs/mail-setup.md)")]
    what = f"relay {relay.host}:{relay.port}"
    try:
        transport = transport_for(settings)
        assert isinstance(transport, SmtpTransport)
        transport.check()
    except ExtranetError as e:
        return [_problem(what, str(e), "export EXTRANET_RELAY_PASSWORD (an app password) for the relay's user")]
    except TemporaryFailure as e:
        fix = ("check user and EXTRANET_RELAY_PASSWORD (many providers want an app password)"
               if "login" in str(e) else "check host, port and security ([mail.relay]); is the port open from here?")
        return [_problem(what, str(e).split(": ", 1)[-1], fix)]
    return [_ok(what, f"connects ({relay.security})" + (f" and logs in as {relay.user}" if relay.user else ""))]


def _mailbox(settings: Settings, people) -> list[Finding]:
    imap = settings.mail.imap
    if imap is None:
        return [_note("[mail.imap]", "not set: replies come through the SMTP listener or `extranet ingest`")]
    what = f"mailbox {imap.user}@{imap.host}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = ImapSource(imap_settings(settings.mail), Spool(Path(tmp) / "spool"), Path(tmp) / "checkpoint")
            try:
                client = source.connect()
                folders = {f[2] for f in client.list_folders()}
                idle = client.has_capability("IDLE")
            finally:
                source.close()
    except ExtranetError as e:
        return [_problem(what, str(e), "see docs/mail-setup.md")]
    except Exception as e:  # noqa: BLE001 - whatever the server or the network says, one line
        fix = ("check user, EXTRANET_IMAP_PASSWORD (an app password) or token_command"
               if "auth" in str(e).lower() or "login" in str(e).lower()
               else "check host, port and security ([mail.imap])")
        return [_problem(what, f"{type(e).__name__}: {e}", fix)]
    out = [_ok(what, "logs in" + (" with OAuth2" if imap.token_command else ""))]
    for key in ("folder", "processed_folder"):
        name = getattr(imap, key)
        if name and name not in folders:
            out.append(_problem(f"[mail.imap] {key}", f"no folder {name!r} in the mailbox",
                               f"create the folder {name!r} in the mailbox, or correct its name"))
    if not idle:
        out.append(_note(what, f"no IDLE: new mail is checked every {imap.poll_seconds} s"))
    return out


def _probe(settings: Settings, wait: float) -> list[Finding]:
    """Send a message to a reply+ and a note+ address of reply_domain; see them arrive."""
    mail = settings.mail
    if not mail.reply_domain or not mail.from_addr:
        return [_problem("probe", "[mail] reply_domain and from are needed", "set them under [mail]")]
    nonce = uuid.uuid4().hex[:16]
    addresses = [f"{kind}+doctor-{nonce}@{mail.reply_domain}" for kind in ("reply", "note")]
    out = []
    for address in addresses:
        msg = EmailMessage()
        msg["From"] = mail.from_addr
        msg["To"] = address
        msg["Subject"] = "extranet doctor: addressing probe"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=mail.reply_domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg[PROBE_HEADER] = nonce
        msg.set_content("A test from `extranet doctor --probe`: it checks that this address reaches the mailbox.\n")
        try:
            send_now(settings, msg, label="probe")
        except Exception as e:  # noqa: BLE001
            out.append(_problem(f"probe {address.split('+')[0]}+…", f"refused: {e}",
                               "the provider does not accept it: turn on sub-addressing (plus addressing) or a "
                               f"catch-all for {mail.reply_domain} (docs/mail-setup.md)"))
    if out or mail.relay is None:
        return out or [_note("probe", "no [mail.relay]: the probe went to .extranet/outbox/, not to the mailbox")]
    if mail.imap is None:
        return [_note("probe", f"sent to {', '.join(addresses)}; without [mail.imap] check the gateway's log: "
                     "each arrives and is dropped as the site's own mail")]
    return _probe_arrived(settings, nonce, addresses, wait)


def _probe_arrived(settings: Settings, nonce: str, addresses: list[str], wait: float) -> list[Finding]:
    imap = settings.mail.imap
    assert imap is not None
    folders = [f for f in (imap.folder, imap.processed_folder) if f]
    seen: set[str] = set()
    deadline = time.monotonic() + wait
    with tempfile.TemporaryDirectory() as tmp:
        source = ImapSource(imap_settings(settings.mail), Spool(Path(tmp) / "spool"), Path(tmp) / "checkpoint")
        try:
            client = source.connect()
            while len(seen) < len(addresses) and time.monotonic() < deadline:
                for folder in folders:
                    client.select_folder(folder)
                    uids = client.search(["HEADER", PROBE_HEADER, nonce])
                    for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (TO)]"]).values():
                        header = next((v for k, v in data.items() if k.startswith(b"BODY")), b"")
                        seen.update(a for a in addresses if a.encode() in bytes(header).lower())
                    if uids:
                        client.delete_messages(uids)  # the gateway would drop them anyway (its own mail)
                        client.expunge()
                if len(seen) < len(addresses):
                    time.sleep(1)
        finally:
            source.close()
    out = []
    for address in addresses:
        kind = address.split("+")[0]
        if address in seen:
            out.append(_ok(f"probe {kind}+…", f"reached {imap.user}"))
        else:
            out.append(_problem(f"probe {kind}+…", f"{address} did not reach {imap.user} within {wait:.0f} s",
                               f"turn on sub-addressing (plus addressing) or a catch-all for {settings.mail.reply_domain} "
                               f"delivering to {imap.user}, and check its MX record (docs/mail-setup.md)"))
    return out


def _deploys(settings: Settings) -> list[Finding]:
    jobs = jobs_for(settings)
    if not jobs:
        return [_note("[deploy]", "no destination: publish public/ yourself, or set [deploy] (docs/deploy.md)")]
    out = []
    for job in jobs:
        what = f"deploy {job.name} -> {job.destination.text}"
        try:
            open_target(job.destination, settings, job.source).probe()
        except Exception as e:  # noqa: BLE001
            out.append(_problem(what, str(e).replace(job.destination.text + ": ", ""),
                               "check the destination, its credentials (environment, ~/.aws, ~/.ssh) and that "
                               "the user running extranet may write there"))
        else:
            out.append(_ok(what, "reachable and writable"))
    try:
        status = json.loads(status_path(settings.root).read_text())
    except (OSError, ValueError):
        return out
    if not status.get("ok"):
        out.append(_problem("the gateway's last deploy", f"failed at {status.get('at')}: {status.get('message')}",
                           "correct the destination; the gateway tries again by itself"))
    return out


def _git(settings: Settings) -> list[Finding]:
    git = settings.git
    if not (git.pull_every or git.push):
        return []
    repo = Repo.find(settings.root, remote=git.remote, branch=git.branch)
    if repo is None:
        return [_problem("[git]", "pull_every/push set, but the site folder is not in a git work tree",
                        "clone the site's repository into the site folder, or remove pull_every and push")]
    try:
        repo.git("ls-remote", "--exit-code", "--heads", git.remote, repo.branch)
    except GitError as e:
        return [_problem(f"git remote {git.remote}", str(e),
                        "check the remote's URL and that the gateway's user has a key for it (ssh -T)")]
    return [_ok(f"git remote {git.remote}", f"reachable, branch {repo.branch}")]
