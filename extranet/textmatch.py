"""Finding passages of one text inside others, whatever the markup around them.

Texts are compared in a normal form: HTML tags and Markdown syntax become spaces, entities
are decoded, letters folded to lower case, and every run of characters that are neither
letters nor digits becomes one space. A passage is then found in a page whether it was
written in Markdown, rendered to HTML, re-wrapped by a mail client or quoted with `>`.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain

import ahocorasick_rs

MIN_TEXT = 24  # normalised characters of a passage worth looking for (shorter ones are common phrases)
MIN_NAME = 10  # of a title or a file name
_TAG = re.compile(r"<[^<>]{0,2000}>")  # (bounded: a text of many "<" is searched in linear time)
_LINK_TARGET = re.compile(r"\]\([^()\n]{0,2000}\)|\]\[[^\[\]\n]{0,200}\]")  # the target part of a Markdown link
_WORD = re.compile(r"[^\W_]+")  # letters and digits (a word); anything else separates words
_SPACE = re.compile(" ")
_BREAK = re.compile(r"\n|(?<=[.!?;:…,])\s+")  # lines, sentences and clauses


def _folded(text: str) -> str:
    """Markup gone (tags and link targets as spaces, entities decoded), letters folded."""
    text = _TAG.sub(" ", _LINK_TARGET.sub("] ", text))
    if "&" in text:
        text = htmlmod.unescape(text)
    return unicodedata.normalize("NFKC", text).casefold()


def normalise(text: str) -> str:
    """The normal form of a text (HTML or Markdown): words in lower case, one space apart,
    with a space at either end (so that a passage is found only as whole words). It holds no
    line break: normal forms joined by "\n" are searched as one text, no passage spanning two."""
    words = " ".join(_WORD.findall(_folded(text)))
    return f" {words} " if words else " "


def passages(text: str, minimum: int = MIN_TEXT) -> list[str]:
    """The passages of a text worth looking for elsewhere: each line, sentence and clause of it
    (a quote of part of a sentence is found), in normal form, at least `minimum` characters
    long."""
    found = []
    for part in _BREAK.split(_folded(_TAG.sub("\n", text))):
        words = " ".join(_WORD.findall(part))
        if len(words) >= minimum:
            found.append(f" {words} ")
    return found


def name(text: str, minimum: int = MIN_NAME) -> list[str]:
    """A title or file name as a passage (none when it is too short to be distinctive)."""
    norm = normalise(text)
    return [norm] if len(norm) - 2 >= minimum else []


class Matcher:
    """Finds which of many strings (`secrets`: string -> what it is) occur in a text.

    Two ways, the same answer: an Aho–Corasick automaton of one short anchor per string, each
    string then confirmed by a substring test (one linear pass per text, once built), or, while
    the automaton is not built, a look-up at each space of the text of the strings that begin
    there (when every string is in normal form: a space at either end) — cheaper for the few
    short texts a build with a small change searches. The automaton is built once the look-ups
    have cost about what building it costs."""

    def __init__(self, secrets: Mapping[str, str], key: str = "") -> None:
        """`key`: a hash of `secrets` (see Memo.matcher), by which what it finds may be kept."""
        self.secrets = dict(secrets)
        self.key = key
        self._dropped: frozenset[str] = frozenset()
        self._automaton = _Automaton(self.secrets)

    def find(self, text: str) -> set[str]:
        """The strings that occur in `text`."""
        found = self._automaton.find(text)
        return found - self._dropped if self._dropped else found

    def prepare(self) -> None:
        """Build the automaton now (many texts are to be searched, in processes forked next)."""
        self._automaton.prepare()

    def without(self, dropped: Iterable[str]) -> "Matcher":
        """A Matcher of the strings not in `dropped` (the same automaton)."""
        other = Matcher.__new__(Matcher)
        other.__dict__.update(self.__dict__)
        other._dropped = self._dropped | frozenset(dropped)
        other.secrets = {s: w for s, w in self.secrets.items() if s not in other._dropped}
        other.key = _hash("\0".join([self.key, *sorted(other._dropped)])) if self.key else ""
        return other


class _Automaton:
    """The search of one set of strings, shared by a Matcher and those made `without` some."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings = frozenset(s for s in strings if s)
        self.prefix = min(map(len, self.strings), default=0)  # characters the look-up index is keyed by
        spaced = all(s[0] == " " and s[-1] == " " and len(s) > 1 for s in self.strings)
        self.budget = sum(map(len, self.strings)) * LOOKUPS_PER_CHARACTER if spaced else -1  # look-ups left
        self._index: dict[str, list[str]] | None = None
        self._search = None

    def find(self, text: str) -> set[str]:
        if not self.strings:
            return set()
        if self._search is None:
            spaces = text.count(" ")
            if spaces <= self.budget / 2:  # (a text that would take half of it: a search of many texts)
                self.budget -= spaces
                return self._look_up(text)
            self.prepare()
        found: set[str] = set()
        for i in {m[0] for m in self._search(text, overlapping=True)}:
            found.update(s for s in self._groups[i] if s in text)
        return found

    def _look_up(self, text: str) -> set[str]:
        """The strings that begin at a space of `text` (every string does, and begins with
        `prefix` characters that key an index of them)."""
        if self._index is None:
            self._index = {}
            for s in self.strings:
                self._index.setdefault(s[:self.prefix], []).append(s)
        index, width, found = self._index, self.prefix, set()
        for space in _SPACE.finditer(text):
            i = space.start()
            group = index.get(text[i:i + width])
            if group is not None:
                found.update(s for s in group if text.startswith(s, i))
        return found

    def prepare(self) -> None:
        """Build the automaton (once)."""
        if self._search is not None or not self.strings:
            return
        anchors = _anchors(self.strings)
        by_anchor: dict[str, list[str]] = {}
        for s, a in anchors.items():
            by_anchor.setdefault(a, []).append(s)
        patterns = list(by_anchor)
        self._groups = [by_anchor[a] for a in patterns]
        self._search = ahocorasick_rs.AhoCorasick(
            patterns, implementation=ahocorasick_rs.Implementation.ContiguousNFA, store_patterns=False,
        ).find_matches_as_indexes


