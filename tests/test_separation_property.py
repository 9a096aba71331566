"""Property: for random sites, no internal text and no internal file can be decrypted by any
external person — judged on the encrypted output as served, decrypted with that person's own
keyring exactly as the browser does, file names included.

The generator decides what is internal (the oracle is independent of zones.py and of the
audit): every piece carries a unique token, internal passages are written with every known
way of fencing a block, posts link their own project's files, other projects' files and
pages, and email posts link files, carry attachments and quote internal passages of the site.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import everything_known, give_passwords
from extranet.build import build
from helpers import NOW, write

_counter = itertools.count()
FENCES = [
    "::: internal\n{t}\n:::", "::: Internal\n{t}\n:::", ":::interne\n{t}\n:::", ":::: INTERNAL\n{t}\n::::",
    "- item\n  ::: internal\n  {t}\n  :::", "> quote\n> ::: internal\n> {t}\n> :::",
]


def token(kind: str) -> str:
    return f"zq{kind}{next(_counter):05d}x"


def passage(kind: str) -> str:
    """An internal passage long enough to be recognised when quoted."""
    return f"The internal passage {token(kind)} says the margin on the deck is what we agreed"


post_st = st.fixed_dictionaries({
    "mixed": st.booleans(), "draft": st.booleans(), "future": st.booleans(), "pending": st.booleans(),
    "email": st.booleans(), "fence": st.none() | st.sampled_from(range(len(FENCES))),
    "links": st.lists(st.integers(0, 7), max_size=2),  # own posts
    "files": st.lists(st.integers(0, 2), max_size=2),  # own files
    "cross": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()), max_size=2),
    "quote": st.booleans(), "attach": st.booleans(),
})
project_st = st.fixed_dictionaries({
    "external": st.sampled_from(["org", "member", "expired", "none"]), "body_mixed": st.booleans(),
    "fence": st.none() | st.sampled_from(range(len(FENCES))), "posts": st.lists(post_st, max_size=5),
    "nfiles": st.integers(0, 3),
})
site_st = st.fixed_dictionaries({"projects": st.lists(project_st, min_size=1, max_size=3),
                                 "pages": st.lists(st.booleans(), max_size=2)})
PEOPLE = """
[orgs.own]
name = "Own"
[orgs.cli]
name = "Client Org"
kind = "client"
[people.staff]
name = "Staff Person"
email = "staff@own.example"
org = "own"
[people.ext]
name = "External Person"
email = "ext@cli.example"
org = "cli"
[people.mem]
name = "Member Person"
email = "mem@other.example"
org = "other"
[people.old]
name = "Old Person"
email = "old@cli.example"
org = "cli"
expires = 2020-01-01
[orgs.other]
name = "Other Org"
kind = "supplier"
"""


def make_site(root: Path, spec: dict) -> tuple[set[str], set[str]]:
    """Write a site from `spec`; return (internal tokens, tokens of staff posts that must be shared)."""
    secret: set[str] = set()
    shared: set[str] = set()
    internal_passages: list[str] = []
    write(root / "extranet.toml", 'title = "Prop"\nlanguage = "en"\norg = "own"\n')
    write(root / "people.toml", PEOPLE)
    for mixed in spec["pages"]:
        t, text = token("pt"), passage("pb")
        if not mixed:
            secret.add(t)
        if not mixed:
            secret.add(text.split()[3])
            internal_passages.append(text)
        write(root / f"content/pages/{token('pg')}.md",
              f"---\ntitle: {t}\nvisibility: {'mixed' if mixed else 'internal'}\n---\n{text}\n")
    ids = [f"p{token('pid')}" for _ in spec["projects"]]
    files = {pid: [f"f{token('file')}.txt" for _ in range(p["nfiles"])] for pid, p in zip(ids, spec["projects"])}
    for pid, p in zip(ids, spec["projects"]):
        in_mixed = p["external"] in ("org", "member")
        ptitle = token("ptitle")
        if not in_mixed:
            secret.add(ptitle)
        front = f"title: {ptitle}\nvisibility: {'mixed' if p['body_mixed'] else 'internal'}\n"
        front += {"org": "orgs: [cli]\n", "member": "members: [mem]\n", "expired": "members: [old]\n", "none": ""}[
            p["external"]]
        body = passage("pbody")
        if not (in_mixed and p["body_mixed"]):
            secret.add(body.split()[3])
            internal_passages.append(body)
        if p["fence"] is not None:
            block = passage("pblk")
            secret.add(block.split()[3])
            internal_passages.append(block)
            body += "\n\n" + FENCES[p["fence"]].format(t=block)
        write(root / f"content/projects/{pid}/index.md", f"---\n{front}---\n{body}\n")
        post_ids = []
        for j, post in enumerate(p["posts"]):
            day, month = (20 + j, 12) if post["future"] else (1 + j, 3)
            post_ids.append(f"2026-{month:02d}-{day:02d}-{token('slug')}")
        shared_files: set[str] = set()
        for j, post in enumerate(p["posts"]):
            t, own = token("title"), passage("body")
            visible = (in_mixed and post["mixed"] and not post["draft"] and not post["future"]
                       and not post["pending"])
            front = (f"title: {t}\nauthor: {'ext' if post['email'] else 'staff'}\n"
                     f"visibility: {'mixed' if post['mixed'] else 'internal'}\ndraft: {str(post['draft']).lower()}\n"
                     f"pending: {str(post['pending']).lower()}\n")
            text = own + "\n"
            if post["email"]:
                front += f"source: email\nmessage_id: <{token('mid')}@x.example>\n"
            for link in post["links"]:
                if link < len(post_ids):
                    text += f"\nSee [{token('lt')}]({post_ids[link]}.md).\n"
            for f in post["files"]:
                if f < len(files[pid]):
                    text += f"\nFile [{token('ft')}](../files/{files[pid][f]}).\n"
                    if visible and not post["email"]:
                        shared_files.add(files[pid][f])
            for other, f, page in post["cross"]:
                if other < len(ids) and ids[other] != pid:
                    target = f"../../{ids[other]}/files/{files[ids[other]][f]}" if not page and f < len(
                        files[ids[other]]) else f"../../{ids[other]}/index.md"
                    text += f"\nOther [{token('xt')}]({target}).\n"
            if post["quote"] and post["email"] and internal_passages:
                text += f"\nAs you wrote: {internal_passages[len(post_ids) % len(internal_passages)]}.\n"
            if post["fence"] is not None:
                block = passage("blk")
                secret.add(block.split()[3])
                internal_passages.append(block)
                text += "\n" + FENCES[post["fence"]].format(t=block) + "\n"
            if post["attach"] and post["email"]:
                name = f"a{token('att')}.txt"
                write(root / f"content/projects/{pid}/files/{post_ids[j]}/{name}", f"{token('attc')}\n")
                text += f"\n- [{name}](../files/{post_ids[j]}/{name})\n"
                if not visible or not in_mixed:
                    secret.add(name.split(".")[0])
            held_for_quote = post["email"] and post["quote"] and internal_passages
            if not visible:
                secret.update({t, own.split()[3]})
            elif not post["email"]:
                shared.add(t)
            elif not held_for_quote:
                pass  # an email post: shared unless it quotes something internal (not the oracle's business)
            write(root / f"content/projects/{pid}/posts/{post_ids[j]}.md", f"---\n{front}---\n{text}")
        for name in files[pid]:
            content = token("fc")
            write(root / f"content/projects/{pid}/files/{name}", f"{content}\n")
            if name not in shared_files or not in_mixed:
                secret.update({name.split(".")[0], content})
    return secret, shared


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=site_st)
def test_no_external_person_can_decrypt_anything_internal(spec: dict) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        secret, shared = make_site(tmp, spec)
        passwords = give_passwords(tmp, {"staff": "staff@own.example", "ext": "ext@cli.example",
                                         "mem": "mem@other.example", "old": "old@cli.example"})
        build(tmp, now=NOW, cache=False, jobs=1)
        for person in ("ext", "mem", "old"):
            known = everything_known(tmp / "public" / "mixed", person, passwords[person]).decode("utf-8", "replace")
            leaked = sorted(t for t in secret if t in known)
            assert not leaked, f"{person} can read internal tokens: {leaked}"
        for person, email in (("ext", "ext@cli.example"), ("mem", "mem@other.example")):
            # (by the email as user name too: the same keys)
            assert everything_known(tmp / "public" / "mixed", email, passwords[person]) == everything_known(
                tmp / "public" / "mixed", person, passwords[person])
        # not vacuous: what is shared with the client organisation does reach its person
        everyone = "".join(everything_known(tmp / "public" / "mixed", p, passwords[p]).decode("utf-8", "replace")
                           for p in ("ext", "mem"))
        assert [t for t in shared if t not in everyone] == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
