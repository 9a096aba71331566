"""The gateway and git, the gateway and deploys: what staff and clients would notice.

Git: the site folder is a clone (in a sub-folder of the repository) of a bare remote that a
staff member's clone also uses. Each reply the gateway posts is a commit by its sender; staff
changes pushed to the remote reach the site within a pull interval; the gateway's commits
reach staff; a conflicting pull keeps the post and tells staff once.
Deploys: `[deploy] after_build` publishes each rebuild; a destination that is down or hangs
never stops a reply from being accepted and posted; failures are retried, reported, recovered.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from deploy_support import set_deploy, visible_tree
from dovecot import free_port
from extranet.deploy.publisher import Publisher, status_path
from extranet.mail.daemon import Transports
from extranet.mail.demo_reply import reply_to
from extranet.mail.site_mail import SiteMail
from helpers import write
from test_gateway_site import NEW_POST, cli, notification

STAFF = {"GIT_AUTHOR_NAME": "Alice Staff", "GIT_AUTHOR_EMAIL": "alice@small.example",
         "GIT_COMMITTER_NAME": "Alice Staff", "GIT_COMMITTER_EMAIL": "alice@small.example"}
STAFF_POST = """---
title: Site visit on Friday
author: alice
visibility: mixed
---
We visit the bridge on Friday at nine.
"""


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **STAFF})
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def wait(condition, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.1)


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path]:
    """(the server's site folder, a staff clone's site folder), both clones of one bare remote."""
    import shutil

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    staff = tmp_path / "staff"
    git(tmp_path, "clone", "--quiet", str(remote), str(staff))
    shutil.copytree(Path(__file__).parent / "sites" / "small", staff / "site")
    (staff / ".gitignore").write_text(".extranet/\npublic/\n")
    git(staff, "add", "-A")
    git(staff, "commit", "--quiet", "-m", "the site")
    git(staff, "push", "--quiet", "origin", "HEAD:main")
    server = tmp_path / "server"
    git(tmp_path, "clone", "--quiet", str(remote), str(server))
    site = server / "site"
    announce(site)
    return site, staff / "site"


def announce(site: Path) -> None:
    """A new post, notified to the site's people (in the outbox): what they will answer."""
    assert cli(site, "notify").returncode == 0  # first run: the existing posts count as announced
    write(site / "content/projects/alpha/posts/2026-01-09-delivery.md", NEW_POST)
    assert cli(site, "notify").returncode == 0


def configure(site: Path, git_table: str) -> None:
    with open(site / "extranet.toml", "a") as f:
        f.write(f"\n[git]\n{git_table}\n")


class Running:
    """A gateway (SMTP listener, processor, deploy and git threads) running in this process."""

    def __init__(self, site: Path, publisher: Publisher | None = None) -> None:
        self.site_mail = SiteMail(site)
        if publisher is not None:
            self.site_mail.publishing.publisher = publisher
        self.port = free_port()
        self.stop = threading.Event()
        self.site_mail.publishing.start(self.stop, self.site_mail.batch.rebuild)
        self.site_mail.batch.start()
        self.thread = threading.Thread(target=self.site_mail.run, args=(Transports(("127.0.0.1", self.port)), self.stop),
                                       kwargs={"interval": 0.3})
        self.thread.start()

    def send(self, raw: bytes) -> tuple[int, bytes]:
        wait(lambda: _listening(self.port), what="SMTP listener")
        to = str(BytesParser(policy=policy.default).parsebytes(raw)["To"])
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo()
            client.mail("carl@acme.example")
            client.rcpt(to)
            return client.data(raw.replace(b"\n", b"\r\n"))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for r in started:
        r.close()


def email_posts(site: Path) -> list[Path]:
    return sorted((site / "content/projects/alpha/posts").glob("*-re-*.md"))


def test_replies_are_commits_by_their_sender_staff_changes_come_in_posts_go_out(shared, running) -> None:
    site, staff = shared
    configure(site, "pull_every = 1\npush = true")
    (site / "content/pages").mkdir(exist_ok=True)
    write(site / "content/pages/draft-by-hand.md", "---\ntitle: Not mine\n---\nA staff draft on the server.\n")
    gateway = Running(site)
    running.append(gateway)
    code, _ = gateway.send(reply_to(notification(site, "carl@acme.example"), "Friday suits us. Carl"))
    assert code == 250
    wait(lambda: "Carl Client" in git(site, "log", "-1", "--format=%an"), what="the post's commit")
    [post] = email_posts(site)
    author, subject, body = git(site, "log", "-1", "--format=%an <%ae>%n%s%n%b").split("\n", 2)
    assert author == "Carl Client <carl@acme.example>"
    assert subject == "Email post: Delivery schedule" and "\nMessage-ID: " in body and "In reply to: 2026-01-09-delivery" in body
    assert git(site, "log", "-1", "--format=%cn") .strip() == "extranet gateway"
    assert git(site, "status", "--porcelain", "--", str(post.relative_to(site))) == ""
    assert "?? site/content/pages/draft-by-hand.md" in git(site, "status", "--porcelain"), "a staff file is left alone"

    # the post reaches staff (push = true), with its author
    def pushed() -> bool:
        git(staff, "fetch", "--quiet")
        return "Carl Client" in git(staff, "log", "origin/main", "-1", "--format=%an")

    wait(pushed, what="the push")
    git(staff, "pull", "--quiet", "--rebase")
    assert (staff / post.relative_to(site)).read_text() == post.read_text()

    # a staff post pushed from the editor reaches the built site
    write(staff / "content/projects/alpha/posts/2026-01-10-site-visit.md", STAFF_POST)
    git(staff, "add", "-A")
    git(staff, "commit", "--quiet", "-m", "site visit")
    git(staff, "push", "--quiet", "origin", "HEAD:main")
    wait(lambda: any("We visit the bridge on Friday" in p.read_text(errors="ignore")
                     for p in (site / "public/mixed/projects/alpha").glob("*.html")), what="rebuild after the pull")
    assert "site visit" in git(site, "log", "--format=%s")


