"""Separation against mistakes and hostile input, judged on the encrypted output as a client
would read it: decrypted with the client's own keyring, as the browser does.

Each test reproduces one way around the promise found by a review of the built output: links
that published files, quotes that carried internal text back, container typos that failed
open, and email that could stop or slow every build.
"""

from __future__ import annotations

import re
import shutil
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from client import cli, everything_known, give_passwords, readable
from extranet.mail.demo_reply import reply_to
from helpers import SITES, read_tree, write

PEOPLE = {"sara": "sara@own.example", "sam": "sam@own.example", "carl": "carl@acme.example",
          "bob": "bob@bolt.example"}
INTERNAL_BYTES = (b"INTERNAL-DEVIS-BYTES", b"INTERNAL-COSTS-BYTES", b"INTERNAL-BETA-COSTS-BYTES")
SECRETS = ("Alpha secret margin", "Kickoff secret", "Pricing secret", "Handbook secret", "Beta body secret",
           "devis-interne", "costs-internal", "beta-costs-internal", "Internal pricing notes")


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    passwords = give_passwords(root, PEOPLE)
    result = cli(root, "build")
    assert result.returncode == 0, result.stderr.decode()
    return root, passwords


def known(root: Path, passwords: dict[str, str], person: str) -> bytes:
    return everything_known(root / "public" / "mixed", person, passwords[person])


def assert_nothing_internal(root: Path, passwords: dict[str, str], *extra: str) -> None:
    """Neither client nor supplier can read an internal passage, name or file's bytes."""
    for person in ("carl", "bob"):
        text = known(root, passwords, person)
        for secret in (*SECRETS, *extra):
            assert secret.encode() not in text, f"{person} can read {secret!r}"
        for data in INTERNAL_BYTES:
            assert data not in text, f"{person} can read {data!r}"
    audit = cli(root, "audit")
    assert audit.returncode == 0, audit.stdout.decode() + audit.stderr.decode()