LOOKUPS_PER_CHARACTER = 0.2  # look-ups (one per space of a text) that cost what building the automaton costs per character


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


WINDOW = 24  # characters of a long string its anchor spans


def _anchors(strings: Iterable[str]) -> dict[str, str]:
    """An anchor for each string: itself when short, else the window of it that begins at its
    rarest word (the word fewest of the strings hold: a name, a number, a term), which few
    texts hold either; a common anchor costs a substring test at each of its many hits."""
    words = {s: s.split() for s in strings if s}
    rarity = Counter(chain.from_iterable(words.values())).__getitem__
    anchors = {}
    for s, ws in words.items():
        if len(s) <= WINDOW or not ws:
            anchors[s] = s[:WINDOW]
            continue
        start = max(s.find(min(ws, key=rarity)) - 1, 0)  # (with the space before it: a whole word)
        anchors[s] = s[start:start + WINDOW] if start + WINDOW <= len(s) else s[-WINDOW:]
    return anchors


class Memo:
    """The normal forms, passages and Matchers of texts, kept by content: each a pure function
    of its text (by the text's SHA-256) or of its strings (a Matcher, by the hash of them all).
    `texts`: the entries a previous build kept (a cache namespace); `used()` the ones this
    build asked for. Matchers are kept in memory only (a long-running process's next build
    mostly asks for the same ones)."""

    def __init__(self, texts: dict | None = None) -> None:
        self.known: dict = texts if texts is not None else {}
        self._used: dict = {}
        self._matchers: dict[str, Matcher] = {}
        self._matchers_used: dict[str, Matcher] = {}

    def _kept(self, kind: str, text: str, compute):
        key = kind + _hash(text)
        value = self._used.get(key)
        if value is None:
            value = self.known.get(key)
            if value is None:
                value = compute(text)
            self._used[key] = value
        return value

    def normalise(self, text: str) -> str:
        """normalise(text)."""
        return self._kept("n", text, normalise)

    def passages(self, text: str) -> tuple[str, ...]:
        """passages(text)."""
        return self._kept("p", text, lambda t: tuple(passages(t)))

    def matcher(self, secrets: Mapping[str, str]) -> Matcher:
        """Matcher(secrets), the one made for the very same strings when there is one."""
        key = _hash("\0".join(f"{s}\1{w}" for s, w in sorted(secrets.items())))
        found = self._matchers_used.get(key) or self._matchers.get(key) or Matcher(secrets, key)
        self._matchers_used[key] = found
        return found

    def find(self, matcher: Matcher, text: str) -> frozenset[str]:
        """matcher.find(text), kept by the Matcher's key and the text (a Matcher without a key:
        found again)."""
        if not matcher.key:
            return frozenset(matcher.find(text))
        return self._kept("f" + matcher.key, text, lambda t: frozenset(matcher.find(t)))

    def next_build(self) -> None:
        """A new build: keep only what the last one used."""
        self.known, self._used = self._used or self.known, {}
        self._matchers, self._matchers_used = self._matchers_used or self._matchers, {}

    def mark(self) -> frozenset[str]:
        """The keys used so far (see since)."""
        return frozenset(self._used)

    def since(self, mark: frozenset[str]) -> tuple[list[str], dict]:
        """What was used after `mark`: the keys of entries kept from an earlier build, and the
        entries derived anew (what another process of the same build hands back: see adopt)."""
        kept = [k for k in self._used if k not in mark and k in self.known]
        return kept, {k: v for k, v in self._used.items() if k not in mark and k not in self.known}

    def adopt(self, since: tuple[list[str], dict]) -> None:
        """Take as used what another process of this build used (since(), there): the entries
        kept stay the very objects this process holds, so the cache writes only what is new."""
        kept, new = since
        self._used.update((k, self.known[k]) for k in kept if k in self.known)
        self._used.update(new)

    def used(self) -> dict:
        """The text entries this build asked for (what the cache keeps)."""
        return self._used
