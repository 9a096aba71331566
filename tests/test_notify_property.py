"""Property: for any people, organisations, projects and posts, no internal post and no
internal passage of a mixed post is ever addressed to an external person."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings as hsettings, strategies as st

from notify_support import NOW, everything

from extranet.config import Mail, Org, People, Person, Settings
from extranet.content.markup import Renderer
from extranet.content.model import Attachment, Post, Project, Site
from extranet.mail.outbound.post_mail import MailTemplates, PostMail
from extranet.mail.outbound.notifications import plan
from extranet.site.urls import Urls
from extranet.zones import MIXED, ZONES, Rules

FILES = ("f0.txt", "f1.txt", "f2.txt")
EXT_ORGS = ("o1", "o2", "o3")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prop")
    for p in ("p0", "p1", "p2"):
        for name in FILES:
            (root / "content/projects" / p / "files").mkdir(parents=True, exist_ok=True)
            (root / "content/projects" / p / "files" / name).write_text(f"content of {p}/{name}\n")
    return root


people_st = st.lists(
    st.tuples(st.sampled_from(("own",) + EXT_ORGS + EXT_ORGS),
              st.sampled_from((None, None, dt.date(2020, 1, 1), dt.date(2030, 1, 1))),
              st.sampled_from(("immediate", "immediate", "digest", "none"))),
    min_size=1, max_size=7)
segment_st = st.tuples(st.booleans(), st.sets(st.sampled_from(FILES), max_size=2))
post_st = st.tuples(
    st.sampled_from(("internal", "mixed", "mixed")),  # visibility
    st.sampled_from((False, False, False, True)), st.sampled_from((False, False, False, True)),  # draft, pending
    st.sampled_from((-3, -2, -1, 0, 0, 2)),  # days from now
    st.integers(-1, 6),  # author index (-1: none)
    st.lists(segment_st, min_size=1, max_size=3),
    st.booleans())  # in reply to the previous post
project_st = st.tuples(st.sets(st.sampled_from(EXT_ORGS), min_size=1, max_size=2),
                       st.sets(st.integers(0, 6), max_size=2), st.lists(post_st, min_size=1, max_size=4))


def make_site(root: Path, people_spec, projects_spec) -> Site:
    settings = Settings(root, "Prop", "en", "own", "default", {"internal": "https://int.example/",
                        "mixed": "https://mix.example/"}, False, 30, 600_000, False, False, False,
                        Mail("reply.example", "x@own.example", 10_000, 1, "", None, None, None))
    orgs = {o: Org(o, o.upper(), None if o == "own" else "client") for o in ("own",) + EXT_ORGS}
    people = {f"u{i}": Person(f"u{i}", f"User {i}", f"u{i}@{org}.example", org, exp, notify)
              for i, (org, exp, notify) in enumerate(people_spec)}
    renderer = Renderer()
    projects = []
    canary = 0
    for pi, (porgs, members, posts_spec) in enumerate(projects_spec):
        pid = f"p{pi}"
        posts = []
        for n, (vis, draft, pending, days, author, segments, reply) in enumerate(posts_spec):
            canary += 1
            pid_post = f"{(NOW + dt.timedelta(days=days)):%Y-%m-%d}-n{n}"
            text = []
            for internal, files in segments:
                links = " ".join(f"[{f}](../files/{f})" for f in sorted(files))
                if internal:
                    text.append(f"::: internal\nINTSECRET{canary} {links}\n:::")
                else:
                    text.append(f"PUBLIC{canary} {links}")
            key = f"projects/{pid}/posts/{pid_post}.md"
            title = f"Shared {canary}" if vis == MIXED else f"INTPOST{canary}"
            body = renderer.render(key, "\n\n".join(text) + "\n")
            posts.append(Post(key, pid, pid_post, title, NOW + dt.timedelta(days=days),
                              f"u{author}" if f"u{author}" in people else None, vis,
                              posts[-1].id if reply and posts else None, (), draft, pending, None, "file",
                              None, body))
        files = tuple(Attachment(f"projects/{pid}/files/{f}", pid, f, 20, "0") for f in FILES)
        projects.append(Project(f"projects/{pid}/index.md", pid, f"Project {pi}", "", "active",
                                tuple(sorted(porgs)), tuple(f"u{m}" for m in sorted(members) if f"u{m}" in people),
                                "none", renderer.render(f"projects/{pid}/index.md", "x\n"),
                                tuple(sorted(posts, key=lambda p: (p.date, p.id))), files, "mixed"))
    site = Site(settings, People(orgs, people), (), tuple(projects))
    for project in projects:
        site.by_key[project.key] = project
        for p in project.posts:
            site.by_key[p.key] = p
        for a in project.files:
            site.by_key[a.key] = a
    return site


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people_st, st.lists(project_st, min_size=1, max_size=3))
def test_no_internal_content_is_ever_mailed_to_an_external_person(root, people_spec, projects_spec):
    site = make_site(root, people_spec, projects_spec)
    rules = Rules(site, NOW)
    composer = PostMail(site, rules, {z: Urls(None) for z in ZONES}, {0: b"k" * 32}, NOW, MailTemplates(root, "default"))
    _, deliveries = plan(rules, set())
    messages = []
    for d in deliveries:
        if d.person.notify == "immediate":
            messages.append((d.person, [d.post], composer.post_message(d.post, d.person, d.zone)))
    by_person: dict[str, list] = {}
    for d in deliveries:
        if d.person.notify == "digest":
            by_person.setdefault(d.person.id, []).append(d)
    for pid, ds in by_person.items():
        person = site.people.people[pid]
        messages.append((person, [d.post for d in ds],
                         composer.digest_message(person, NOW.date(), [(d.post, d.zone) for d in ds])))
    for person, posts, out in messages:
        assert person.active(NOW.date()) and person.notify != "none"
        assert all(p.author != person.id and not p.draft and not p.pending and p.date <= NOW for p in posts)
        if person.org == "own":
            continue
        msg = email.message_from_bytes(out.raw, policy=policy.default)
        text = everything(msg)
        for post in posts:
            project = next(p for p in site.projects if p.id == post.project)
            assert post.visibility == MIXED
            assert person.org in project.orgs or person.id in project.members
        assert "INTSECRET" not in text and "INTPOST" not in text
        assert "int.example" not in text and "note+" not in text
        shared_files = {(post.project, f) for post in posts
                        for internal, files in _segments(post) if not internal for f in files}
        for project, name in re.findall(r"https://mix\.example/projects/(p\d)/files/(f\d\.txt)", text):
            assert (project, name) in shared_files
        event(f"external message, {len(list(msg.iter_attachments()))} attachment(s)")
        for part in msg.iter_attachments():
            project = part.get_content().split("/")[0].removeprefix("content of ")
            assert (project, part.get_filename()) in shared_files


def _segments(post: Post):
    """(internal, linked file names) of each passage of a post."""
    out = []
    for seg in post.body.segments:
        names = {link.target.rsplit("/", 1)[1] for i, link in enumerate(post.body.links)
                 if link.target and f'extranet-link:{i}"' in seg.html}
        out.append((seg.internal, names))
    return out
