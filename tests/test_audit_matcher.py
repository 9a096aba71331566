"""The audit's string index: the same strings found as by plain substring search."""

from __future__ import annotations

import re

from hypothesis import given, strategies as st

from extranet.audit import MAX_KEYS, Matcher, _keys, anchors_of


@given(st.text(alphabet=st.sampled_from("ab é_1-. \n'"), max_size=60))
def test_interior_words_of_a_canary(s: str) -> None:
    """The Matcher's index keys: the first runs of word characters that neither start nor end
    the string, three by three (no more than MAX_KEYS of them)."""
    words = [m.group(0) for m in re.finditer(r"\w+", s) if 0 < m.start() and m.end() < len(s)]
    expected = list(zip(words, words[1:], words[2:]))[:MAX_KEYS] or list(zip(words, words[1:])) or words
    assert _keys(s) == expected


@given(st.lists(st.text(alphabet=st.sampled_from("ab é_1-. '"), min_size=1, max_size=40), min_size=1, max_size=6),
       st.text(alphabet=st.sampled_from("ab é_1-. '"), max_size=120))
def test_matcher_finds_exactly_the_strings_a_text_contains(strings: list[str], text: str) -> None:
    matcher = Matcher(dict.fromkeys(strings, "canary"))
    assert matcher.find(text) == {s for s in strings if s in text}


@given(st.lists(st.text(alphabet=st.sampled_from("ab é_1-. '"), min_size=1, max_size=40), min_size=1, max_size=6),
       st.text(alphabet=st.sampled_from("ab é_1-. '"), max_size=120), st.data())
def test_matchers_made_from_anchors_or_without_some_strings_find_exactly_theirs(strings, text, data) -> None:
    """The index as the canary memo rebuilds it (anchors chosen earlier, for some of the strings:
    its keys may be of fewer sizes) and without dropped strings: substring search all the same."""
    some = data.draw(st.lists(st.sampled_from(strings), unique=True))
    anchors = anchors_of(strings)
    rebuilt = Matcher.from_anchors(dict.fromkeys(some, "canary"), {s: anchors[s] for s in some})
    assert rebuilt.find(text) == {s for s in some if s in text}
    assert Matcher(dict.fromkeys(strings, "c")).without(set(some)).find(text) == {
        s for s in strings if s in text and s not in some}


def test_a_long_string_is_found_by_its_first_words_and_only_whole() -> None:
    """A sentence longer than the runs its anchor is chosen from is found where it occurs
    whole, and not where only its beginning does."""
    sentence = "Le " + " ".join(f"mot{i}" for i in range(3 * MAX_KEYS)) + " fin."
    matcher = Matcher({sentence: "internal text"})
    assert matcher.find(f"<p>avant {sentence} après</p>") == {sentence}
    assert matcher.find(f"<p>{sentence[: len(sentence) // 2]}</p>") == set()
