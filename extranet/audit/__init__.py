"""The audit: prove, on the output as it is served, that the mixed zone holds nothing internal.

It trusts nothing of the build it checks. It derives again from the sources which files each
scope of the mixed zone may hold and which passages are internal (expect.py, its own code),
then reads every file of the output folders, fresh or kept from an earlier build, decrypts
it with the key of the scope that may hold it, and looks inside (check.py). The build runs it
on the staged output before swapping it in, and fails closed; `extranet audit` runs it on
the output on disk.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import weakref
from collections.abc import Mapping
from pathlib import Path

from ..content.model import Site
from ..errors import BuildError
from ..protect.homes import home_path, name_secret
from ..protect.secrets import Secrets
from ..scopes import ZONES
from ..site.urls import Urls
from ..textmatch import Memo
from ..output import can_fork
from .check import MixedReading, Verdicts, check_internal, check_mixed
from .expect import Expectation, expect_internal, expect_mixed, place_homes

__all__ = ["Audit", "Verdicts", "audit_output", "audit_site", "fail_closed", "homes_of"]


def homes_of(site: Site, urls: Mapping[str, Urls], secrets: Secrets | None) -> dict[str, list[str]]:
    """person id -> the paths of their home page in the mixed zone (by either user name)."""
    if secrets is None:
        return {pid: [urls["mixed"].person_home(pid)] for pid in site.people.people}
    emails = {p.id: p.email for p in site.people.people.values()}
    zs = secrets.zone("mixed")
    return {pid: sorted({home_path(name_secret(zs, n)) for n in (pid, emails.get(pid, "")) if n})
            for pid in secrets.people}


def audit_output(site: Site, now: dt.datetime, folders: Mapping[str, Path], urls: Mapping[str, Urls],
                 secrets: Secrets | None, texts: Memo | None = None, verdicts: Verdicts | None = None,
                 homes: Mapping[str, list[str]] | None = None, exp: Expectation | None = None,
                 reading: MixedReading | None = None) -> list[str]:
    """Problems of the output `folders` (zone -> folder) of `site` at `now` (empty: proven).
    `secrets`: the site's keys, None when the output is not encrypted; `texts` and `verdicts`:
    what earlier audits derived from the very same texts and found in the very same files;
    `homes` (see homes_of) and `exp`, the mixed zone's expectation without them: derived
    already; `reading`: the mixed folder's reading, started already (see Audit.early)."""
    emails = {p.id: p.email for p in site.people.people.values()}
    homes = homes if homes is not None else homes_of(site, urls, secrets)
    problems = []
    internal = folders.get("internal") if secrets is not None else None
    if reading is not None and internal is not None:
        reading.read_internal(internal)
    if "mixed" in folders:
        exp = place_homes(exp, homes) if exp is not None else None
        reading = reading or MixedReading(folders["mixed"], secrets, verdicts, internal=internal, exp=exp)
        with reading:
            exp = exp or expect_mixed(site, now, urls["mixed"], homes, texts)  # (while the workers read)
            problems += check_mixed(folders["mixed"], exp, secrets, emails, reading=reading)
            opened = reading.internal_files()
    else:
        opened = None
    if internal is not None:
        problems += check_internal(internal, expect_internal(site, now), secrets, emails, opened, verdicts)
    return problems


def fail_closed(site: Site, now: dt.datetime, folders: Mapping[str, Path], urls: Mapping[str, Urls],
                secrets: Secrets | None, texts: Memo | None = None, verdicts: Verdicts | None = None) -> None:
    """The audit as the build runs it on its staged output: BuildError on any problem."""
    _raise_if(audit_output(site, now, folders, urls, secrets, texts, verdicts))


def _raise_if(failures: list[str]) -> None:
    if failures:
        raise BuildError(f"audit failed, nothing written ({len(failures)} problem(s)): " + "; ".join(failures[:5]))


PROCESS_THRESHOLD = 400  # posts: below this, a process of its own costs more than it saves


