"""`extranet deploy`: publish the built zones (and the server's auth files) to their destinations.

    lock -> snapshot public/<zone>/ (hard links, under the site lock) -> for each destination:
    scan, list, plan -> check the deletion cap -> upload (server files first, then each zone,
    in the plan's order) -> delete what is stale, last -> manifests

Only the zone folders and, when `server_auth` is set, `.extranet/server/` are ever read: no
staging folder, no other state. Nothing changes anywhere when a plan would delete more than
the cap, and a dry run only reports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from .. import config
from ..errors import ExtranetError
from ..lock import file_lock, site_lock
from .destination import Destination, parse_destination
from .files import LocalFile, scan
from .folder import FolderTarget
from .manifest import Manifest
from .plan import Plan, plan, upload_order
from .rsync import RsyncTarget
from .s3 import S3Target
from .targets import DeployError, Target

SERVER_FILES = "server files"
BATCH = 500  # files per upload batch: the manifest is saved after each
Observer = Callable[[str, str, str], None]  # (action "upload"|"delete", job name, key)


@dataclass(frozen=True)
class Job:
    """One folder to publish to one destination."""

    name: str  # "internal", "mixed" or SERVER_FILES
    source: Path  # the folder in the site (public/<zone>/ or .extranet/server/)
    destination: Destination


@dataclass
class JobResult:
    """What a deploy planned and did for one job."""

    job: Job
    plan: Plan
    uploaded: int = 0
    uploaded_bytes: int = 0
    deleted: int = 0


@dataclass
class Report:
    """The outcome of a deploy (or of a dry run: nothing done)."""

    results: list[JobResult]
    dry_run: bool
    max_deletes: int
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what moved where, and how long it took."""
        parts = []
        for r in self.results:
            if self.dry_run:
                what = (f"{len(r.plan.uploads)} to upload ({_size(r.plan.upload_bytes)}), "
                        f"{len(r.plan.deletes)} to delete, {r.plan.unchanged} unchanged")
            else:
                what = f"{r.uploaded} uploaded ({_size(r.uploaded_bytes)}), {r.deleted} deleted, {r.plan.unchanged} unchanged"
            parts.append(f"{r.job.name} -> {r.job.destination.text}: {what}")
        head = "dry run, nothing changed" if self.dry_run else f"deployed in {self.seconds:.1f} s"
        return f"{head}: " + "; ".join(parts)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def jobs_for(settings: config.Settings) -> list[Job]:
    """The jobs `[deploy]` asks for: the server files first, then each zone."""
    root = settings.root
    jobs = []
    if settings.deploy.server_auth:
        jobs.append(Job(SERVER_FILES, settings.state_dir / "server", parse_destination(settings.deploy.server_auth, root)))
    for zone, text in settings.deploy.zones.items():
        jobs.append(Job(zone, root / "public" / zone, parse_destination(text, root)))
    return jobs


def open_target(destination: Destination, settings: config.Settings, source: Path | None = None) -> Target:
    """The target for a destination (`source`: the local folder its uploads come from)."""
    if destination.kind == "folder":
        return FolderTarget(destination)
    if destination.kind == "s3":
        return S3Target(destination, settings.deploy.s3)
    return RsyncTarget(destination, str(source) if source else None)


