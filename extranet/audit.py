"""Prove that the mixed output holds nothing internal.

Canaries are distinctive strings that exist only in internal content: titles of what the
mixed zone must not show, sentences of internal passages and bodies, names of unpublished
files. A canary that also occurs in content the mixed zone may show is dropped (it is not a
secret). The check reads every rendered file of the mixed zone (before encryption, or after
decrypting it) and fails on any canary found.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import PurePosixPath

import ahocorasick_rs

from .cache import digest
from .content.model import Body, Project
from .zones import INTERNAL, MIXED, ProjectView, Rules, View

_TAG = re.compile(r"<[^>]+>")
MIN_TEXT = 24
MIN_TITLE = 10


@dataclass(frozen=True)
class Leak:
    """A canary found in a file of the mixed output."""

    path: str
    what: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}: contains {self.what} {self.text!r}"


def _text(html: str) -> str:
    return htmlmod.unescape(_TAG.sub("\n", html))


def _sentences(html: str) -> Iterable[str]:
    for line in _text(html).split("\n"):
        line = " ".join(line.split())  # runs of white space as one space, none at either end
        if len(line) >= MIN_TEXT:
            yield line


class _Sentences:
    """`_sentences` of each HTML text, kept from one build to the next in the build cache
    (keyed by the SHA-256 of the text itself: the same text has the same sentences)."""

    NAMESPACE = "sentences"

    def __init__(self, cache=None) -> None:
        self.cache = cache
        self.known: dict[str, tuple[str, ...]] = cache.get(self.NAMESPACE) if cache is not None else {}
        self.used: dict[str, tuple[str, ...]] = {}

    @staticmethod
    def key(html: str) -> str:
        """The memo key of a text."""
        return hashlib.sha256(html.encode()).hexdigest()

    def note(self, entries: dict[str, tuple[str, ...]]) -> None:
        """Mark entries as used by this build (taken over with a project's canaries)."""
        self.used.update(entries)

    def __call__(self, html: str, key: str | None = None) -> tuple[str, ...]:
        """The sentences of `html` (`key`: its memo key, when the caller has it)."""
        if self.cache is None:
            return tuple(_sentences(html))
        key = key or self.key(html)
        found = self.used.get(key)
        if found is None:
            found = self.known.get(key)
            if found is None:
                found = tuple(_sentences(html))
            self.used[key] = found
        return found

    def keep(self) -> None:
        """Store exactly the entries of this build."""
        if self.cache is not None and self.used.keys() != self.known.keys():
            self.cache.replace(self.NAMESPACE, self.used)


def _body_text(body: Body, zone: str) -> str:
    """Text of a body as `zone` may show it (decided here again, independently of zones.py)."""
    return "\n".join(_text(s.html) for s in body.segments if zone == INTERNAL or not s.internal)


def canaries(rules: Rules, mixed: View) -> dict[str, str]:
    """Internal-only strings (text -> what it is), minus any that mixed content also contains."""
    return canary_matcher(rules, mixed).secrets


def canary_matcher(rules: Rules, mixed: View, cache=None, kept: dict | None = None) -> "Matcher":
    """A Matcher of the canaries of `mixed` (what canaries() returns), the index built once;
    with the build `cache`, what earlier builds proved is reused (see canarymemo.py).
    `kept`: each project's candidates and shown texts from the last build of a long-running
    process (see ProjectCanaries); filled with this build's."""
    site = rules.site
    sentences = _Sentences(cache)
    found: dict[str, str] = {}
    shown: list[str] = []
    visible_projects = {pv.project.id: pv for pv in mixed.projects}
    shown_pages = {id(page) for page in mixed.pages}
    for page in site.pages:
        visible = id(page) in shown_pages
        if visible:
            shown += [page.title, _body_text(page.body, MIXED)]
        else:
            found[page.title] = "the title of an internal page"
        for seg in page.body.segments:
            if seg.internal or not visible:
                found.update((s, "internal text") for s in sentences(seg.html))
    memo = ProjectCanaries(kept if kept is not None else {}, sentences)
    hashed = [digest(t) for t in shown] if cache is not None else []  # each shown text's hash (canarymemo)
    for project in site.projects:
        part = memo.of(project, visible_projects.get(project.id), hashed=cache is not None)
        found.update(part.found)
        shown += part.shown
        hashed += part.hashes or ()
    if kept is not None:
        kept.clear()
        kept.update(memo.used)
    kept_texts = {text: what for text, what in found.items()
                  if text and len(text) >= (MIN_TITLE if "title" in what or "name" in what or "summary" in what else MIN_TEXT)}
    sentences.keep()
    if cache is not None:
        from .canarymemo import memo_matcher

        return memo_matcher(cache, kept_texts, shown, hashed)
    matcher = Matcher(kept_texts)
    return matcher.without(_also_in(matcher, shown))


@dataclass(frozen=True)
class _Part:
    """What one project adds: candidate canaries (text -> what it is) and texts the mixed zone
    shows, with the sentence memo entries they were made from."""

    found: dict[str, str]
    shown: list[str]
    hashes: list[str] | None  # of each shown text (None: not computed, the canary memo is off)
    sentences: dict[str, tuple[str, ...]]


class ProjectCanaries:
    """Each project's part of the canaries, computed or taken from the last build.

    A part is a function of the project record and of how the mixed zone shows it: whether at
    all, its body or not, which posts and which files. Records are immutable, so the same
    record (kept alive by the entry: its id is its own) shown the same way has the same part."""

    def __init__(self, kept: dict, sentences: "_Sentences") -> None:
        self.kept = kept
        self.used: dict[int, tuple] = {}
        self.sentences = sentences

    def of(self, project: Project, pv: ProjectView | None, hashed: bool = False) -> _Part:
        """The part of `project`, as `pv` (None: not in the mixed zone) shows it (`hashed`:
        with the hash of each shown text)."""
        how = None if pv is None else (pv.show_body, tuple(id(p) for p in pv.posts), tuple(a.key for a in pv.files))
        entry = self.kept.get(id(project))
        if entry is not None and entry[0] is project and entry[1] == how and (entry[2].hashes is not None or not hashed):
            part = entry[2]
            self.sentences.note(part.sentences)
        else:
            part = self._compute(project, pv, hashed)
        self.used[id(project)] = (project, how, part)
        return part

    def _compute(self, project: Project, pv: ProjectView | None, hashed: bool) -> _Part:
        found: dict[str, str] = {}
        shown: list[str] = []
        seen: dict[str, tuple[str, ...]] = {}

        def sentences(html: str) -> tuple[str, ...]:
            if self.sentences.cache is None:
                return self.sentences(html)
            key = self.sentences.key(html)
            out = seen[key] = self.sentences(html, key)
            return out

        if pv is None:
            found[project.title] = "the title of a project not shared"
            found[project.summary] = "the summary of a project not shared"
        else:
            shown += [project.title, project.summary]
            for a in pv.files:
                shown.append(a.name)
        shown_posts = {id(p) for p in pv.posts} if pv is not None else set()
        bodies = [(project.body, pv is not None and pv.show_body)]
        bodies += [(p.body, id(p) in shown_posts) for p in project.posts]
        for post in project.posts:
            if id(post) in shown_posts:
                shown.append(post.title)
            else:
                found[post.title] = "the title of an internal post"
            if post.original:
                found.update((s, "an email original") for s in sentences(htmlmod.escape(post.original)))
        for body, visible in bodies:
            if visible:
                shown.append(_body_text(body, MIXED))
            for seg in body.segments:
                if seg.internal or not visible:
                    found.update((s, "internal text") for s in sentences(seg.html))
        published = {a.key for a in pv.files} if pv else set()
        for a in project.files:
            if a.key not in published:
                name = PurePosixPath(a.name).name
                found[name] = "the name of an unpublished file"
        return _Part(found, shown, [digest(t) for t in shown] if hashed else None, seen)


def _also_in(matcher: "Matcher", shown: list[str]) -> set[str]:
    """The strings of `matcher` that occur in any of the `shown` texts.

    Each text is searched on its own (linear in the total size, unlike one search of their
    concatenation); strings spanning a line break are searched in the texts joined by one."""
    found: set[str] = set()
    for text in shown:
        found |= matcher.find(text)
    multiline = [s for s in matcher.secrets if "\n" in s]
    if multiline:
        joined = "\n".join(shown)
        found.update(s for s in multiline if s in joined)
    return found


class Matcher:
    """Finds which of many strings occur in a text, in one pass over the text.

    Each string is indexed by an *anchor*: one of its substrings (the whole string when it is
    at most WINDOW characters long; else the rarest, among the strings indexed together, of its
    first MAX_ANCHORS windows of WINDOW characters). An anchor occurs wherever its string does.
    One Aho–Corasick automaton of the anchors (ahocorasick_rs, the Rust `aho-corasick` crate)
    finds every anchor a text holds in a single linear pass, overlapping ones included; each
    string of a found anchor is then confirmed by a plain substring test. The automaton lives
    outside Python's heap: forked workers share it without copying a page.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.secrets = dict(secrets)
        self._index(anchors_of(self.secrets))

    @classmethod
    def from_anchors(cls, secrets: Mapping[str, str], anchors: Mapping[str, object]) -> "Matcher":
        """A Matcher whose strings are indexed by anchors chosen earlier (see anchors_of); an
        anchor that is not a substring of its string (a damaged memo) is replaced by the string."""
        m = cls.__new__(cls)
        m.secrets = dict(secrets)
        trusted = {s: anchors.get(s) for s in m.secrets}
        m._index({s: a if isinstance(a, str) and a and a in s else s for s, a in trusted.items()})
        return m

    def _index(self, anchors: dict[str, str]) -> None:
        self.anchor = anchors
        self._dropped: frozenset[str] = frozenset()
        self.always = [s for s, a in anchors.items() if not a]  # the empty string: in every text
        by_anchor: dict[str, list[str]] = {}
        for s, a in anchors.items():
            if a:
                by_anchor.setdefault(a, []).append(s)
        automaton = _Automaton.covering(by_anchor)
        self._search = automaton.search
        self._strings: list = [()] * len(automaton.position)  # per pattern of the automaton: its strings
        for a, strings in by_anchor.items():
            self._strings[automaton.position[a]] = strings

    def without(self, dropped: set[str]) -> "Matcher":
        """The same index for the strings not in `dropped` (no second indexing pass)."""
        other = Matcher.__new__(Matcher)
        other.__dict__.update(self.__dict__)
        other.secrets = {s: w for s, w in self.secrets.items() if s not in dropped}
        other.always = [s for s in self.always if s not in dropped]
        other._dropped = self._dropped | frozenset(dropped)
        return other

    def find(self, text: str) -> set[str]:
        """The strings that occur in `text`."""
        found = {s for s in self.always if s in text}
        strings = self._strings
        for i in {match[0] for match in self._search(text, overlapping=True)}:
            found.update(s for s in strings[i] if s in text)
        return found - self._dropped if self._dropped else found


class _Automaton:
    """An Aho–Corasick automaton of anchors, with each anchor's pattern number. The last one
    built is kept: a long-running process (the gateway) indexes the same anchors, or fewer, in
    most of its builds, and any automaton whose patterns include a Matcher's anchors will do
    (a pattern without strings of its own finds nothing)."""

    last: "_Automaton | None" = None

    def __init__(self, patterns: list[str]) -> None:
        self.position = {p: i for i, p in enumerate(patterns)}
        self.search = ahocorasick_rs.AhoCorasick(
            patterns, implementation=ahocorasick_rs.Implementation.ContiguousNFA, store_patterns=False,
        ).find_matches_as_indexes

    @classmethod
    def covering(cls, anchors: Mapping[str, object]) -> "_Automaton":
        """An automaton with a pattern for each of `anchors`: the last one when it has them all."""
        last = cls.last
        if (last is None or not len(last.position) // 2 <= len(anchors) <= len(last.position)
                or not all(a in last.position for a in anchors)):  # (at most half its patterns idle)
            last = cls.last = cls(list(anchors))
        return last


WINDOW = 24  # characters of a long string its anchor spans (shorter anchors: more strings to confirm per text)
MAX_ANCHORS = 8  # windows of a string considered for its anchor: any one will do, the rarest is quickest


def _windows(s: str) -> list[str]:
    """The substrings a string may be anchored on: itself when short, else its first windows of
    WINDOW characters, each starting half a window after the one before."""
    if len(s) <= WINDOW:
        return [s]
    step = WINDOW // 2
    return [s[i:i + WINDOW] for i in range(0, min(len(s) - WINDOW, step * (MAX_ANCHORS - 1)) + 1, step)]


def anchors_of(strings: Iterable[str]) -> dict[str, str]:
    """An anchor for each string, as Matcher chooses it among these strings."""
    windows = {s: _windows(s) for s in strings}
    rarity = Counter(chain.from_iterable(set(w) for w in windows.values())).__getitem__  # strings having each
    return {s: min(w, key=rarity) for s, w in windows.items()}


def find_leaks(files: Mapping[str, bytes], secrets: Mapping[str, str]) -> list[Leak]:
    """Every canary found in the given (plaintext) mixed output files."""
    leaks: list[Leak] = []
    if not secrets:
        return leaks
    matcher = secrets if isinstance(secrets, Matcher) else Matcher(secrets)
    for path, data in files.items():
        if path.startswith("static/"):
            continue
        text = data.decode("utf-8", "replace")
        plain = htmlmod.unescape(text)
        found = matcher.find(plain) if plain == text else matcher.find(plain) | matcher.find(text)
        leaks += [Leak(path, matcher.secrets[secret], secret) for secret in sorted(found)]
    return leaks


def _decrypt_each(tree: Mapping[str, bytes], secrets, zone: str,
                  sealed: Mapping[str, tuple[bytes, bytes, bytes]] | None = None) -> tuple[dict[str, bytes], list[str]]:
    """Decrypt every protected file of a zone; each one that does not open is a problem, by name.
    A file in `sealed` (see audit_protected) that is served as the output opened there, with
    one of the zone's keys, is taken as the plaintext it opened to."""
    from .protect.keyring import KEYRING_FILE
    from .protect.shell import LOGIN_PAGE
    from .protect.zone import decrypt_file, zone_keys

    try:
        keys = list(zone_keys(secrets, zone).values())
    except Exception as e:  # noqa: BLE001 - no keys at all: nothing can be proven
        return {}, [f"{zone}: {e}"]
    plain: dict[str, bytes] = {}
    problems: list[str] = []
    known, sealed = {key.secret for key in keys}, sealed or {}
    for path, data in sorted(tree.items()):
        if path.startswith("static/") or path in (LOGIN_PAGE, KEYRING_FILE):
            continue
        opened = sealed.get(path)
        if opened is not None and opened[2] is data and opened[1] in known:
            plain[path] = opened[0]
            continue
        try:
            plain[path] = decrypt_file(path, data, keys)
        except Exception as e:  # noqa: BLE001 - a file that does not open is not proven encrypted
            problems.append(f"{zone}/{path}: not encrypted with this zone's keys ({e})")
    return plain, problems


def audit_protected(views: Mapping[str, View], trees: Mapping[str, Mapping[str, bytes]], secrets,
                    secrets_for_mixed: Mapping[str, str], emails: Mapping[str, str],
                    audited: Mapping[str, bytes] | None = None,
                    sealed: Mapping[str, Mapping[str, tuple[bytes, bytes, bytes]]] | None = None) -> list[str]:
    """Audit encrypted output with the build's keys; returns the problems found (empty: proven).

    - every served file of each zone is encrypted, except the login page, keyring and static files;
    - decrypted, the mixed zone holds no canary (internal text, title or file name);
    - every person's keyring entry opens exactly the scopes they are entitled to, no more, no less.
    `audited`: mixed plaintext already searched for these canaries (find_leaks); a decrypted
    file equal, byte for byte, to one of those is not searched again (the same bytes hold the
    same strings, wherever the file is placed: a person's home moves to a derived path).
    `sealed` (zone -> path -> plaintext, content key, output): files a render worker sealed and
    opened again as this audit would (protect/zone.py Sealer); such a file is not decrypted
    again when the tree serves that very output and its key is one of the zone's saved keys.
    """
    from .protect.homes import name_secret
    from .protect.keyring import KEYRING_FILE, open_keyring_with_key

    problems: list[str] = []
    for zone, view in views.items():
        tree = trees[zone]
        plain, unreadable = _decrypt_each(tree, secrets, zone, (sealed or {}).get(zone))
        problems += unreadable
        if zone == MIXED:
            proven = {d for p, d in (audited or {}).items() if not p.startswith("static/")}
            unproven = {p: d for p, d in plain.items() if d not in proven}
            problems += [str(leak) for leak in find_leaks(unproven, secrets_for_mixed)]
        keyring = tree.get(KEYRING_FILE)
        if keyring is None:
            problems.append(f"{zone}: no {KEYRING_FILE}")
            continue
        zs = secrets.zone(zone)
        scope_of_secret = {secret: scope for scope, secret in zs.keys.items()}
        for pid, cred in secrets.people.items():
            expected = set(view.grants.get(pid, ())) | ({"_site"} if pid in view.grants else set())
            for name in {pid, emails.get(pid, "")} - {""}:
                opened = open_keyring_with_key(keyring, name_secret(zs, name), cred.wrap_key)
                got = {scope_of_secret.get(s, "?") for s in opened} if opened else set()
                if got != expected:
                    problems.append(f"{zone}: {name} opens {sorted(got)}, entitled to {sorted(expected)}")
    return problems


def audit_site(root, out) -> list[str]:
    """`extranet audit`: check the output on disk against the site's sources and keys."""
    import datetime as dt
    from pathlib import Path

    from . import config
    from .content.loader import load_site
    from .protect.secrets import Secrets
    from .zones import ZONES

    settings, people = config.load(root)
    site = load_site(settings, people)
    rules = Rules(site, dt.datetime.now())
    views = {zone: rules.view(zone) for zone in ZONES}
    trees = {}
    for zone in ZONES:
        folder = Path(out) / zone
        if not folder.is_dir():
            return [f"{folder}: not built"]
        trees[zone] = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    secrets = Secrets.load(settings.state_dir)
    emails = {p.id: p.email for p in people.people.values()}
    return audit_protected(views, trees, secrets, canaries(rules, views[MIXED]), emails)
