"""Listing excerpts: the start of a text, white space collapsed and entities decoded."""

from __future__ import annotations

import html
import re

from hypothesis import given, strategies as st

from extranet.render.pages import excerpt_of


def _whole_text_excerpt(text: str, length: int) -> str:
    """The excerpt computed from the whole text (what excerpt_of must equal)."""
    text = html.unescape(re.sub(r"\s+", " ", text)).strip()
    return text if len(text) <= length else text[: length - 1].rsplit(" ", 1)[0] + "…"


@given(st.lists(st.sampled_from(["a", "bc", "déf", " ", "  ", "\n", "\t", "\xa0", "&amp;", "&nbsp;", "&#32;",
                                 "&lt;b&gt;", "&am", "p;", "&", "x" * 30, "\u2003"]), max_size=80).map("".join),
       st.integers(min_value=1, max_value=40))
def test_excerpt_is_the_start_of_the_whole_text(text: str, length: int) -> None:
    assert excerpt_of(text, length) == _whole_text_excerpt(text, length)


def test_a_long_text_is_cut_at_a_word() -> None:
    text = "Le chantier   avance\n\n bien &amp; vite. " * 50
    assert excerpt_of(text, 30) == "Le chantier avance bien &…"


def test_a_start_of_entities_that_decode_to_white_space_is_not_taken_for_the_text() -> None:
    """Its first words decode to spaces, stripped: the excerpt is the words after them."""
    text = "&nbsp; " * 50 + "the real start of the post"
    assert excerpt_of(text, 10) == "the real…"
