"""What the encrypted output tells without a password, and what pages load from elsewhere.

File names, sizes and keyrings are served to anyone: they must not say which posts are
internal, whose home page is whose, or link a person's entries across the two zones. And no
page of either zone may make a reader's browser fetch anything from another site.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from client import cli, give_passwords, readable
from extranet.protect.crypto import HEADER_SIZE, TAG_SIZE, padded_size
from extranet.protect.keyring import ENTRY_AAD, _parse, tag_and_entry_key, username_secret
from extranet.protect.crypto import aead_decrypt, b64d, b64e
from extranet.protect.homes import HOME_DIR
from extranet.protect.shell import shell_blob
from helpers import SITES, read_tree, write

PEOPLE = {"sara": "sara@own.example", "sam": "sam@own.example", "carl": "carl@acme.example",
          "bob": "bob@bolt.example"}
PUBLIC = {"login.html", "keyring.json", "index.html"}


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    passwords = give_passwords(root, PEOPLE)
    assert cli(root, "build").returncode == 0
    return root, passwords


def test_the_two_zones_share_no_file_name(site) -> None:
    """Side by side, two listings would otherwise show which posts of a project are internal."""
    root, _ = site
    internal, mixed = read_tree(root / "public/internal"), read_tree(root / "public/mixed")
    common = {p for p in set(internal) & set(mixed) if not p.startswith("static/")}
    assert common <= PUBLIC, common
    folders = lambda tree: {p.rsplit("/", 1)[0] for p in tree if "/" in p}  # noqa: E731
    assert folders(internal) & folders(mixed) <= {"static", "pages"}  # (the kinds of page, not which)


def test_every_encrypted_file_has_a_bucket_size_and_homes_are_alike(site) -> None:
    root, _ = site
    for zone in ("internal", "mixed"):
        for path, data in read_tree(root / f"public/{zone}").items():
            if path in PUBLIC - {"index.html"} or path.startswith("static/"):
                continue
            blob = shell_blob(data) if path.endswith(".html") else data
            payload = len(blob) - HEADER_SIZE - TAG_SIZE
            assert padded_size(payload - 1) == payload or path.startswith(HOME_DIR), (zone, path, payload)
    homes = {p: d for p, d in read_tree(root / "public/mixed").items() if p.startswith(HOME_DIR)}
    assert len(homes) == 2 * 4 and len({len(d) for d in homes.values()}) == 1  # carl, bob, sara, sam: id and email


def _password_salt(keyring: bytes, name: str) -> bytes:
    """What anyone who knows a user name reads in a keyring: the salt of that person's entry."""
    doc = _parse(keyring)
    tag, entry_key = tag_and_entry_key(username_secret(name, b64d(doc["salt"]), int(doc["tag_iterations"])))
    inner = aead_decrypt(entry_key, b64d(doc["entries"][b64e(tag)]), ENTRY_AAD)
    assert inner is not None
    return inner[:16]


def test_a_persons_two_keyring_entries_share_no_salt(site) -> None:
    root, _ = site
    for name in ("sara", "sam@own.example"):
        salts = {zone: _password_salt((root / f"public/{zone}/keyring.json").read_bytes(), name) for zone in
                 ("internal", "mixed")}
        assert salts["internal"] != salts["mixed"]


def test_server_snippets_turn_directory_listings_off(site) -> None:
    root, _ = site
    server = root / ".extranet/server"
    for zone in ("internal", "mixed"):
        assert "autoindex off;" in (server / f"nginx/{zone}.conf").read_text()
        assert "Options -Indexes" in (server / f"apache/{zone}.htaccess").read_text()
        assert not re.search(r"\bbrowse\b", (server / f"caddy/{zone}.Caddyfile").read_text())


# -- 7. nothing remote -----------------------------------------------------------------------------

REMOTE_POST = "---\ntitle: Pictures\nauthor: sara\nvisibility: mixed\n---\nLook: ![beam](https://cdn.example/beam.png)\n"


def test_a_remote_image_in_a_staff_post_is_dropped_with_a_warning(site) -> None:
    root, passwords = site
    write(root / "content/projects/alpha/posts/2026-01-07-pictures.md", REMOTE_POST)
    result = cli(root, "build")
    assert result.returncode == 0
    assert b"image from another site dropped: https://cdn.example/beam.png" in result.stderr
    for zone, person in (("internal", "sara"), ("mixed", "carl")):
        pages = b"".join(readable(root / f"public/{zone}", person, passwords[person]).values())
        assert b"cdn.example" not in pages and b"Look:" in pages


def test_remote_images_where_the_site_opts_in_and_never_from_email(site) -> None:
    root, passwords = site
    (root / "extranet.toml").write_text((root / "extranet.toml").read_text() + "[build]\nremote_images = true\n")
    write(root / "content/projects/alpha/posts/2026-01-07-pictures.md", REMOTE_POST)
    write(root / "content/projects/alpha/posts/2026-01-08-re-pictures-abcd1234.md",
          "---\ntitle: 'Re: Pictures'\nauthor: carl\nvisibility: mixed\nsource: email\nmessage_id: <m@acme.example>\n"
          "---\nMine: ![tracker](https://tracker.example/pixel.gif)\n")
    result = cli(root, "build")
    assert result.returncode == 0 and b"dropped" not in result.stderr
    pages = readable(root / "public/mixed", "carl", passwords["carl"])
    staff_post = next(d for d in pages.values() if b"Look:" in d and b"<h1>Pictures" in d)
    assert b'<img src="https://cdn.example/beam.png"' in staff_post
    assert "img-src 'self' blob: https:" in html.unescape(staff_post.decode())  # its own policy lets it load
    assert not any(b"tracker.example" in d for d in pages.values())


def test_every_page_of_both_zones_carries_its_own_content_security_policy(site) -> None:
    root, passwords = site
    for zone, person in (("internal", "sara"), ("mixed", "carl")):
        served = read_tree(root / f"public/{zone}")
        decrypted = readable(root / f"public/{zone}", person, passwords[person])
        for path, data in [*served.items(), *decrypted.items()]:
            if path.endswith(".html"):
                head = html.unescape(data.split(b"</head>")[0].decode())
                assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; '
                                 r'img-src \'self\' blob:;[^"]*object-src \'none\'', head), (zone, path)
