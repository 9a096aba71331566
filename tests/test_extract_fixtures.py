"""Extranet-owned reply fixtures: each ``.eml`` must give exactly its ``.expected.txt``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from extranet.mail.inbound.extract import extract

FIXTURES = Path(__file__).parent / "fixtures" / "replies"
CASES = sorted(FIXTURES.glob("*.eml"))


def _norm(text: str) -> str:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def test_fixture_set_is_large_and_covers_every_client() -> None:
    names = " ".join(p.stem for p in CASES)
    assert len(CASES) >= 40
    for client in ("gmail", "outlook_fr", "outlook_web", "outlook_ios", "outlook_android", "apple_mail",
                   "iphone", "thunderbird", "yahoo", "orange", "free", "zimbra", "roundcube", "forward",
                   "html_only", "qp_iso_8859_1", "base64", "windows_1252", "attachment", "disclaimer", "signature"):
        assert client in names, client
    for case in CASES:
        assert case.with_suffix(".expected.txt").exists(), case.name


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture(path: Path) -> None:
    """The text exactly; confident, unless a ``.doubt.txt`` names a word its reasons must hold."""
    expected = path.with_suffix(".expected.txt").read_text(encoding="utf-8")
    result = extract(path.read_bytes())
    assert _norm(result.text) == _norm(expected)
    doubt = path.with_suffix(".doubt.txt")
    if doubt.exists():
        word = doubt.read_text(encoding="utf-8").strip()
        assert not result.confident and any(word in r for r in result.reasons), result.reasons
    else:
        assert result.confident, result.reasons
    assert "<" not in result.text.replace("\\<", "")