class Audit:
    """The audit of one build, started once the sources are loaded. When the site is large and
    the build can fork, a process of its own derives from the sources what the mixed zone may
    hold (expect.py) while the build renders and encrypts, then checks the staged output when
    `check` is called; its memory is apart from the build's, and forked before the build's
    output exists, it shares the sources with the build instead of copying them. Otherwise
    `check` does it all. Either way `check` fails closed: BuildError on any problem, and when
    that process fails."""

    def __init__(self, site: Site, now: dt.datetime, urls: Mapping[str, Urls], texts: Memo,
                 verdicts: Verdicts) -> None:
        self.site, self.now, self.urls, self.texts, self.verdicts = site, now, urls, texts, verdicts
        self._conn, self._early = None, False
        posts = sum(len(p.posts) for p in site.projects)
        if posts >= PROCESS_THRESHOLD and can_fork():
            context = multiprocessing.get_context("fork")
            gc.freeze()  # (the collector then leaves the objects both processes share untouched: no copies)
            self._conn, theirs = context.Pipe()
            process = context.Process(target=self._serve, args=(theirs, self._conn))  # (it forks readers)
            process.start()
            theirs.close()
            self._stop = weakref.finalize(self, _stop, process, self._conn)

    def early(self, zone: str, folder: Path, secrets: Secrets | None) -> None:
        """One zone of the output staged while the other is still being written: in its own
        process, the audit starts reading the mixed zone's files at once."""
        if self._conn is not None and zone == "mixed" and not self._early:
            self._early = True
            try:
                self._conn.send(("mixed", folder, secrets, homes_of(self.site, self.urls, secrets)))
            except OSError:
                pass  # (check says why)

    def check(self, folders: Mapping[str, Path], secrets: Secrets | None) -> None:
        """Audit the staged output `folders` (zone -> folder): BuildError on any problem."""
        if self._conn is None:
            return fail_closed(self.site, self.now, folders, self.urls, secrets, self.texts, self.verdicts)
        try:
            self._conn.send((dict(folders), secrets, homes_of(self.site, self.urls, secrets)))
            reply = self._conn.recv()
        except (EOFError, OSError) as e:
            raise BuildError(f"audit failed, nothing written: its process ended ({e!r})") from None
        finally:
            self._stop()
        if reply[0] != "done":
            raise BuildError(f"audit failed, nothing written: {reply[1]}")
        _, problems, verdicts, texts, tags = reply
        self.verdicts.adopt(verdicts)
        self.texts.adopt(texts)
        for zone, derived in tags.items():  # (user-name tags: a PBKDF2 each, kept with the secrets)
            secrets.zone(zone).tag_cache.update(derived)
        _raise_if(problems)

    def _serve(self, conn, theirs) -> None:
        """In the audit's process: derive, wait for the staged output, check it, answer."""
        theirs.close()
        mark = self.texts.mark()  # (what the build has, to hand back only the rest)
        exp = expect_mixed(self.site, self.now, self.urls["mixed"], {}, self.texts)
        if not self.verdicts.seen:
            exp.canaries.prepare()  # (every page is to be searched, by the readers forked next)
        reading = None
        try:
            request = conn.recv()
            if request[0] == "mixed":  # (staged first: its files are read while the rest is written)
                _, mixed, secrets, homes = request
                reading = MixedReading(mixed, secrets, self.verdicts, exp=place_homes(exp, homes))
                request = conn.recv()
            folders, secrets, homes = request
        except EOFError:
            if reading is not None:
                reading.close()
            return  # (the build stopped before its output was staged)
        try:
            if reading is not None and reading.folder != folders.get("mixed"):
                raise ValueError(f"the mixed zone read is {reading.folder}, not {folders.get('mixed')}")
            problems = audit_output(self.site, self.now, folders, self.urls, secrets, self.texts, self.verdicts,
                                    homes, exp, reading)
            tags = {zone: secrets.zone(zone).tag_cache for zone in ZONES} if secrets is not None else {}
            conn.send(("done", problems, self.verdicts.news(), self.texts.since(mark), tags))
        except Exception as e:  # noqa: BLE001 (told to the build, which fails closed)
            conn.send(("failed", f"{type(e).__name__}: {e}"))


def _stop(process, conn) -> None:
    """Close the audit's process: it ends on its own once it has answered, else it is killed."""
    conn.close()
    gc.unfreeze()
    process.join(timeout=1)
    if process.is_alive():
        process.kill()
        process.join()


def audit_site(root: Path, out: Path) -> list[str]:
    """`extranet audit`: check the output on disk against the site's sources and keys."""
    from .. import config
    from ..site.urls import urls_for
    from ..content.loader import load_site

    settings, people = config.load(root)
    site = load_site(settings, people)
    folders = {zone: Path(out) / zone for zone in ("internal", "mixed")}
    missing = [str(f) for f in folders.values() if not f.is_dir()]
    if missing:
        return [f"{m}: not built" for m in missing]
    secrets = Secrets.load(settings.state_dir) if settings.encrypt else None
    return audit_output(site, dt.datetime.now(), folders, urls_for(settings, settings.encrypt), secrets)
