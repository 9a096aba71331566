"""`extranet service`: systemd units that run one site folder in production (pure text).

    <name>-gateway.service   extranet gateway: SMTP listener and/or IMAP mailbox, rebuilds,
                             git commits and pulls, deploys (restarted if it stops)
    <name>-digest.service    extranet notify --digest: the daily digests (and any notification
    <name>-digest.timer      an interrupted run left), every day at the given time

The units run as an unprivileged user who owns the site folder; secrets (IMAP and relay
passwords, S3 keys) come from an environment file readable by root only, never from the site.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .deploy.destination import parse_destination


@dataclass(frozen=True)
class ServiceOptions:
    """How the units run: unit name prefix, user and group, the extranet command, digest time."""

    name: str = "extranet"
    user: str = "extranet"
    group: str = "extranet"
    command: tuple[str, ...] = ("/usr/local/bin/extranet",)
    digest_at: str = "07:00"
    env_file: str = ""  # default: /etc/extranet/<name>.env

    @property
    def environment_file(self) -> str:
        """Where the secrets are read from (the leading '-': the file may be absent)."""
        return self.env_file or f"/etc/extranet/{self.name}.env"


_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")


def check_options(options: ServiceOptions) -> None:
    """Raise ValueError for a name or time systemd would not take."""
    if not _NAME.match(options.name):
        raise ValueError(f"unit name {options.name!r}: lowercase letters, digits, '.', '_', '-'")
    if not _TIME.match(options.digest_at):
        raise ValueError(f"digest time {options.digest_at!r}: write HH:MM (24 h)")


def units(settings: Settings, options: ServiceOptions) -> dict[str, str]:
    """The unit files, by file name."""
    check_options(options)
    root = settings.root
    run = " ".join(shlex.quote(part) for part in (*options.command, "-C", str(root)))
    writable = [str(root)] + [d for d in _local_folders(settings) if not d.startswith(str(root) + "/")]
    common = (
        f"User={options.user}\nGroup={options.group}\nWorkingDirectory={root}\n"
        f"EnvironmentFile=-{options.environment_file}\n"
        "NoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=strict\nProtectHome=read-only\n"
        f"ReadWritePaths={' '.join(writable)}\n"
    )
    title = settings.title.replace("\n", " ")
    gateway = (
        "[Unit]\n"
        f"Description=extranet mail gateway of {title} ({root})\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        "[Service]\nType=simple\n" + common +
        f"ExecStart={run} gateway\n"
        "Restart=on-failure\nRestartSec=10\nTimeoutStopSec=60\nKillSignal=SIGTERM\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    digest = (
        "[Unit]\n"
        f"Description=extranet daily digest of {title} ({root})\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        "[Service]\nType=oneshot\n" + common +
        f"ExecStart={run} notify --digest\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=extranet daily digest of {title}, every day at {options.digest_at}\n\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {options.digest_at}:00\nPersistent=true\nRandomizedDelaySec=60\n"
        f"Unit={options.name}-digest.service\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return {f"{options.name}-gateway.service": gateway, f"{options.name}-digest.service": digest,
            f"{options.name}-digest.timer": timer}


def _local_folders(settings: Settings) -> list[str]:
    """Deploy destinations that are folders of this machine: the gateway writes there too."""
    out = []
    for text in (*settings.deploy.zones.values(), settings.deploy.server_auth):
        if text:
            dest = parse_destination(text, settings.root)
            if dest.kind == "folder":
                out.append(dest.path.rstrip("/"))
    return out


def next_steps(options: ServiceOptions, folder: Path | None) -> str:
    """What to run once the units are in place."""
    where = f"{folder}/" if folder else "/etc/systemd/system/"
    return (f"then: put the secrets in {options.environment_file} (mode 600, owned by root), and\n"
            f"  sudo systemctl daemon-reload && sudo systemctl enable --now "
            f"{options.name}-gateway.service {options.name}-digest.timer\n"
            f"(units in {where}; see docs/deploy.md)")
