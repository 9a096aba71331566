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
from collections.abc import Mapping
from pathlib import Path

from ..content.model import Site
from ..errors import BuildError
from ..protect.homes import home_path, name_secret
from ..protect.secrets import Secrets
from ..site.urls import Urls
from ..textmatch import Memo
from .check import Verdicts, check_internal, check_mixed
from .expect import expect_internal, expect_mixed

__all__ = ["Verdicts", "audit_output", "audit_site", "fail_closed"]


def audit_output(site: Site, now: dt.datetime, folders: Mapping[str, Path], urls: Mapping[str, Urls],
                 secrets: Secrets | None, texts: Memo | None = None, verdicts: Verdicts | None = None) -> list[str]:
    """Problems of the output `folders` (zone -> folder) of `site` at `now` (empty: proven).
    `secrets`: the site's keys, None when the output is not encrypted; `texts` and `verdicts`:
    what earlier audits derived from the very same texts and found in the very same files."""
    emails = {p.id: p.email for p in site.people.people.values()}
    if secrets is not None:
        zs = secrets.zone("mixed")
        homes = {pid: sorted({home_path(name_secret(zs, n)) for n in (pid, emails.get(pid, "")) if n})
                 for pid in secrets.people}
    else:
        homes = {pid: [urls["mixed"].person_home(pid)] for pid in site.people.people}
    problems = []
    if "mixed" in folders:
        problems += check_mixed(folders["mixed"], expect_mixed(site, now, urls["mixed"], homes, texts), secrets,
                                emails, verdicts=verdicts)
    if "internal" in folders and secrets is not None:
        problems += check_internal(folders["internal"], expect_internal(site, now), secrets, emails)
    return problems


def fail_closed(site: Site, now: dt.datetime, folders: Mapping[str, Path], urls: Mapping[str, Urls],
                secrets: Secrets | None, texts: Memo | None = None, verdicts: Verdicts | None = None) -> None:
    """The audit as the build runs it on its staged output: BuildError on any problem."""
    failures = audit_output(site, now, folders, urls, secrets, texts, verdicts)
    if failures:
        raise BuildError(f"audit failed, nothing written ({len(failures)} problem(s)): " + "; ".join(failures[:5]))


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
