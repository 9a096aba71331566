"""Heading ids without the `toc` extension are exactly the extension's; `[TOC]` still works."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from extranet.content.markup import Renderer

_WORDS = st.sampled_from(["Plan", "plan", "Été", "déjà", "*em*", "`code`", "&amp;", "<b>x</b>", "1.", "?",
                          "[lien](a.md)", "Title_1", "{#custom}", "n°12", "—", "_", ""])
_LINE = st.tuples(st.sampled_from(["# ", "## ", "### ", "#### ", "", "- "]),
                  st.lists(_WORDS, min_size=0, max_size=4)).map(lambda t: t[0] + " ".join(t[1]))


def _both(renderer: Renderer, text: str, email: bool) -> tuple[str, str]:
    full = renderer._markdown(["nl2br"] if email else [], with_toc=True)
    light = renderer.mail_md if email else renderer.md
    out = []
    for md in (full, light):
        md.reset()
        renderer._links = []
        out.append(md.convert(text))
    return out[0], out[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=8), st.booleans())
def test_heading_ids_are_those_of_the_toc_extension(lines: list[str], email: bool) -> None:
    text = "\n\n".join(lines) + "\n"
    full, light = _both(Renderer(), text, email)
    assert light == full


def test_a_toc_marker_still_gets_its_table_of_contents() -> None:
    body = Renderer().render("pages/a.md", "[TOC]\n\n# One\n\n## Two\n")
    html = body.segments[0].html
    assert 'class="toc"' in html and 'href="#two"' in html and '<h2 id="two">' in html
