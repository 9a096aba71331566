"""Shared helpers of the notify tests: a test site on disk and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import textwrap
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 3, 10, 12, 0)
MARGIN = "MARGIN-SECRET-12pct"
PRICING = "PRICING-SECRET"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def post(root: Path, project: str, name: str, front: str, body: str) -> None:
    """Write content/projects/<project>/posts/<name>.md."""
    write(root / "content/projects" / project / "posts" / f"{name}.md",
          "---\n" + textwrap.dedent(front).strip() + "\n---\n" + textwrap.dedent(body).lstrip("\n"))


def make_site(root: Path, *, port: int | None = None, language: str = "en", attach_limit: int = 200) -> Path:
    """A site with staff (alice immediate, bob digest, zoe none), ACME people (carl immediate,
    dana digest), an expired supplier (sam) and a supplier member of gamma only (eve)."""
    relay = f"[mail.relay]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n" if port else ""
    write(root / "extranet.toml", f"""
        title = "Small Co extranet"
        language = "{language}"
        org = "smallco"
        [zones.internal]
        url = "https://internal.small.example/"
        [zones.mixed]
        url = "https://projects.small.example/"
        [protect]
        encrypt = false
        [mail]
        reply_domain = "projects.small.example"
        from = "extranet@small.example"
        attach_limit = {attach_limit}
    """ + relay)
    write(root / "people.toml", """
        [orgs.smallco]
        name = "Small Co"
        [orgs.acme]
        name = "ACME Industries"
        kind = "client"
        [orgs.bolt]
        name = "Bolt Supplies"
        kind = "supplier"
        [people.alice]
        name = "Alice Staff"
        email = "alice@small.example"
        org = "smallco"
        [people.bob]
        name = "Bob Staff"
        email = "bob@small.example"
        org = "smallco"
        notify = "digest"
        [people.zoe]
        name = "Zoe Staff"
        email = "zoe@small.example"
        org = "smallco"
        notify = "none"
        [people.carl]
        name = "Carl Client"
        email = "carl@acme.example"
        org = "acme"
        [people.dana]
        name = "Dana Client"
        email = "dana@acme.example"
        org = "acme"
        notify = "digest"
        [people.sam]
        name = "Sam Supplier"
        email = "sam@bolt.example"
        org = "bolt"
        expires = 2020-01-01
        [people.eve]
        name = "Eve Supplier"
        email = "eve@bolt.example"
        org = "bolt"
    """)
    write(root / "content/pages/welcome.md", "---\ntitle: Welcome\nvisibility: mixed\n---\nHello.\n")
    write(root / "content/projects/alpha/index.md", """
        ---
        title: Alpha Bridge
        summary: Renovating the bridge with ACME.
        orgs: [acme]
        members: [sam]
        visibility: mixed
        ---
        Shared page.
    """)
    write(root / "content/projects/gamma/index.md", """
        ---
        title: Gamma Depot
        summary: Depot works.
        members: [eve]
        ---
        Internal page body.
    """)
    write(root / "content/projects/alpha/files/plan.txt", "small plan\n")
    write(root / "content/projects/alpha/files/drawing.txt", "big drawing " * 40 + "\n")
    write(root / "content/projects/alpha/files/costs.txt", f"{PRICING} cost sheet\n")
    post(root, "alpha", "2026-01-05-kickoff", "title: Kickoff\nauthor: alice\nvisibility: mixed",
         "We met. The plan: [plan](../files/plan.txt).\n")
    return root


def add_new_posts(root: Path) -> None:
    """Posts written after the first notify run."""
    post(root, "alpha", "2026-03-09-quote", "title: Quote for lot 2\nauthor: alice\nvisibility: mixed\n"
         "in_reply_to: 2026-01-05-kickoff",
         f"""
         Here is our quote. Plan [plan](../files/plan.txt), drawing [drawing](../files/drawing.txt).

         ::: internal
         {MARGIN}: see [costs](../files/costs.txt).
         :::

         Thanks.
         """)
    post(root, "alpha", "2026-03-09-pricing", "title: Pricing strategy internal\nauthor: bob",
         f"{PRICING} double for extras. [costs](../files/costs.txt)\n")
    post(root, "alpha", "2026-03-10-draft", "title: Draft thing\nauthor: alice\nvisibility: mixed\ndraft: true",
         "Not yet.\n")
    post(root, "alpha", "2026-03-20-future", "title: Future thing\nauthor: alice\nvisibility: mixed", "Later.\n")
    post(root, "alpha", "2026-03-10-pending", "title: Pending reply\nauthor: carl\nvisibility: mixed\n"
         "pending: true\nsource: email", "Waiting for approval.\n")
    post(root, "gamma", "2026-03-10-depot", "title: Depot update\nauthor: alice\nvisibility: mixed",
         "Depot news for Eve.\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """An aiosmtpd handler that keeps every accepted message (per recipient).

    `started` counts DATA commands as they arrive; a message counts as delivered only when
    the server answers 250 (after `delay` seconds), as a real server commits then.
    `replies` is a list of SMTP answers to give first (e.g. '451 busy'), one per DATA."""

    def __init__(self, delay: float = 0.0, replies: list[str] | None = None) -> None:
        self.delay = delay
        self.replies = list(replies or [])
        self.started = 0
        self.messages: list[tuple[str, EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.replies:
            return self.replies.pop(0)
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, msg))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for r, m in self.messages if r == address]


@contextmanager
def smtp_server(handler: Collector, port: int | None = None):
    """A real SMTP server on 127.0.0.1 in a thread; yields its port."""
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def plain(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def html(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


def everything(msg: EmailMessage) -> str:
    """Every header and decoded part of a message, as one text (for leak checks)."""
    out = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        out.append(content.decode("utf-8", "replace") if isinstance(content, bytes) else content)
        out.append(part.get_filename() or "")
    return "\n".join(out)


def load(root: Path, now: dt.datetime = NOW):
    """(site, rules, urls) as the build makes them for an unencrypted site."""
    from extranet import config
    from extranet.content.loader import load_site
    from extranet.site.urls import Urls
    from extranet.zones import Rules

    settings, people = config.load(root)
    site = load_site(settings, people)
    return site, Rules(site, now), {zone: Urls(None) for zone in ("internal", "mixed")}


def notify(root: Path, now: dt.datetime = NOW, **kwargs):
    """Run notify_new_posts at `now` (retries without waiting)."""
    from extranet.mail.outbound.notifications import notify_new_posts

    site, rules, urls = load(root, now)
    kwargs.setdefault("delays", (0.01, 0.01))
    return notify_new_posts(site, rules, urls, now, **kwargs)
