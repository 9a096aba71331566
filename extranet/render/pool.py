"""Rendering the zones, with the projects' pages in worker processes when there are many.

Each project of a zone whose pages cannot be kept is one task. The workers are forked once
the renderers exist (views and group keys computed), so a task is just (zone, project
number): a worker renders that project's pages exactly as the serial path would and sends
back the files, their scopes, page keys and the warnings it logged. The parent adds
everything in the serial order (zone by zone: homes, site pages, projects, static files) and
replays the warnings in that order, so the output and the messages are the serial ones.
Workers only render.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
from collections.abc import Mapping

from ..output import can_fork
from .pages import Reused, ZoneOutput, ZoneRenderer

POOL_THRESHOLD = 400  # posts to render: below this, forking costs more than it saves
MAX_TASKS = 4  # then a fresh worker, when the parent is large: what a worker copies of it stays small
RECYCLE_ABOVE_MB = 120  # a smaller build process keeps its workers to the end

log = logging.getLogger("extranet")
_RENDERERS: Mapping[str, ZoneRenderer] | None = None  # set in the parent just before the fork
_CAUGHT: list[str] = []


def render_zones(renderers: Mapping[str, ZoneRenderer], jobs: int | None = None) -> dict[str, ZoneOutput]:
    """Render every zone; projects in `jobs` processes (default: all cores) when it pays."""
    plans = {zone: [r.plan(pv) for pv in r.view.projects] for zone, r in renderers.items()}
    todo = [(zone, i) for zone, zplans in plans.items() for i, (_, entries) in enumerate(zplans) if entries is None]
    weight = sum(len(renderers[zone].view.projects[i].posts) + 1 for zone, i in todo)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    parts: dict[tuple[str, int], tuple[ZoneOutput, list[str]]] = {}
    if jobs >= 2 and len(todo) >= 2 and weight >= POOL_THRESHOLD and can_fork():
        for r in renderers.values():
            r.theme.prepare()
        parts = dict(zip(todo, _in_workers(renderers, todo, jobs)))
    for zone, r in renderers.items():
        r.start()
        for i, pv in enumerate(r.view.projects):
            gkey, entries = plans[zone][i]
            if entries is not None:
                r.reuse(pv, gkey, entries)
            elif (zone, i) in parts:
                part, warnings = parts[(zone, i)]
                for message in warnings:
                    log.warning("%s", message)
                r.adopt(pv, gkey, part)
            else:
                r.render_project(pv, gkey)
        r.finish()
    return {zone: r.out for zone, r in renderers.items()}


def _in_workers(renderers: Mapping[str, ZoneRenderer], todo: list[tuple[str, int]],
                jobs: int) -> list[tuple[ZoneOutput, list[str]]]:
    """Render the projects of `todo` in forked workers; results in the order of `todo`."""
    global _RENDERERS
    _RENDERERS = renderers
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(todo)), initializer=_worker_logging,
                                                      maxtasksperchild=_tasks_per_worker()) as pool:
            return list(pool.imap(_render_task, todo))
    finally:
        _RENDERERS = None


def _tasks_per_worker() -> int | None:
    """Tasks before a worker is replaced by a fresh fork (None: never): a worker copies the
    pages of the parent it touches, up to the whole parent; replaced every few tasks, the
    workers of a large site stay small."""
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (kB on Linux)
    return MAX_TASKS if rss_mb > RECYCLE_ABOVE_MB else None


class _Keep(logging.Handler):
    """A worker's warnings, kept for the parent to replay."""

    def emit(self, record: logging.LogRecord) -> None:
        _CAUGHT.append(record.getMessage())


def _worker_logging() -> None:
    """In a worker, warnings go to the parent (which logs them in order), not to the console."""
    log.handlers = [_Keep(logging.WARNING)]
    log.propagate = False


def _render_task(task: tuple[str, int]) -> tuple[ZoneOutput, list[str]]:
    """Worker: render one project of one zone; a page kept from the last build comes back as its key."""
    zone, i = task
    assert _RENDERERS is not None
    r = _RENDERERS[zone]
    r.out = ZoneOutput(zone)
    _CAUGHT.clear()
    r.project(r.view.projects[i])
    for path, data in r.out.files.items():
        if isinstance(data, Reused):
            r.out.files[path] = data.key  # type: ignore[assignment]
    return r.out, list(_CAUGHT)