def deploy(root: Path, *, dry_run: bool = False, max_deletes: int | None = None,
           progress: Callable[[str], None] | None = None, observe: Observer | None = None) -> Report:
    """Publish the site at `root` as `[deploy]` says. Raises DeployError (nothing deleted)
    when a plan would delete more than `max_deletes` (default: `[deploy] max_deletes`)."""
    settings, _ = config.load(root)
    jobs = jobs_for(settings)
    if not jobs:
        raise ExtranetError("nothing to deploy: set [deploy] internal and/or mixed in extranet.toml "
                            "(see docs/deploy.md)")
    cap = settings.deploy.max_deletes if max_deletes is None else max_deletes
    started = time.monotonic()
    with file_lock(settings.state_dir / "deploy" / "lock"), _snapshot(root, settings.state_dir, jobs) as sources:
        prepared = []
        for job in jobs:
            manifest = Manifest.load(settings.state_dir, job.name, job.destination.text)
            local = scan(sources[job.name], manifest.hashes)
            target = open_target(job.destination, settings, sources[job.name])
            remote = target.list()
            manifest.files = {k: e for k, e in manifest.files.items() if k in remote}
            prepared.append((job, target, manifest, local, plan(local, remote, manifest.files, target.same)))
        report = Report([JobResult(job, p) for job, _, _, _, p in prepared], dry_run, cap)
        deletes = sum(len(p.deletes) for *_, p in prepared)
        if dry_run:
            report.lines = [f"{'upload' if a == 'u' else 'delete'} {job.name}: {key}"
                            for job, *_, p in prepared for a, key in
                            [("u", f.key) for f in p.uploads] + [("d", k) for k in p.deletes]]
            if deletes > cap:
                report.lines.append(f"a deploy would stop here: {deletes} files to delete, more than "
                                    f"--max-deletes {cap}")
            return report
        if deletes > cap:
            raise DeployError(f"this deploy would delete {deletes} files, more than the cap of {cap}: nothing "
                              f"changed; check the destinations in [deploy], then run "
                              f"`extranet deploy --max-deletes {deletes}`")
        meter = _Meter(progress, sum(len(p.uploads) for *_, p in prepared),
                       sum(p.upload_bytes for *_, p in prepared))
        for (job, target, manifest, local, p), result in zip(prepared, report.results):
            _upload(job, target, manifest, p, result, meter, observe)
            manifest.keep_hashes(local)
            manifest.save()
        for (job, target, manifest, _, p), result in zip(prepared, report.results):
            for start in range(0, len(p.deletes), BATCH):
                chunk = p.deletes[start:start + BATCH]
                target.delete(chunk)
                for key in chunk:
                    manifest.deleted(key)
                    result.deleted += 1
                    if observe:
                        observe("delete", job.name, key)
                manifest.save()
    report.seconds = time.monotonic() - started
    return report


def _upload(job: Job, target: Target, manifest: Manifest, p: Plan, result: JobResult, meter: "_Meter",
            observe: Observer | None) -> None:
    """Upload in the plan's order, one batch per step of the order (what pages point to,
    keyring, pages of one depth, indexes of that depth), the manifest saved after each."""

    def done(f: LocalFile, fingerprint: str | None) -> None:
        manifest.uploaded(f, fingerprint)
        result.uploaded += 1
        result.uploaded_bytes += f.size
        meter.step(f)
        if observe:
            observe("upload", job.name, f.key)

    for _, step in groupby(p.uploads, key=lambda f: upload_order(f)[:3]):
        files = list(step)
        for start in range(0, len(files), BATCH):
            target.upload(files[start:start + BATCH], done)
            manifest.save()


class _Meter:
    """Progress of a long upload, at most once a second, from its second second on."""

    def __init__(self, progress: Callable[[str], None] | None, files: int, size: int) -> None:
        self.progress, self.files, self.size = progress, files, size
        self.done = self.bytes = 0
        self.next = time.monotonic() + 1.0

    def step(self, f: LocalFile) -> None:
        """One more file uploaded."""
        self.done += 1
        self.bytes += f.size
        if self.progress and time.monotonic() >= self.next:
            self.next = time.monotonic() + 1.0
            self.progress(f"uploading {self.done}/{self.files} files ({_size(self.bytes)} of {_size(self.size)})")


@contextlib.contextmanager
def _snapshot(root: Path, state_dir: Path, jobs: list[Job]) -> Iterator[dict[str, Path]]:
    """Hard-link each job's folder, under the site lock, so that a build swapping a new
    output in meanwhile (the gateway's) cannot mix two builds in one deploy. The build never
    writes into a published file (it replaces files), so a link keeps its bytes."""
    folder = state_dir / "deploy"
    for old in folder.glob("snapshot-*"):  # left by a deploy that was killed (we hold the lock)
        shutil.rmtree(old, ignore_errors=True)
    snap = Path(tempfile.mkdtemp(prefix="snapshot-", dir=folder))
    try:
        with site_lock(root):
            sources = {}
            for job in jobs:
                if not job.source.is_dir():
                    what = "extranet build" if job.name != SERVER_FILES else "extranet build (with people who have a password)"
                    raise ExtranetError(f"{job.source}: not there yet; run `{what}` first")
                sources[job.name] = _link_tree(job.source, snap / job.name.replace(" ", "-"))
        yield sources
    finally:
        shutil.rmtree(snap, ignore_errors=True)


def _link_tree(source: Path, dest: Path) -> Path:
    """A copy of `source` made of hard links (copies across file systems); hidden names skipped."""
    base = str(source)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = dirpath[len(base) + 1:]
        target = dest / rel if rel else dest
        target.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            src = os.path.join(dirpath, name)
            if name.startswith(".") or os.path.islink(src):
                continue
            try:
                os.link(src, target / name)
            except OSError:
                shutil.copy2(src, target / name)
    return dest
