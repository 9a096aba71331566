"""Markdown to passages: containers fail closed, placeholders cannot be forged, time is linear."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from extranet.content.markup import MAX_BODY, PLACEHOLDER, MarkupError, Renderer, container_line, heading_id, split_internal

RENDERER = Renderer()
LINES = st.sampled_from(["text", "::: internal", "::: Interne", ":::", "::::", "  ::: internal", "> ::: internal",
                         "- item", "```", "::: other", "\t:::", "secret", "> quoted", ""])


@given(st.lists(LINES, max_size=12))
def test_no_container_line_and_nothing_inside_one_is_ever_public(lines: list[str]) -> None:
    """Whatever the lines, the split either fails (naming a line) or gives public passages
    holding no container line and no line that stood between an opening and a closing one."""
    text = "\n".join(lines)
    try:
        parts = split_internal(text, 10)
    except MarkupError as e:
        assert 10 <= e.line < 10 + len(lines)
        return
    public = "\n".join(md for md, internal in parts if not internal).split("\n")
    assert not any(container_line(line) is not None for line in public)
    inside, outside = False, 0
    for line in lines:
        name = container_line(line)
        if name is not None:
            inside = bool(name)
        elif not inside and line == "secret":
            outside += 1
    assert public.count("secret") <= outside  # (a "secret" line written outside any block is public)


@given(st.lists(st.sampled_from(["[a](b.md)", "extranet-link:3", "[x](extranet-link:0)", '<a href="extranet-link:1">y</a>',
                                 "<img src='extranet-link:2'>", "![i](c.png)", "text"]), max_size=8), st.booleans())
def test_placeholders_come_only_from_links_written(parts: list[str], email: bool) -> None:
    body = RENDERER.render("projects/p/posts/2026-01-01-a.md", " ".join(parts), email=email)
    html = "".join(s.html for s in body.segments)
    indexes = [int(i) for i in re.findall(r'<(?:a|img)\b[^>]*\b(?:href|src)="' + re.escape(PLACEHOLDER) + r'(\d+)"', html)]
    assert sorted(indexes) == list(range(len(body.links)))
    assert all(link.target and PLACEHOLDER not in link.target for link in body.links)


def test_heading_ids_are_readable_and_never_the_pages_own() -> None:
    body = RENDERER.render("pages/a.md", "# Réunion de chantier\n\n## Réunion de chantier\n\n# xn data\n")
    html = body.segments[0].html
    assert 'id="reunion-de-chantier"' in html and 'id="reunion-de-chantier-1"' in html
    assert 'id="h-xn-data"' in html and heading_id("!!!") == "section"


def test_a_body_over_the_limit_is_an_error() -> None:
    with pytest.raises(MarkupError, match="body too long"):
        RENDERER.render("pages/a.md", "a" * (MAX_BODY + 1), 7)


ATOMS = ["[a](b ", "![a](b ", "`a ", "<a ", "[](", "[a](<b ", "<http://a", "&a ", "*[a]: b\n", "[^a]: b\n",
         "a\n: b\n", "#a\n", "- a\n  - b\n", "1. a\n", "a  \n", "[^", "a\n===\n", "* a\n", "\\", "**a*", "*_",
         "~~~\n", "> a\n", ">>>>>>>>a\n", "[", "{", "<!-- a\n", "::: x", "| a |\n", "word "]


def _seconds(text: str, email: bool) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        try:
            RENDERER.render("projects/p/posts/2026-01-01-a.md", text, email=email)
        except MarkupError:
            pass
        best = min(best, time.perf_counter() - started)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4), st.booleans())
def test_render_time_stays_linear_in_body_size(atoms: list[str], email: bool) -> None:
    """A body made of any mix of the constructs that are quadratic in Python-Markdown: eight
    times the text takes about eight times as long (quadratic would be sixty-four; the bound
    leaves room for a busy machine)."""
    unit = "".join(atoms)
    small = unit * (3_000 // len(unit) + 1)
    large = small * 8
    ratio = _seconds(large, email) / max(_seconds(small, email), 1e-4)
    assert ratio < 24, f"{atoms}: {ratio:.1f} times the time for 8 times the text"
