"""Property: any sequence of edits, built incrementally after each one, ends in exactly the
output a cold build of the final sources gives — byte for byte without encryption, page for
page once decrypted with encryption (nonces are random), with the same warnings and the same
errors on the way.

Edits: posts added, changed, deleted and moved (within and across projects), attachments
added and removed, people added, renamed, expired and removed, projects' participants and
visibility changed, settings changed, theme templates overridden and restored.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from extranet.build import build
from extranet.errors import ExtranetError
from extranet.protect import Secrets, decrypt_zone, set_password
from extranet.render.theme import PACKAGE_THEMES
from helpers import NOW, copy_site, read_tree, write

POSTS = "content/projects/{p}/posts"


def _posts(root: Path, project: str) -> list[Path]:
    return sorted((root / POSTS.format(p=project)).glob("*.md"))


def _replace(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def add_post(root: Path, n: int) -> None:
    project = ("alpha", "beta")[n % 2]
    vis = "mixed" if n % 3 else "internal"
    parent = _posts(root, project)
    reply = f"in_reply_to: {parent[n % len(parent)].stem}\n" if parent and n % 4 == 0 else ""
    source = "source: email\n" if n % 5 == 0 else ""
    body = f"Post number {n} about the deck and the staircase, written to be read.\n\n"
    if n % 2:
        body += f"::: internal\nInternal remark {n}: the margin of this lot stays between us.\n:::\n"
    if n % 3 == 1:
        body += "\nSee [the plan](../files/plan.txt) and [costs](../files/costs.txt).\n"
    write(root / POSTS.format(p=project) / f"2026-01-{10 + n % 18:02d}-added-{n}.md",
          f"---\ntitle: Added post {n}\nauthor: alice\nvisibility: {vis}\n{reply}{source}tags: [t{n % 3}]\n---\n{body}")


def change_post(root: Path, n: int) -> None:
    posts = _posts(root, ("alpha", "beta")[n % 2])
    if not posts:
        return
    post = posts[n % len(posts)]
    if n % 3 == 0:
        text = post.read_text(encoding="utf-8")
        _replace(post, "visibility: mixed", "visibility: internal") if "visibility: mixed" in text else \
            _replace(post, "---\ntitle:", "---\nvisibility: mixed\ntitle:")
    elif n % 3 == 1:
        _replace(post, "title: ", f"title: Changed {n} ")
    else:
        post.write_text(post.read_text(encoding="utf-8") + f"\nOne more line {n}.\n", encoding="utf-8")


def delete_post(root: Path, n: int) -> None:
    posts = _posts(root, ("alpha", "beta")[n % 2])
    if posts:
        posts[n % len(posts)].unlink()


def move_post(root: Path, n: int) -> None:
    source = ("alpha", "beta")[n % 2]
    posts = _posts(root, source)
    if not posts:
        return
    post = posts[n % len(posts)]
    target = ("alpha", "beta")[(n // 2) % 2]
    post.rename(root / POSTS.format(p=target) / f"2026-01-{10 + n % 18:02d}-moved-{n}.md")


def attachment(root: Path, n: int) -> None:
    folder = root / "content/projects/alpha/files"
    name = folder / f"extra-{n % 3}.txt"
    if name.exists():
        name.unlink()
    else:
        write(name, f"attachment {n}\n")


def people(root: Path, n: int) -> None:
    path = root / "people.toml"
    text = path.read_text(encoding="utf-8")
    if n % 4 == 0 and "[people.dora]" not in text:
        path.write_text(text + '[people.dora]\nname = "Dora Client"\nemail = "dora@acme.example"\norg = "acme"\n',
                        encoding="utf-8")
    elif n % 4 == 1:
        _replace(path, 'name = "Carl Client"', f'name = "Carl Client {n}"')
    elif n % 4 == 2 and "expires" not in text.split("[people.carl]")[1].split("[people")[0]:
        _replace(path, 'email = "carl@acme.example"', 'email = "carl@acme.example"\nexpires = 2026-03-01')
    elif "[people.dora]" in text:
        path.write_text(text[:text.index("[people.dora]")], encoding="utf-8")


def project(root: Path, n: int) -> None:
    index = root / "content/projects/beta/index.md"
    text = index.read_text(encoding="utf-8")
    if n % 2 == 0:
        _replace(index, "---\n", "---\norgs: [acme]\n") if "orgs:" not in text else _replace(index, "orgs: [acme]\n", "")
    else:
        _replace(index, "visibility: mixed\n", "") if "visibility: mixed" in text else \
            _replace(index, "---\n", "---\nvisibility: mixed\n")


def site_settings(root: Path, n: int) -> None:
    path = root / "extranet.toml"
    if n % 2:
        _replace(path, 'language = "en"', 'language = "fr"') if 'language = "en"' in path.read_text() else \
            _replace(path, 'language = "fr"', 'language = "en"')
    else:
        _replace(path, 'title = "', f'title = "{n} ')


def theme(root: Path, n: int) -> None:
    override = root / "themes/default/templates/post.html"
    if override.exists():
        override.unlink()
    else:
        original = (PACKAGE_THEMES / "default" / "templates" / "post.html").read_text(encoding="utf-8")
        write(override, original.replace('<article class="post">', f'<article class="post edit-{n}">'))


EDITS = [add_post, change_post, delete_post, move_post, attachment, people, project, site_settings, theme]


def _outcome(root: Path, out: Path, encrypt: bool, **kw) -> tuple[str, list[str]]:
    try:
        result = build(root, now=NOW, encrypt=encrypt, out=out, **kw)
    except ExtranetError as e:
        return f"error: {e}", []
    return "ok", result.warnings


def _output(out: Path, root: Path, encrypt: bool) -> dict:
    if not encrypt:
        return {zone: read_tree(out / zone) for zone in ("internal", "mixed")}
    secrets = Secrets.load(root / ".extranet")
    return {zone: decrypt_zone(read_tree(out / zone), secrets, zone) for zone in ("internal", "mixed")}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 50)), min_size=1, max_size=6), st.booleans())
def test_incremental_builds_after_random_edits_equal_a_cold_build(edits, encrypt: bool) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        root = copy_site("small", tmp)
        secrets = Secrets.load(root / ".extranet", create=True)
        for pid, email in (("alice", "alice@small.example"), ("carl", "carl@acme.example"),
                           ("dora", "dora@acme.example")):
            set_password(secrets, pid, email, f"pw-{pid}", iterations=1000, bcrypt_cost=4)
        secrets.save()
        out = root / "public"
        _outcome(root, out, encrypt)
        for edit, n in edits:
            edit(root, n)
            incremental = _outcome(root, out, encrypt)
            cold_out = tmp / "cold"
            shutil.rmtree(cold_out, ignore_errors=True)
            cold = _outcome(root, cold_out, encrypt, cache=False)
            assert incremental == cold, (edit.__name__, n)
            if cold[0] == "ok":
                assert _output(out, root, encrypt) == _output(cold_out, root, encrypt), (edit.__name__, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
