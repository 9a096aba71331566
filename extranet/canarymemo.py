"""The canaries of the mixed zone, kept from one build to the next (pure facts, by content).

A candidate canary (internal-only text) is dropped when some text the mixed zone shows
contains it. The memo remembers, for each candidate, its Matcher anchor and either a
*witness* (the SHA-256 of one shown text containing it) or "absent from every shown text of
the last build" (the set of those texts' hashes is kept too). Both are facts about exact
strings, so a later build may rely on them:
- a candidate whose witness text is still shown is dropped without searching;
- a candidate absent from every previously shown text only needs searching in the texts
  shown for the first time;
- any other candidate (new, or whose witness is gone) is searched in every shown text;
- candidates spanning a line break are always searched in all shown texts joined.
When too much is new, everything is computed again with the full index.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .audit import Matcher, anchors_of
from .cache import Cache, digest

NAMESPACE = "canary-states"  # candidate -> (anchor, witness): one entry each, so the cache writes only changes
TEXTS = "canary-texts"  # hash of each text the last build showed -> True
BUILD = ""  # an entry of both namespaces (never a candidate nor a hash): the build that wrote them
ABSENT = ""
MAX_NEW = 400  # candidates to search in every shown text one by one; above: the full index
MAX_NEW_TEXTS = 200  # new shown texts to search for every candidate one by one


def memo_matcher(cache: Cache, kept: Mapping[str, str], shown: list[str], hashes: list[str] | None = None) -> Matcher:
    """A Matcher of the candidates in `kept` minus those some `shown` text contains
    (`hashes`: the digest of each shown text, when the caller has them)."""
    before: dict[str, tuple] = cache.get(NAMESPACE)
    seen_before: dict[str, bool] = cache.get(TEXTS)
    if before.get(BUILD) is None or before.get(BUILD) != seen_before.get(BUILD):
        before, seen_before = {}, {}  # not written together (a crash between the two): start again
    texts: dict[str, str] = {}
    for t, h in zip(shown, hashes if hashes is not None else (digest(t) for t in shown)):
        texts.setdefault(h, t)
    current = frozenset(texts)
    new_texts = [texts[d] for d in current if d not in seen_before]  # (BUILD is no text's hash)
    state: dict[str, tuple] = {}
    unknown: list[str] = []
    unanchored: list[str] = []  # new candidates, and those anchored by an older index
    only_new: list[str] = []
    multiline = [c for c in kept if "\n" in c]
    for c in kept:
        entry = before.get(c)
        if entry is None or not isinstance(entry[0], str):
            unknown.append(c)
            unanchored.append(c)
        elif "\n" in c:
            unknown.append(c)
        elif entry[1] != ABSENT and entry[1] in current:
            state[c] = entry
        elif entry[1] == ABSENT:
            only_new.append(c)
        else:
            unknown.append(c)
    if not before or len(unknown) > MAX_NEW or len(new_texts) > MAX_NEW_TEXTS:
        return _full(cache, kept, texts, current)
    anchors = anchors_of(unanchored)
    for c in only_new:
        entry = (before[c][0], _witness(c, new_texts) or ABSENT) if new_texts else before[c]
        state[c] = before[c] if entry == before[c] else entry  # the same object: not written again
    joined = "\n".join(shown) if unknown else ""
    for c in unknown:
        anchor = anchors[c] if c in anchors else before[c][0]
        w = ABSENT
        if c in joined:
            w = _witness(c, list(texts.values())) or ("joined" if c in multiline else ABSENT)
        state[c] = (anchor, w)
    _store(cache, state, current, seen_before)
    secrets = {c: kept[c] for c, (_, w) in state.items() if w == ABSENT}
    return Matcher.from_anchors(secrets, {c: state[c][0] for c in secrets})


def _store(cache: Cache, state: dict[str, tuple], current: frozenset[str], seen_before: dict[str, bool]) -> None:
    """Keep the candidates' state and the hashes of the texts shown, both marked with the same
    new build id (an "absent" is only true of the texts of its own build). Unchanged entries
    stay the same objects, so the cache writes only what changed."""
    build = os.urandom(8).hex()
    cache.replace(NAMESPACE, {**state, BUILD: build})
    texts = {d: True for d in current} if current != seen_before.keys() - {BUILD} else dict(seen_before)
    texts[BUILD] = build
    cache.replace(TEXTS, texts)


def _witness(c: str, texts: list[str]) -> str | None:
    """The hash of the first text containing `c` (None when none does)."""
    for t in texts:
        if c in t:
            return digest(t)
    return None


def _full(cache: Cache, kept: Mapping[str, str], texts: dict[str, str], current: frozenset[str]) -> Matcher:
    """Every candidate searched in every shown text with the full index (and remembered)."""
    matcher = Matcher(kept)
    witness: dict[str, str] = {}
    for d, t in texts.items():
        for c in matcher.find(t):
            witness.setdefault(c, d)
    multiline = [c for c in kept if "\n" in c and c not in witness]
    if multiline:
        joined = "\n".join(texts.values())
        witness.update((c, "joined") for c in multiline if c in joined)
    state = {c: (matcher.anchor.get(c), witness.get(c, ABSENT)) for c in kept}
    _store(cache, state, current, cache.get(TEXTS))
    return matcher.without(set(witness))