def test_a_conflicting_pull_keeps_the_post_and_tells_staff_once(shared, running) -> None:
    site, staff = shared
    configure(site, "pull_every = 1\nreport_to = [\"alice@small.example\"]")
    gateway = Running(site)
    running.append(gateway)
    assert gateway.send(reply_to(notification(site, "carl@acme.example"), "Friday suits us. Carl"))[0] == 250
    wait(lambda: "Carl Client" in git(site, "log", "-1", "--format=%an"), what="the post's commit")
    [post] = email_posts(site)
    mine = post.read_text()
    # staff push a different file at the very same path: the gateway's commit cannot go on top
    write(staff / post.relative_to(site), "---\ntitle: Clash\nauthor: alice\n---\nNot the reply.\n")
    git(staff, "add", "-A")
    git(staff, "commit", "--quiet", "-m", "clash")
    git(staff, "push", "--quiet", "origin", "HEAD:main")

    def reports() -> list[bytes]:
        return [f.read_bytes() for f in (site / ".extranet/outbox").glob("*.eml")
                if b"git pull conflicts" in f.read_bytes()]

    wait(lambda: len(reports()) == 1, what="the report to staff")
    time.sleep(2.5)  # two more pulls: same conflict, no second report
    assert len(reports()) == 1 and b"To: alice@small.example" in reports()[0]
    assert post.read_text() == mine, "the post stays as the gateway wrote it"
    assert "Carl Client" in git(site, "log", "-1", "--format=%an")
    assert git(site, "status", "--porcelain", "--", str(post.relative_to(site))) == ""
    assert "rebase" not in git(site, "status"), "the failed rebase was undone"
    assert any("Friday suits us" in p.read_text(errors="ignore") for p in (site / "public/mixed/projects/alpha").glob("*.html"))


def test_a_post_left_uncommitted_by_a_crash_is_committed_at_the_next_start(shared) -> None:
    site, _ = shared
    first = SiteMail(site, rebuild=False)
    first.gateway.handle(reply_to(notification(site, "carl@acme.example"), "Written, then the crash."))
    [post] = email_posts(site)  # written; the process died before its commit (after() never ran)
    rel = str(post.relative_to(site))
    assert git(site, "status", "--porcelain", "--", rel).startswith("??")
    SiteMail(site).batch.start()
    assert git(site, "status", "--porcelain", "--", rel) == ""
    assert "2026-01-09-delivery.md" in git(site, "status", "--porcelain"), "a staff post is not the gateway's to commit"
    assert git(site, "log", "-1", "--format=%an %s").startswith("Carl Client Email post:")


def test_deploys_after_rebuilds_never_hold_up_the_mail_and_failures_are_retried_and_reported(
        tmp_path: Path, running) -> None:
    from helpers import copy_site

    site = copy_site("small", tmp_path)
    announce(site)
    # the destination: an "rsync daemon" that accepts connections and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    hanging = f"rsync://127.0.0.1:{silent.getsockname()[1]}/site/projets/"
    set_deploy(site, {"mixed": hanging, "after_build": True})
    publisher = Publisher(site, ("alice@small.example",), delays=(0.5,))
    gateway = Running(site, publisher)
    running.append(gateway)
    try:
        started = time.monotonic()
        assert gateway.send(reply_to(notification(site, "carl@acme.example"), "Posted while the host hangs."))[0] == 250
        wait(lambda: any("Posted while the host hangs." in p.read_text(errors="ignore")
                         for p in (site / "public/mixed/projects/alpha").glob("*.html")), what="the rebuild")
        assert time.monotonic() - started < 20, "the hanging deploy did not hold up the reply"
    finally:
        silent.close()  # the hanging rsync gets its answer: the connection is gone
    wait(lambda: publisher.failures >= 3, timeout=60, what="three failed deploys")
    status = json.loads(status_path(site).read_text())
    assert status["ok"] is False and "rsync" in status["message"]
    [report] = [f.read_bytes() for f in (site / ".extranet/outbox").glob("*.eml") if b"not being published" in f.read_bytes()]
    assert b"alice@small.example" in report and b"safe in content/" in report
    # the host comes back (here: a folder), the next try publishes everything
    landing = tmp_path / "www" / "projets"
    landing.parent.mkdir()
    toml = site / "extranet.toml"
    toml.write_text(toml.read_text().replace(hanging, str(landing)))  # read again by each deploy
    wait(lambda: publisher.failures == 0, timeout=30, what="a deploy that works")
    assert visible_tree(landing) == visible_tree(site / "public" / "mixed")
    assert json.loads(status_path(site).read_text())["ok"] is True
    assert any(b"published again" in f.read_bytes() for f in (site / ".extranet/outbox").glob("*.eml"))


def test_a_site_copy_the_repository_ignores_is_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`extranet init demo` inside a clone of a repository that ignores demo/ (as extranet's own does)."""
    from helpers import copy_site

    clone = tmp_path / "clone"
    git(tmp_path, "init", "--quiet", "-b", "main", str(clone))
    (clone / ".gitignore").write_text("/small/\n")
    site = copy_site("small", clone)
    announce(site)
    site_mail = SiteMail(site, rebuild=False)
    outcome = site_mail.gateway.handle(reply_to(notification(site, "carl@acme.example"), "A demo reply."))
    site_mail.batch([outcome])
    assert email_posts(site), "posted"
    assert git(clone, "rev-list", "--all") == "" and "commit" not in caplog.text
