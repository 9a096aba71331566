"""The audit's string index: the same strings found as by plain substring search."""

from __future__ import annotations

import re

from hypothesis import given, strategies as st

from extranet.audit import Matcher, _keys


@given(st.text(alphabet=st.sampled_from("ab é_1-. \n'"), max_size=30))
def test_interior_words_of_a_canary(s: str) -> None:
    """The Matcher's index keys: runs of word characters that neither start nor end the string."""
    words = [m.group(0) for m in re.finditer(r"\w+", s) if 0 < m.start() and m.end() < len(s)]
    assert _keys(s) == (list(zip(words, words[1:], words[2:])) or list(zip(words, words[1:])) or words)


@given(st.lists(st.text(alphabet=st.sampled_from("ab é_1-. '"), min_size=1, max_size=12), min_size=1, max_size=6),
       st.text(alphabet=st.sampled_from("ab é_1-. '"), max_size=60))
def test_matcher_finds_exactly_the_strings_a_text_contains(strings: list[str], text: str) -> None:
    matcher = Matcher(dict.fromkeys(strings, "canary"))
    assert matcher.find(text) == {s for s in strings if s in text}
