"""The inline passes' quick way out (a text no inline pattern can match is handed back at
once) renders every body exactly as Python-Markdown's own passes do."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from extranet.content.markup import MarkupError, Renderer, _QuickInline

_PIECES = st.sampled_from([
    "mot", "Été", "n°12", " ", "  ", "\n", "\n\n", ".", "..", "...", "....", "-", "--", "---", "*", "**", "_", "__",
    "`", "``", "\\", "[", "]", "(", ")", "!", "<", ">", "&", "&amp;", ";", "#", "'", '"', ":", "^", "|", "~",
    "[lien](a.md)", "![img](b.png)", "<b>x</b>", "<https://x.org>", "<a@b.fr>", "[^1]", "\n[^1]: note\n",
    "\n::: internal\n", "\n:::\n", "\n```\n", "\n- ", "\n1. ", "\n> ", "\n# ", "{: .c}", "*[HTML]: Hyper\n", "HTML",
])


def _render(quick: bool, text: str, email: bool) -> list[tuple[str, bool]] | str:
    try:
        body = Renderer(quick=quick).render("projects/p/posts/2026-01-01-a.md", text, 5, email=email)
    except MarkupError as e:  # (an unbalanced fence: the same error both ways)
        return f"{e.line}: {e}"
    return [(s.html, s.internal) for s in body.segments] + [(repr(body.links), False)]


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=40).map("".join), st.booleans())
def test_the_quick_inline_pass_renders_as_markdown_does(text: str, email: bool) -> None:
    assert _render(True, text, email) == _render(False, text, email)


def test_the_quick_pass_is_in_use_and_hands_plain_words_back() -> None:
    renderer = Renderer()
    assert type(renderer.md.treeprocessors["inline"]) is _QuickInline
    assert type(renderer.md.treeprocessors["smarty"]) is _QuickInline
    html = renderer.render("pages/a.md", "Des mots, rien que des mots.\n\nPuis *un* lien [ici](b.md)... -- fin").segments[0].html
    assert html.startswith("<p>Des mots, rien que des mots.</p>")
    assert "<em>un</em>" in html and "extranet-link:0" in html and "…" in html and "–" in html
