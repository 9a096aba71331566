"""What a build keeps from one run to the next, beside the output: the cache on disk, and
what a long-running process (the gateway, the preview) also keeps in memory between builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import config
from .cache import Cache, open_cache

if TYPE_CHECKING:
    from .audit import Verdicts
    from .render.theme import Theme
    from .textmatch import Memo

TEXTS, VERDICTS = "texts", "audit-verdicts"  # cache namespaces: textmatch.Memo, audit.Verdicts


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
    return (state.texts if state is not None else texts), Verdicts(store.get(VERDICTS))


def open_state(settings: config.Settings, enabled: bool, state: BuildState | None) -> Cache:
    """The build's cache: the one a long-running caller keeps, else read from disk."""
    if state is None or not enabled:
        return open_cache(settings.state_dir, enabled)
    if state.cache is None or state.cache.folder != settings.state_dir / "cache":
        state.cache = open_cache(settings.state_dir, True)
    return state.cache
