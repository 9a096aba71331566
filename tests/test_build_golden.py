"""Golden-site tests: a small fixture site built, both zones compared with expected trees.

Set EXTRANET_REGEN_GOLDEN=1 to rewrite the expected trees after an intended change, then
review the diff of tests/golden/ like any code change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from extranet.build import build

from helpers import NOW, copy_site, read_tree

GOLDEN = Path(__file__).resolve().parent / "golden" / "small"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    build(copy_site("small", tmp_path_factory.mktemp("site")), out=out, now=NOW, encrypt=False)
    return out


THEME_STATIC = Path(__file__).resolve().parent.parent / "extranet/themes/default/static"


@pytest.mark.parametrize("zone", ["internal", "mixed"])
def test_zone_matches_golden_tree(built: Path, zone: str) -> None:
    tree = read_tree(built / zone)
    got = {rel: data for rel, data in tree.items() if not rel.startswith("static/")}
    # static files are the theme's, copied as they are (the live-reload script only in previews)
    static = {rel.removeprefix("static/"): data for rel, data in tree.items() if rel.startswith("static/")}
    assert static == {k: v for k, v in read_tree(THEME_STATIC).items() if k != "livereload.js"}
    if os.environ.get("EXTRANET_REGEN_GOLDEN"):
        shutil.rmtree(GOLDEN / zone, ignore_errors=True)
        for rel, data in got.items():
            (GOLDEN / zone / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / zone / rel).write_bytes(data)
    expected = read_tree(GOLDEN / zone)
    assert sorted(got) == sorted(expected), "the set of output files differs from the golden tree"
    for rel in expected:
        assert got[rel].decode() == expected[rel].decode(), f"{zone}/{rel} differs from the golden file"


def test_mixed_zone_shows_only_shared_things(built: Path) -> None:
    mixed = read_tree(built / "mixed")
    everything = b"\n".join(list(mixed.values()) + [p.encode() for p in mixed])
    for secret in [b"Confidential pricing", b"twelve percent", b"costs.txt", b"cost sheet",
                   b"Staff handbook", b"Beta Warehouse", b"beta", b"Sam Supplier"]:
        assert secret not in everything, secret
    page = mixed["projects/alpha/index.html"].decode()
    assert "Kickoff meeting notes" in page and "Re kickoff from Carl" in page
    assert "The project page body is shared." in page
    # the reply to the kickoff is threaded under it on the project page
    assert page.index("Kickoff meeting notes") < page.index("Re kickoff from Carl")
    assert "Alpha Bridge Renovation" in mixed["home/alice.html"].decode()  # staff see every shared project
    assert "Alpha Bridge Renovation" in mixed["home/carl.html"].decode()
    assert "Alpha Bridge Renovation" not in mixed["index.html"].decode()


def test_internal_zone_marks_what_is_shared(built: Path) -> None:
    internal = read_tree(built / "internal")
    page = internal["projects/alpha/index.html"].decode()
    assert "internal-block" in page and "twelve percent" in page
    post = internal["projects/alpha/2026-01-05-kickoff.html"].decode()
    assert "badge-shared" in post
    pricing = internal["projects/alpha/2026-01-06-pricing.html"].decode()
    assert "badge-internal" in pricing
    assert "projects/beta/index.html" in internal


def test_link_to_internal_content_is_removed_with_a_warning(tmp_path: Path) -> None:
    result = build(copy_site("small", tmp_path), out=tmp_path / "out", now=NOW, encrypt=False)
    assert any("2026-01-06-pricing.md" in w and "removed from the mixed site" in w for w in result.warnings)
    reply = (tmp_path / "out/mixed/projects/alpha/2026-01-07-reply.html").read_text()
    assert "pricing" in reply and "2026-01-06-pricing" not in reply
    internal_reply = (tmp_path / "out/internal/projects/alpha/2026-01-07-reply.html").read_text()
    assert 'href="2026-01-06-pricing.html"' in internal_reply