def notification(root: Path, to: str, subject: str) -> bytes:
    for f in sorted((root / ".extranet/outbox").glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        if to in str(msg["To"]) and subject in str(msg["Subject"]):
            return f.read_bytes()
    raise AssertionError(f"no notification to {to} about {subject}")


def ingest(root: Path, to: str, subject: str, text: str) -> None:
    if not (root / ".extranet/outbox").is_dir():
        assert cli(root, "notify", "--all").returncode == 0
    result = cli(root, "ingest", stdin=reply_to(notification(root, to, subject), text))
    assert result.returncode == 0, result.stderr.decode()


def email_posts(root: Path, project: str = "alpha") -> list[Path]:
    return sorted((root / f"content/projects/{project}/posts").glob("*-re-*.md"))


def test_the_example_client_sees_only_what_is_shared(site) -> None:
    root, passwords = site
    carl = readable(root / "public/mixed", "carl", passwords["carl"])
    text = b"\n".join(carl.values())
    assert b"We met on Monday" in text and b"The footbridge spans twelve metres" in text
    assert b"SHARED-PLAN-BYTES" in text  # linked from a shared post: shared
    assert b"Staircase study" not in text  # beta is bob's project
    assert_nothing_internal(root, passwords)


# -- 1. links publish files -------------------------------------------------------------------

def test_a_link_in_an_email_reply_shares_nothing(site) -> None:
    """A client's reply linking an internal file of their project and another project's file:
    neither reaches anyone outside, in a page or in a notification."""
    root, passwords = site
    ingest(root, "carl@acme.example", "Kickoff meeting",
           "Please look at [this quote](../files/devis-interne.txt), [the costs](../files/costs-internal.csv) "
           "and [beta costs](../../beta/files/beta-costs-internal.csv).")
    [post] = email_posts(root)
    assert "devis-interne.txt" in post.read_text()  # written as sent
    assert_nothing_internal(root, passwords)
    pages = readable(root / "public/mixed", "carl", passwords["carl"])
    reply = next(d for d in pages.values() if b"Please look at" in d)
    assert b'<span class="link-removed">this quote</span>' in reply
    assert cli(root, "notify").returncode == 0
    for eml in (root / ".extranet/outbox").glob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        if "@own.example" not in str(msg["To"]):  # what externals are mailed
            for part in msg.walk():
                if not part.is_multipart():
                    assert not any(data in part.get_payload(decode=True) for data in INTERNAL_BYTES)
            assert "costs-internal" not in str(msg) and "devis-interne" not in str(msg)


@pytest.mark.parametrize("target", ["../../beta/files/beta-costs-internal.csv", "../../beta/index.md",
                                    "../../beta/posts/2026-01-08-study.md"])
def test_a_link_to_another_project_shares_nothing_and_looks_the_same_as_a_broken_one(tmp_path, target) -> None:
    """A shared post of alpha linking beta's file or pages: nothing of beta enters alpha's
    scope, and the page is the same byte for byte as with a link to nothing at all, so it
    tells alpha's client nothing about beta."""
    pages = {}
    for name, link in (("real", target), ("none", "../../gamma/files/nothing-here.csv")):
        root = tmp_path / name
        shutil.copytree(SITES / "zones", root)
        passwords = give_passwords(root, PEOPLE)
        if pages:  # the same output names in both sites
            shutil.copy(tmp_path / "real/.extranet/url.key", root / ".extranet/url.key")
        write(root / "content/projects/alpha/posts/2026-01-07-links.md",
              f"---\ntitle: Links\nauthor: sara\nvisibility: mixed\n---\nSee [the other one]({link}).\n")
        result = cli(root, "build")
        assert result.returncode == 0, result.stderr.decode()
        assert b"warning:" in result.stderr and b"2026-01-07-links.md" in result.stderr
        strict = cli(root, "build", "--strict")
        assert strict.returncode != 0 and b"warning" in strict.stderr
        assert_nothing_internal(root, passwords, "INTERNAL-BETA")
        carl = readable(root / "public/mixed", "carl", passwords["carl"])
        [page] = [d for d in carl.values() if b'class="link-removed"' in d]
        pages[name] = page
    assert pages["real"] == pages["none"]
    assert b'<span class="link-removed">the other one</span>' in pages["real"]


def test_a_site_page_linking_a_project_file_shares_nothing(site) -> None:
    root, passwords = site
    write(root / "content/pages/welcome.md", "---\ntitle: Welcome\nvisibility: mixed\n---\n"
          "Read [the costs](../projects/alpha/files/costs-internal.csv) and [the plan](../projects/alpha/files/plan.txt).\n")
    assert cli(root, "build").returncode == 0
    assert_nothing_internal(root, passwords)
    bob = readable(root / "public/mixed", "bob", passwords["bob"])
    assert not any(b"SHARED-PLAN-BYTES" in d for d in bob.values())  # alpha's plan is not bob's


# -- 2. quotes carry internal text back ---------------------------------------------------------

def test_a_staff_reply_quoting_an_internal_passage_is_held(site) -> None:
    """Staff answer the notification of a shared post below its internal passage (as quoted in
    their notification): the reply is held for moderation, internal only, with the reason."""
    root, passwords = site
    ingest(root, "sam@own.example", "Kickoff meeting",
           "About this:\n\nKickoff secret: the client's budget is tight, keep the second option in reserve.\n\n"
           "I agree, let us keep it.")
    [post] = email_posts(root)
    assert "visibility: mixed" in post.read_text()
    assert_nothing_internal(root, passwords, "I agree, let us keep it")
    waiting = cli(root, "moderate", "list")
    assert post.stem in waiting.stdout.decode() and "internal" in waiting.stdout.decode()
    staff = readable(root / "public/internal", "sara", passwords["sara"])
    assert any(b"I agree, let us keep it" in d for d in staff.values())
    assert cli(root, "notify").returncode == 0
    for eml in (root / ".extranet/outbox").glob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        if "carl@" in str(msg["To"]):
            assert "I agree, let us keep it" not in eml.read_text(errors="replace")


def test_a_client_reply_quoting_an_internal_file_name_is_held(site) -> None:
    root, passwords = site
    ingest(root, "carl@acme.example", "Kickoff meeting", "Somebody sent us costs-internal.csv by mistake.")
    assert_nothing_internal(root, passwords, "sent us costs-internal")


# -- 3. container mistakes fail closed ----------------------------------------------------------

@pytest.mark.parametrize("block", [
    "::: Internal\nFENCE-TOKEN hidden\n:::",
    "::: interne\nFENCE-TOKEN hidden\n:::",
    "::: INTERNE\nFENCE-TOKEN hidden\n:::",
    ":::: internal\nFENCE-TOKEN hidden\n::::",
    ":::internal\nFENCE-TOKEN hidden\n:::",
    "- an item\n  ::: internal\n  FENCE-TOKEN hidden\n  :::\n- another item",
    "1. first\n\n    ::: internal\n    FENCE-TOKEN hidden\n    :::",
    "> quoted\n> ::: internal\n> FENCE-TOKEN hidden\n> :::",
    "\t::: internal\nFENCE-TOKEN hidden\n\t:::",
    "```\n::: internal\nFENCE-TOKEN hidden\n:::\n```",
])
def test_every_way_of_writing_an_internal_block_keeps_it_internal(tmp_path: Path, block: str) -> None:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    passwords = give_passwords(root, PEOPLE)
    write(root / "content/projects/alpha/posts/2026-01-07-fence.md",
          f"---\ntitle: Fence\nauthor: sara\nvisibility: mixed\n---\nBefore.\n\n{block}\n\nAfter.\n")
    result = cli(root, "build", "--strict")
    assert result.returncode == 0, result.stderr.decode()
    assert_nothing_internal(root, passwords, "FENCE-TOKEN")
    staff = b"".join(readable(root / "public/internal", "sara", passwords["sara"]).values())
    assert b"FENCE-TOKEN hidden" in staff and b"After." in staff


@pytest.mark.parametrize("block, line", [
    ("::: intern\nFENCE-TOKEN\n:::", 8), ("::: warning\nFENCE-TOKEN\n:::", 8), ("::: internal note\nFENCE-TOKEN\n:::", 8),
    ("FENCE-TOKEN\n:::", 9), ("::: internal\nFENCE-TOKEN", 8), ("::: internal\n::: internal\nFENCE-TOKEN\n:::", 9),
    ("  ::: {.internal}\nFENCE-TOKEN\n  :::", 8),
])
def test_an_unknown_or_broken_container_is_an_error_naming_the_line(tmp_path: Path, block: str, line: int) -> None:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    give_passwords(root, PEOPLE)
    assert cli(root, "build").returncode == 0
    before = read_tree(root / "public")
    write(root / "content/projects/alpha/posts/2026-01-07-fence.md",
          f"---\ntitle: Fence\nauthor: sara\nvisibility: mixed\n---\nBefore.\n\n{block}\n")
    result = cli(root, "build")
    assert result.returncode != 0
    assert f"2026-01-07-fence.md:{line}:".encode() in result.stderr, result.stderr.decode()
    assert read_tree(root / "public") == before  # nothing written


# -- 4. no external can stop or slow publishing -------------------------------------------------

def test_an_email_post_that_cannot_be_rendered_is_held_and_the_rest_is_built(site) -> None:
    """An email post with an unclosed container (written before ingest escaped fences, or by
    hand) is set aside, internal only, with its error; everything else is published."""
    root, passwords = site
    write(root / "content/projects/alpha/posts/2026-01-09-re-kickoff-abcd1234.md",
          "---\ntitle: 'Re: Kickoff'\nauthor: carl\nvisibility: mixed\nin_reply_to: 2026-01-05-kickoff\n"
          "source: email\nmessage_id: <x@acme.example>\n---\nHello\n\n::: internal\nnever closed\n")
    write(root / "content/projects/alpha/posts/2026-01-09-news.md",
          "---\ntitle: Fresh news\nauthor: sara\nvisibility: mixed\n---\nFRESH-NEWS-TOKEN\n")
    result = cli(root, "build")
    assert result.returncode == 0, result.stderr.decode()
    assert b"held for moderation" in result.stderr and b"never closed" in result.stderr
    carl = b"".join(readable(root / "public/mixed", "carl", passwords["carl"]).values())
    assert b"FRESH-NEWS-TOKEN" in carl and b"never closed" not in carl
    staff = b"".join(readable(root / "public/internal", "sara", passwords["sara"]).values())
    assert b"never closed" in staff
    assert "re-kickoff-abcd1234" in cli(root, "moderate", "list").stdout.decode()


@pytest.mark.parametrize("text", [
    "Before\n\n::: internal\nFENCE-IN-MAIL never closed",
    "See [x](extranet-link:99) and <a href=\"extranet-link:0\">y</a> {: .evil #id}",
    "::: Internal\nA fence in a reply\n:::\n\n<script>alert(1)</script><img src=x onerror=alert(1)>",
])
def test_hostile_reply_text_is_posted_as_text_and_breaks_nothing(site, text: str) -> None:
    root, passwords = site
    ingest(root, "carl@acme.example", "Kickoff meeting", text)
    [post] = email_posts(root)
    assert "pending" not in post.read_text()
    assert cli(root, "build", "--strict").returncode == 0
    carl = b"".join(d for p, d in readable(root / "public/mixed", "carl", passwords["carl"]).items()
                    if not p.startswith("static/"))
    assert b"<script>alert" not in carl and not re.search(rb"<img[^>]*onerror", carl)
    assert not re.search(rb'<(a|img)\b[^>]*(href|src)="extranet-link', carl)
    first = text.split("\n")[0].split("[")[0].split("<")[0].strip()
    assert first.encode() in carl  # the words are shown, as text
    assert_nothing_internal(root, passwords)


def test_a_huge_pathological_reply_is_rendered_in_linear_time(site) -> None:
    """60 KB of unclosed links took 35 s to render: now a few hundred milliseconds."""
    root, passwords = site
    ingest(root, "carl@acme.example", "Kickoff meeting", "[a](b " * 10_000)
    started = time.perf_counter()
    result = cli(root, "build", "--no-cache")
    assert result.returncode == 0, result.stderr.decode()
    assert time.perf_counter() - started < 15


# -- 8. control characters in titles ----------------------------------------------------------

@pytest.mark.parametrize("field, value", [("title", '"Hello\\r\\nBcc: all@evil.example"'), ("title", '"Tab\\tin title"'),
                                          ("tags", '["ok", "bad\\ntag"]')])
def test_control_characters_in_a_title_are_an_error_naming_the_line(tmp_path: Path, field: str, value: str) -> None:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    extra = "title: Fine\n" if field != "title" else ""
    write(root / "content/projects/alpha/posts/2026-01-07-bad.md",
          f"---\n{extra}author: sara\n{field}: {value}\nvisibility: mixed\n---\nText\n")
    result = cli(root, "build")
    line = 4 if extra else 3
    assert result.returncode != 0 and f"2026-01-07-bad.md:{line}:".encode() in result.stderr, result.stderr.decode()
    assert b"control characters" in result.stderr
    notify = cli(root, "notify")
    assert notify.returncode != 0 and b"2026-01-07-bad.md" in notify.stderr and b"Traceback" not in notify.stderr


def test_a_line_break_in_a_person_name_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    path = root / "people.toml"
    path.write_text(path.read_text().replace('name = "Carl Client"', 'name = "Carl\\nBcc: x@evil.example"'))
    result = cli(root, "build")
    assert result.returncode != 0 and b"people.toml:" in result.stderr and b"control characters" in result.stderr
