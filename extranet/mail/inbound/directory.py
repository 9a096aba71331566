"""Who the gateway knows: people by id and by address, and the names long reply tokens stand
for (tokens.Names). ``SiteDirectory`` reads a site: people.toml (again when it changes) and
the posts in content/."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ... import config
from ...content.model import Site
from ...zones import Rules


@dataclass(frozen=True)
class Person:
    """What the gateway needs to know about a person named by a token."""

    person_id: str
    email: str
    active: bool = True  # False once ``expires`` has passed
    staff: bool = False  # as zones.Rules.is_staff says


class Directory(Protocol):
    """Who the gateway knows: people by id and by address, and the names long reply tokens
    stand for (every person id and post ref, see tokens.Names)."""

    def person(self, person_id: str) -> Person | None: ...

    def person_by_email(self, address: str) -> Person | None: ...

    def person_ids(self) -> Iterable[str]: ...

    def post_refs(self) -> Iterable[str]: ...


class StaticDirectory:
    """A Directory over a fixed set of people (and post refs)."""

    def __init__(self, people: Mapping[str, Person], posts: Iterable[str] = ()) -> None:
        self.people = dict(people)
        self.posts = tuple(posts)
        self._emails = {p.email.lower(): p for p in self.people.values()}

    def person(self, person_id: str) -> Person | None:
        """The person with this id."""
        return self.people.get(person_id)

    def person_by_email(self, address: str) -> Person | None:
        """The person with this address (case-insensitive)."""
        return self._emails.get(address.strip().lower())

    def person_ids(self) -> Iterable[str]:
        """Every person id."""
        return self.people.keys()

    def post_refs(self) -> Iterable[str]:
        """Every post ref given."""
        return self.posts


class SiteDirectory:
    """The gateway's Directory for the site at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _people(self) -> dict[str, Person]:
        settings, people = config.load(self.root)  # people.toml may change while the gateway runs
        rules = Rules(Site(settings, people, (), ()), dt.datetime.now())
        return {pid: Person(pid, p.email, active=p.active(rules.today), staff=rules.is_staff(p))
                for pid, p in people.people.items()}

    def person(self, person_id: str) -> Person | None:
        """The person with this id in people.toml."""
        return self._people().get(person_id)

    def person_by_email(self, address: str) -> Person | None:
        """The person with this address in people.toml (case-insensitive)."""
        wanted = address.strip().lower()
        return next((p for p in self._people().values() if p.email.lower() == wanted), None)

    def person_ids(self) -> list[str]:
        """Every person id of people.toml."""
        return list(self._people())

    def post_refs(self) -> Iterator[str]:
        """'<project>/<post id>' of every post file in content/projects/."""
        projects = self.root / "content" / "projects"
        try:
            folders = sorted(os.scandir(projects), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                names = sorted(os.listdir(os.path.join(folder.path, "posts")))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                if name.endswith(".md") and not name.startswith("."):
                    yield f"{folder.name}/{name[:-3]}"
