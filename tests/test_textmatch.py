"""Finding passages in texts whatever their markup: the Matcher and the normal form."""

from __future__ import annotations

import re

from hypothesis import given, strategies as st

from extranet.textmatch import WINDOW, Matcher, _anchors, normalise, passages

ALPHABET = st.sampled_from("ab é_1-. '")


@given(st.lists(st.text(alphabet=ALPHABET, max_size=80), max_size=8))
def test_each_string_is_anchored_on_a_piece_of_itself(strings: list[str]) -> None:
    anchors = _anchors(strings)
    assert set(anchors) == {s for s in strings if s}
    for s, anchor in anchors.items():
        assert anchor in s and len(anchor) == min(len(s), WINDOW)


def test_anchors_begin_at_the_rarest_word() -> None:
    """Strings that begin alike are anchored further in, on the word only one of them holds."""
    head = " thanks for the update on the "
    strings = [head + tail for tail in ("budget for next year and the rest ", "schedule of the works and the rest ")]
    anchors = _anchors(strings)
    assert anchors[strings[0]].startswith(" budget") and anchors[strings[1]].startswith(" schedule")


@given(st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=40), min_size=1, max_size=6),
       st.text(alphabet=ALPHABET, max_size=120), st.data())
def test_matcher_finds_exactly_the_strings_a_text_contains(strings: list[str], text: str, data) -> None:
    matcher = Matcher(dict.fromkeys(strings, "canary"))
    assert matcher.find(text) == {s for s in strings if s in text}
    some = set(data.draw(st.lists(st.sampled_from(strings), unique=True)))
    assert matcher.without(some).find(text) == {s for s in strings if s in text and s not in some}


WORDS = st.lists(st.sampled_from(["a", "b", "ab", "é", "1"]), min_size=1, max_size=6).map(lambda ws: f" {' '.join(ws)} ")


@given(st.lists(WORDS, min_size=1, max_size=8), st.lists(WORDS, max_size=6), st.data())
def test_both_ways_of_searching_find_the_same_strings(strings: list[str], texts: list[str], data) -> None:
    """Strings in normal form are looked up stretch by stretch until the automaton is built:
    both give exactly the strings a text holds (texts joined by line breaks included)."""
    text = "\n".join(texts)
    some = set(data.draw(st.lists(st.sampled_from(strings), unique=True)))
    expected = {s for s in strings if s in text}
    for budget in (10**9, 0):  # look-ups, then the automaton
        matcher = Matcher(dict.fromkeys(strings, "canary"))
        matcher._automaton.budget = budget
        assert matcher.find(text) == expected
        assert matcher.without(some).find(text) == expected - some
    matcher = Matcher(dict.fromkeys(strings, "canary"))
    matcher._automaton.budget = 10**9
    assert matcher.find(text) == expected and matcher._automaton._search is None  # (looked up)


def test_a_long_string_is_found_only_whole() -> None:
    sentence = " le " + " ".join(f"mot{i}" for i in range(30)) + " fin "
    matcher = Matcher({sentence: "internal text"})
    assert matcher.find(f" avant{sentence}après ") == {sentence}
    assert matcher.find(sentence[: len(sentence) // 2]) == set()


@given(st.text(alphabet=st.sampled_from("aB é*_[]()<>/p#\n \t\xa0&;amp>1"), max_size=120))
def test_the_normal_form_is_words_in_lower_case_one_space_apart(text: str) -> None:
    norm = normalise(text)
    assert norm.startswith(" ") and norm.endswith(" ")
    assert "  " not in norm and norm == norm.casefold()
    assert all(re.fullmatch(r"[^\W_]+", w) for w in norm.split())


def test_a_passage_is_found_through_markdown_html_quoting_and_rewrapping() -> None:
    """An internal sentence written in Markdown is found in a page that renders it, and in a
    mail reply that quotes it re-wrapped, with its punctuation and case changed."""
    [canary] = passages("Notre **marge** sur ce lot est de 12 %, à ne pas [dire](../files/x.pdf).")
    page = "<p>Notre <strong>marge</strong> sur ce lot est de 12&nbsp;%, à ne pas <a href='x'>dire</a>.</p>"
    mail = "> notre marge sur ce lot\n> est de 12 % -- à ne pas dire !"
    assert canary in normalise(page) and canary in normalise(mail)
    assert canary not in normalise("notre marge sur ce lot est de 13 %, à ne pas dire")


def test_passages_are_lines_sentences_and_clauses_long_enough() -> None:
    text = ("Short one. This sentence is long enough to count here! And so is this second long sentence, "
            "with a clause long enough as well.\nTiny")
    assert passages(text) == [" this sentence is long enough to count here ",
                              " and so is this second long sentence ", " with a clause long enough as well "]
