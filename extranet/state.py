"""What a build keeps from one run to the next, beside the output: the cache on disk, and
what a long-running process (the gateway, the preview) also keeps in memory between builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import config
from .cache import Cache, digest, open_cache

if TYPE_CHECKING:
    from pathlib import Path

    from .audit import Verdicts
    from .output import Spare
    from .render.theme import Theme
    from .textmatch import Memo

TEXTS, VERDICTS, SEEN = "texts", "audit-verdicts", "audit-seen"  # cache namespaces: textmatch.Memo, audit.Verdicts
SPARE = "spare"  # cache namespace: output.Spare's pairs, by spare folder


@dataclass
class BuildState:
    """What a long-running process (the gateway, the preview) keeps from one build to the next:
    the build's cache as loaded, the theme while its files hash the same, and the text memo
    (with its Matchers, kept by their strings)."""

    cache: Cache | None = None
    theme: Theme | None = None
    texts: Memo | None = None


def memos(store: Cache, state: BuildState | None) -> tuple[Memo, Verdicts]:
    """The text memo (a long-running caller's, else from the cache) and the audit's verdicts."""
    from .audit import Verdicts
    from .textmatch import Memo

    if state is not None and state.texts is not None:
        state.texts.next_build()
    else:
        texts = Memo(store.get(TEXTS))
        if state is not None:
            state.texts = texts
    return (state.texts if state is not None else texts), Verdicts(store.get(VERDICTS), store.get(SEEN))


def spare_of(settings: config.Settings, out: Path, store: Cache) -> Spare:
    """The spare trees of the output folder `out` (see output.Spare), with what the last
    publish left of them, kept in the cache."""
    from .output import Spare

    folder = settings.state_dir / "spare" / digest(str(out.resolve()))[:16]
    kept = store.get(SPARE)
    kept[str(folder)] = pairs = dict(kept.get(str(folder), {}))  # (a new object: the cache writes what changed)
    return Spare(folder, pairs)


def open_state(settings: config.Settings, enabled: bool, state: BuildState | None) -> Cache:
    """The build's cache: the one a long-running caller keeps, else read from disk."""
    if state is None or not enabled:
        return open_cache(settings.state_dir, enabled)
    if state.cache is None or state.cache.folder != settings.state_dir / "cache":
        state.cache = open_cache(settings.state_dir, True)
    return state.cache
