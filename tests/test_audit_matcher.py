"""The audit's string index: the same strings found as by plain substring search."""

from __future__ import annotations

from hypothesis import given, strategies as st

from extranet.audit import MAX_ANCHORS, WINDOW, Matcher, _Automaton, _windows, anchors_of


@given(st.text(alphabet=st.sampled_from("ab é_1-. \n'"), max_size=200))
def test_the_windows_a_canary_may_be_anchored_on(s: str) -> None:
    """The Matcher's candidate anchors: the string itself when short, else windows of WINDOW
    characters half a window apart from its start (no more than MAX_ANCHORS), each a substring."""
    windows = _windows(s)
    if len(s) <= WINDOW:
        assert windows == [s]
    else:
        assert windows[0] == s[:WINDOW] and 1 <= len(windows) <= MAX_ANCHORS
        assert all(len(w) == WINDOW and w in s for w in windows)


def test_anchors_are_the_rarest_windows() -> None:
    """Strings that begin alike are anchored further in, where they differ."""
    head = "Thanks for the update on "
    strings = [head + tail for tail in ("the budget for next year.", "the schedule of the works.")]
    anchors = anchors_of(strings)
    assert all(anchors[s] in s and not head.startswith(anchors[s]) for s in strings)
    assert len(set(anchors.values())) == 2


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


def test_damaged_anchors_are_not_trusted() -> None:
    """An anchor from the memo that is not a substring of its string (an older index's, or a
    damaged cache) does not hide the string: it is indexed by itself."""
    strings = {"the internal budget is 40k": "internal text", "a second secret sentence here": "internal text"}
    m = Matcher.from_anchors(strings, {"the internal budget is 40k": ("budget", "is", "40k"),
                                       "a second secret sentence here": "nowhere in it"})
    assert m.find("<p>so: the internal budget is 40k and a second secret sentence here</p>") == set(strings)


def test_a_long_string_is_found_by_its_first_words_and_only_whole() -> None:
    """A sentence longer than the windows its anchor is chosen from is found where it occurs
    whole, and not where only its beginning does."""
    sentence = "Le " + " ".join(f"mot{i}" for i in range(3 * MAX_ANCHORS)) + " fin."
    matcher = Matcher({sentence: "internal text"})
    assert matcher.find(f"<p>avant {sentence} après</p>") == {sentence}
    assert matcher.find(f"<p>{sentence[: len(sentence) // 2]}</p>") == set()


def test_an_automaton_kept_from_a_larger_index_finds_only_the_strings_of_the_new_one() -> None:
    """The gateway's next build indexes the same anchors or fewer: the last automaton is reused,
    and a string that is no longer a canary is not reported, though its anchor still matches."""
    strings = [f"internal sentence number {i} of the project" for i in range(10)]
    Matcher(dict.fromkeys(strings, "internal text"))
    kept = _Automaton.last
    fewer = Matcher(dict.fromkeys(strings[:6], "internal text"))
    assert _Automaton.last is kept
    text = " ".join(strings)
    assert fewer.find(text) == set(strings[:6])
    assert Matcher(dict.fromkeys(strings[:6] + ["a new internal sentence here"], "c")).find(text) == set(strings[:6])
    assert _Automaton.last is not kept  # a new anchor: a new automaton


@given(st.text(alphabet=st.sampled_from("ab é<>/p\n \t\xa0\u2003&;amp"), max_size=120))
def test_canary_sentences_are_lines_with_white_space_collapsed(html: str) -> None:
    """Each line of a text (tags as line breaks, entities decoded), its white space runs made one
    space and stripped, kept when long enough."""
    import html as htmlmod
    import re

    from extranet.audit import MIN_TEXT, _sentences

    lines = (re.sub(r"\s+", " ", x).strip() for x in htmlmod.unescape(re.sub(r"<[^>]+>", "\n", html)).split("\n"))
    assert list(_sentences(html)) == [x for x in lines if len(x) >= MIN_TEXT]
