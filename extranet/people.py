"""`extranet people`: add, list, remove and reset people, in people.toml and the secrets dir.

people.toml is edited as text (comments and order kept), validated before it is replaced
atomically; credentials go to .extranet/ only. A generated password is returned once to
the caller, who shows it or writes it to a mode-600 file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import config
from .errors import ExtranetError, Problems
from .output import atomic_write
from .zones import is_staff
from .protect import Secrets, remove_person, set_password


@dataclass(frozen=True)
class PersonRow:
    """One line of `extranet people list`."""

    id: str
    name: str
    email: str
    org: str
    role: str
    status: str
    password: bool


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _block_span(lines: list[str], pid: str) -> tuple[int, int] | None:
    """Line range [start, end) of the [people.<pid>] table in people.toml."""
    header = re.compile(r"^\s*\[\s*people\s*\.\s*(\"?)" + re.escape(pid) + r"\1\s*\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def _replace_people_file(root: Path, text: str) -> None:
    """Validate the new people.toml text against extranet.toml, then write it atomically."""
    path = root / "people.toml"
    tmp = root / ".extranet" / "people.check"
    tmp.parent.mkdir(mode=0o700, exist_ok=True)
    problems = Problems(root)
    settings = config.load_settings(root, problems)
    check_root = tmp.parent / "check"
    check_root.mkdir(exist_ok=True)
    (check_root / "people.toml").write_text(text, encoding="utf-8")
    config.load_people(check_root, settings.org if settings else None, problems)
    if problems.items:
        raise ExtranetError("; ".join(str(p).replace(str(check_root), "people.toml") for p in problems.items))
    atomic_write(path.resolve(), text.encode("utf-8"))


def _secrets(root: Path) -> Secrets:
    return Secrets.load(root / ".extranet", create=True)


def add(root: Path, pid: str, name: str, email: str, org: str, expires: dt.date | None,
        notify: str = "immediate") -> str:
    """Add a person to people.toml and create their credentials; returns the new password."""
    path = root / "people.toml"
    text = path.read_text(encoding="utf-8")
    if _block_span(text.split("\n"), pid) is not None:
        raise ExtranetError(f"people.toml: person '{pid}' already exists (use `extranet people reset {pid}`)")
    block = [f"[people.{pid}]", f"name = {_quote(name)}", f"email = {_quote(email)}", f"org = {_quote(org)}"]
    if expires:
        block.append(f"expires = {expires.isoformat()}")
    if notify != "immediate":
        block.append(f"notify = {_quote(notify)}")
    new = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    _replace_people_file(root, new)
    secrets = _secrets(root)
    password = set_password(secrets, pid, email)
    secrets.save()
    return password


def reset(root: Path, pid: str) -> str:
    """A new password for a person (the old one opens nothing after the next build)."""
    _, people = config.load(root)
    person = people.people.get(pid)
    if person is None:
        raise ExtranetError(f"people.toml: no person '{pid}'")
    secrets = _secrets(root)
    password = set_password(secrets, pid, person.email)
    secrets.save()
    return password


def remove(root: Path, pid: str, today: dt.date | None = None) -> str:
    """Remove a person and forget their credentials; returns what was done.

    A person who wrote posts or is listed as a project member keeps a closed entry
    (`expires` set to yesterday) so that their posts keep an author: their access ends
    all the same, and the next build rotates every key they could use.
    """
    from .content.loader import load_site

    today = today or dt.date.today()
    path = root / "people.toml"
    lines = path.read_text(encoding="utf-8").split("\n")
    span = _block_span(lines, pid)
    if span is None:
        raise ExtranetError(f"people.toml: no person '{pid}'")
    start, end = span
    settings, people = config.load(root)
    site = load_site(settings, people)
    referenced = any(pid in p.members or any(post.author == pid for post in p.posts) for p in site.projects)
    if referenced:
        yesterday = today - dt.timedelta(days=1)
        block = [line for line in lines[start:end] if not re.match(r"^\s*expires\s*=", line)]
        block.append(f"expires = {yesterday.isoformat()}")
        new = lines[:start] + block + lines[end:]
        done = f"{pid} wrote posts or is a project member: entry kept for authorship, access ended {yesterday}"
    else:
        new = lines[:start] + lines[end:]
        done = f"removed {pid}"
    _replace_people_file(root, re.sub(r"\n{3,}", "\n\n", "\n".join(new)))
    secrets = _secrets(root)
    if pid in secrets.people:
        remove_person(secrets, pid)
        secrets.save()
    return done


def rows(root: Path, today: dt.date) -> list[PersonRow]:
    """Everyone in people.toml, with their organisation, role, access status and password state."""
    settings, people = config.load(root)
    secrets = Secrets.load(root / ".extranet", create=True)
    out = []
    for p in sorted(people.people.values(), key=lambda p: (not is_staff(settings, p), p.org, p.id)):
        org = people.orgs[p.org]
        role = "staff" if is_staff(settings, p) else (org.kind or "external")
        status = "active" if p.active(today) else f"expired {p.expires}"
        out.append(PersonRow(p.id, p.name, p.email, org.name, role, status, p.id in secrets.people))
    return out


def write_password_file(path: Path, password: str) -> None:
    """Write a password to a new file readable by its owner only (mode 600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (password + "\n").encode("utf-8"))
    finally:
        os.close(fd)
