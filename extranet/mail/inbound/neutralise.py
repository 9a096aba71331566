"""Markdown that arrived by email, made inert before it is written into the site.

A sender writes text, never structure the build acts on: container lines (`::: internal`),
the build's own link placeholders, attribute lists and raw HTML are escaped so that they
show as written, images from other sites become plain links (a reader's browser fetches
nothing), NUL bytes go, and a text too long is cut (the whole message stays in the post's
original, on the internal site). The renderer treats email posts with the same distrust
(content/markup.py); this is the first of the two walls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...content.markup import PLACEHOLDER

MAX_TEXT = 100_000  # characters of a reply posted; the rest is kept in its original
_CONTAINER = re.compile(r"^([ \t]*(?:>[ \t]*)*)(:{3,})", re.M)
_BRACE = re.compile(r"(?<!\\)\{")
_REMOTE_IMAGE = re.compile(r"!(\[[^\]\n]*\]\(\s*<?(?:[A-Za-z][A-Za-z0-9+.-]*:|//))")


@dataclass(frozen=True)
class Neutralised:
    """The text to post, and why a moderator should look at it (empty: nothing to say)."""

    text: str
    reasons: tuple[str, ...]


def neutralise(text: str) -> Neutralised:
    """Make a reply's Markdown inert (see the module's docstring)."""
    reasons = []
    text = text.replace("\x00", "")
    if len(text) > MAX_TEXT:
        cut = text.rfind("\n", 0, MAX_TEXT)
        text = text[: cut if cut > 0 else MAX_TEXT] + "\n\n[…]"
        reasons.append(f"the text was cut at {MAX_TEXT:,} characters (the whole message is in its original)")
    text = _CONTAINER.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    text = text.replace(PLACEHOLDER, PLACEHOLDER[:-1] + "&#58;")
    text = _BRACE.sub(r"\\{", text)  # (raw HTML: the extractor escaped every "<" already)
    text = _REMOTE_IMAGE.sub(r"\1", text)
    return Neutralised(text, tuple(reasons))
