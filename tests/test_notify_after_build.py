"""`[build] notify = true`: `extranet build` mails the new posts once the output is written,
and so does the gateway after each batch it publishes; without it, a build mails nobody."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from extranet.mail.demo_reply import reply_to
from gateway_site_support import NEW_POST, cli, notification, site  # noqa: F401
from helpers import write


def mailed(root: Path, seen: set[Path]) -> list[EmailMessage]:
    """The messages written to the outbox since `seen` (which is updated)."""
    new = sorted(set((root / ".extranet/outbox").glob("*.eml")) - seen)
    seen.update(new)
    return [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in new]


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if address in str(m["To"])]


def test_build_notify_mails_after_extranet_build_and_after_the_gateway_posts(site: Path) -> None:
    toml = site / "extranet.toml"
    toml.write_text(toml.read_text() + "[build]\nnotify = true\n")
    seen: set[Path] = set()
    mailed(site, seen)
    write(site / "content/projects/alpha/posts/2026-01-10-beams.md", NEW_POST.replace("Delivery schedule", "Beams"))
    result = cli(site, "build")
    assert result.returncode == 0, result.stderr
    assert b"notify: 1 message(s) sent" in result.stdout  # carl; alice wrote it
    [beams] = to(mailed(site, seen), "carl@acme.example")
    assert beams["Subject"] == "[Alpha Bridge Renovation] Beams"
    # a reply by email: posted, built, announced to staff, confirmed to its sender
    assert cli(site, "ingest", stdin=reply_to(notification(site, "carl@acme.example"), "Friday suits us.")).returncode == 0
    out = mailed(site, seen)
    [announced] = to(out, "alice@small.example")
    assert "Friday suits us." in announced.get_body(("plain",)).get_content()
    assert [m["Subject"] for m in to(out, "carl@acme.example")] == ["Posted: Delivery schedule"]


def test_without_build_notify_a_build_mails_nobody(site: Path) -> None:
    seen: set[Path] = set()
    mailed(site, seen)
    write(site / "content/projects/alpha/posts/2026-01-10-beams.md", NEW_POST.replace("Delivery schedule", "Beams"))
    result = cli(site, "build")
    assert result.returncode == 0, result.stderr
    assert b"notify" not in result.stdout and mailed(site, seen) == []


def test_a_held_reply_is_announced_once_approved(site: Path) -> None:
    toml = site / "extranet.toml"
    toml.write_text(toml.read_text() + "[build]\nnotify = true\n[mail.auth]\nexternal = \"moderate\"\n")
    seen: set[Path] = set()
    mailed(site, seen)
    assert cli(site, "ingest", stdin=reply_to(notification(site, "carl@acme.example"), "Friday suits us.")).returncode == 0
    held = mailed(site, seen)
    assert to(held, "alice@small.example") == []  # waiting for moderation: nobody is told yet
    [post] = (site / "content/projects/alpha/posts").glob("*-re-*.md")
    assert cli(site, "moderate", "approve", f"alpha/{post.stem}").returncode == 0
    [announced] = to(mailed(site, seen), "alice@small.example")
    assert "Friday suits us." in announced.get_body(("plain",)).get_content()
