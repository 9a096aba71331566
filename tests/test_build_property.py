"""Property: for random sites, nothing internal ever appears in any file of the mixed output.

The generator knows which pieces are internal (it decides them), so the oracle here is
independent of zones.py. Every piece of text carries a unique token; the tokens of internal
pieces (titles, bodies, internal passages, post slugs, file names, project ids and titles of
projects without external participants, internal pages) must appear in no byte and no path
of the mixed zone. The check runs on the rendered pages, before any encryption.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extranet.build import build

from helpers import NOW, write

_counter = itertools.count()


def token(kind: str) -> str:
    """A unique, searchable token."""
    return f"zq{kind}{next(_counter):05d}x"


post_st = st.fixed_dictionaries({
    "mixed": st.booleans(),
    "draft": st.booleans(),
    "future": st.booleans(),
    "pending": st.booleans(),
    "internal_block": st.booleans(),
    "reply_to": st.integers(min_value=-1, max_value=5),
    "links": st.lists(st.integers(min_value=0, max_value=7), max_size=3),
    "files": st.lists(st.integers(min_value=0, max_value=2), max_size=2),
    "tag": st.booleans(),
})
project_st = st.fixed_dictionaries({
    "external": st.sampled_from(["org", "member", "expired", "none"]),
    "body_mixed": st.booleans(),
    "body_internal_block": st.booleans(),
    "posts": st.lists(post_st, max_size=6),
    "nfiles": st.integers(min_value=0, max_value=3),
})
site_st = st.fixed_dictionaries({
    "projects": st.lists(project_st, min_size=1, max_size=3),
    "pages": st.lists(st.tuples(st.booleans(), st.booleans()), max_size=3),
})


def make_site(root: Path, spec: dict) -> tuple[set[str], set[str]]:
    """Write a site from `spec`; return (internal tokens, shared tokens)."""
    secret: set[str] = set()
    shared: set[str] = set()
    write(root / "extranet.toml", 'title = "Prop"\nlanguage = "en"\norg = "own"\n[protect]\nencrypt = false\n')
    write(root / "people.toml", """
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
[people.old]
name = "Old Person"
email = "old@cli.example"
org = "cli"
expires = 2020-01-01
""")
    for i, (mixed, block) in enumerate(spec["pages"]):
        t, b, ib = token("pt"), token("pb"), token("pi")
        name = f"page-{token('ps')}"
        (shared if mixed else secret).update({t, b, name})
        body = f"{b}\n"
        if block:
            body += f"\n::: internal\n{ib}\n:::\n"
            secret.add(ib)
        write(root / f"content/pages/{name}.md",
              f"---\ntitle: {t}\nvisibility: {'mixed' if mixed else 'internal'}\n---\n{body}")
    for p in spec["projects"]:
        pid = f"p{token('pid')}"
        title, summary, body, ib = token("ptitle"), token("psum"), token("pbody"), token("pblk")
        ext = p["external"]
        in_mixed = ext in ("org", "member")
        front = f"title: {title}\nsummary: {summary}\nvisibility: {'mixed' if p['body_mixed'] else 'internal'}\n"
        if ext == "org":
            front += "orgs: [cli]\n"
        elif ext == "member":
            front += "members: [ext]\n"
        elif ext == "expired":
            front += "members: [old]\n"
        (shared if in_mixed else secret).update({pid, title, summary})
        (shared if in_mixed and p["body_mixed"] else secret).add(body)
        text = f"{body}\n"
        if p["body_internal_block"]:
            text += f"\n::: internal\n{ib}\n:::\n"
            secret.add(ib)
        write(root / f"content/projects/{pid}/index.md", f"---\n{front}---\n{text}")
        files = []
        for k in range(p["nfiles"]):
            name = f"f{token('file')}.txt"
            write(root / f"content/projects/{pid}/files/{name}", f"{token('fc')}\n")
            files.append(name)
        file_shared = set()
        ids = []
        posts = p["posts"]
        for j, post in enumerate(posts):
            day = 20 + j if post["future"] else 1 + j
            month = 12 if post["future"] else 3
            ids.append(f"2026-{month:02d}-{day:02d}-{token('slug')}")
        for j, post in enumerate(posts):
            t, b, ib = token("title"), token("body"), token("blk")
            visible = in_mixed and post["mixed"] and not post["draft"] and not post["future"] and not post["pending"]
            (shared if visible else secret).update({t, b, ids[j]})
            front = f"title: {t}\nauthor: staff\nvisibility: {'mixed' if post['mixed'] else 'internal'}\n"
            front += f"draft: {str(post['draft']).lower()}\npending: {str(post['pending']).lower()}\n"
            if post["tag"]:
                tag = token("tag")
                front += f"tags: [{tag}]\n"
                (shared if visible else secret).add(tag)
            if 0 <= post["reply_to"] < len(posts) and post["reply_to"] != j:
                front += f"in_reply_to: {ids[post['reply_to']]}\n"
            text = f"{b}\n"
            for link in post["links"]:
                if link < len(ids):
                    text += f"\nSee [{token('lt')}]({ids[link]}.md).\n"
            for f in post["files"]:
                if f < len(files):
                    text += f"\nFile [{token('ft')}](../files/{files[f]}).\n"
                    if visible:
                        file_shared.add(files[f])
            if post["internal_block"]:
                text += f"\n::: internal\n{ib}\n:::\n"
                secret.add(ib)
                if files:
                    text += f"\n::: internal\nAlso [x](../files/{files[0]})\n:::\n"
            write(root / f"content/projects/{pid}/posts/{ids[j]}.md", f"---\n{front}---\n{text}")
        for name in files:
            (shared if name in file_shared else secret).add(name)
    # a token that is shared somewhere is not a secret (e.g. link text inside a shared post)
    return secret - shared, shared


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=site_st)
def test_no_internal_token_reaches_the_mixed_output(spec: dict) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        secret, shared = make_site(tmp, spec)
        result = build(tmp, now=NOW, encrypt=False, write=False)
        mixed = result.rendered["mixed"].files
        blob = "\n".join(list(mixed) + [d.decode("utf-8", "replace") for d in mixed.values()])
        leaked = sorted(t for t in secret if t in blob)
        assert not leaked, f"internal tokens in the mixed output: {leaked}"
        # sanity: the generator's shared tokens do reach the mixed site (the oracle is not vacuous)
        for t in shared:
            if t.startswith(("zqtitle", "zqptitle")):
                assert t in blob, f"shared {t} missing from the mixed output"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
