"""The gateway on a real site: a notification answered becomes a post on the rebuilt site.

From the outbox to `extranet ingest` (standard input, as an MTA pipe), over SMTP and over
IMAP (a real Dovecot), with the refusals, moderation and hostile content a real mailbox sees.
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from imapclient import IMAPClient

from dovecot import Dovecot, free_port
from extranet.mail.daemon import Transports
from extranet.mail.demo_reply import reply_to
from extranet.mail.inbound.imap import ImapSettings
from extranet.mail.site_mail import SiteMail
from gateway_site_support import NEW_POST, can_connect, cli, notification, posts, site, spoof, wait_until  # noqa: F401
from helpers import read_tree, write


def test_reply_from_the_outbox_becomes_a_post_on_the_rebuilt_site(site: Path) -> None:
    raw = reply_to(notification(site, "carl@acme.example"), "Tuesday suits us. Carl")
    result = cli(site, "ingest", stdin=raw)
    assert result.returncode == 0, result.stderr
    [post] = posts(site)
    text = post.read_text()
    assert "author: carl" in text and "in_reply_to: 2026-01-09-delivery" in text
    assert "visibility: mixed" in text and "source: email" in text and "message_id:" in text
    assert "Tuesday suits us." in text and "beams arrive" not in text  # the quote is cut
    page = next((site / "public/mixed/projects/alpha").glob(f"{post.stem}.html")).read_text()
    assert "Tuesday suits us." in page and "beams arrive on Tuesday" not in page
    thread = (site / "public/mixed/projects/alpha/2026-01-09-delivery.html").read_text()
    assert post.stem in thread  # listed as a reply under its parent
    internal = (site / f"public/internal/projects/alpha/{post.stem}.html").read_text()
    assert "beams arrive on Tuesday" in internal  # the full original, collapsed, internal only
    confirmations = [f for f in (site / ".extranet/outbox").glob("*.eml") if b"Subject: Posted:" in f.read_bytes()]
    assert len(confirmations) == 1 and b"carl@acme.example" in confirmations[0].read_bytes()
    # the same message again (an MTA retry): nothing posted twice
    assert cli(site, "ingest", stdin=raw).returncode == 0
    assert len(posts(site)) == 1


def test_staff_reply_to_the_note_address_is_internal(site: Path) -> None:
    # carl's reply comes in; staff are notified of it, with an internal-note address
    cli(site, "ingest", stdin=reply_to(notification(site, "carl@acme.example"), "Tuesday suits us."))
    cli(site, "notify")
    msgs = [BytesParser(policy=policy.default).parsebytes(f.read_bytes())
            for f in sorted((site / ".extranet/outbox").glob("*.eml"))]
    to_alice = [m for m in msgs if "alice@small.example" in str(m["To"]) and "Posted" not in str(m["Subject"])]
    assert to_alice, "staff are notified of the client's reply"
    note_address = next(w for w in to_alice[-1].get_body(("plain",)).get_content().split() if w.startswith("note+"))
    reply = EmailMessage()
    reply["From"] = "alice@small.example"
    reply["To"] = note_address.strip("<>.,")
    reply["Subject"] = "Re: internal"
    reply["Message-ID"] = "<note-1@small.example>"
    reply.set_content("Careful: they said Tuesday last time too.")
    assert cli(site, "ingest", stdin=bytes(reply)).returncode == 0
    [internal_note] = [p for p in posts(site) if "author: alice" in p.read_text()]
    assert "visibility: internal" in internal_note.read_text()
    mixed = "".join(f.read_text(errors="ignore") for f in (site / "public/mixed").rglob("*.html"))
    assert "Careful: they said Tuesday" not in mixed


@pytest.mark.parametrize("case, change, code", [
    ("spoofed From with a valid token", {"From": "mallory@evil.example"}, 77),
    ("forged token", {"To": "reply+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@projects.small.example"}, 0),
    ("auto-reply", {"Auto_Submitted": "auto-replied"}, 0),
    ("bulk mail", {"Precedence": "bulk"}, 0),
])
def test_refusals_post_nothing(site: Path, case: str, change: dict, code: int) -> None:
    raw = spoof(reply_to(notification(site, "carl@acme.example"), "Hello"), **change)
    result = cli(site, "ingest", stdin=raw)
    assert result.returncode == code, (case, result.stderr)
    assert posts(site) == []
    notices = [f for f in (site / ".extranet/outbox").glob("*.eml") if b"auto-replied" in f.read_bytes()]
    known = case == "forged token"  # from carl: a known person
    assert len(notices) == (1 if known else 0), "a known person gets one explanation; a stranger, automated mail none"


def test_expired_person_is_refused_with_one_explanation(site: Path) -> None:
    raw = reply_to(notification(site, "carl@acme.example"), "Hello")
    toml = (site / "people.toml").read_text().replace('org = "acme"', 'org = "acme"\nexpires = 2020-01-01', 1)
    (site / "people.toml").write_text(toml)
    for n, code in enumerate((0, 77)):  # the second is not explained: the MTA bounces it
        raw_n = spoof(raw, Message_ID=f"<x{n}@acme.example>")
        assert cli(site, "ingest", stdin=raw_n).returncode == code
    assert posts(site) == []
    notices = [f for f in (site / ".extranet/outbox").glob("*.eml") if b"Auto-Submitted: auto-replied" in f.read_bytes()
               and b"carl@acme.example" in f.read_bytes()]
    assert len(notices) == 1, "one explanation per sender and reason per day"


def test_moderation_holds_external_posts_until_approved(site: Path) -> None:
    index = site / "content/projects/alpha/index.md"
    index.write_text(index.read_text().replace("orgs: [acme]", "orgs: [acme]\nmoderation: external"))
    assert cli(site, "ingest", stdin=reply_to(notification(site, "carl@acme.example"), "Please confirm.")).returncode == 0
    [post] = posts(site)
    assert "pending: true" in post.read_text()
    mixed = lambda: "".join(f.read_text(errors="ignore") for f in (site / "public/mixed").rglob("*.html"))  # noqa: E731
    assert "Please confirm." not in mixed()
    assert "Please confirm." in (site / f"public/internal/projects/alpha/{post.stem}.html").read_text()
    listing = cli(site, "moderate", "list").stdout.decode()
    assert f"alpha/{post.stem}" in listing
    assert cli(site, "moderate", "approve", f"alpha/{post.stem}").returncode == 0
    assert "Please confirm." in mixed()


XSS_HTML = """<html><body>
<p>Hello <script>alert('xss-script')</script><b onmouseover="alert('xss-attr')">bold</b></p>
<p><a href="javascript:alert('xss-link')">click</a> <img src=x onerror="alert('xss-img')">
<iframe src="https://evil.example/xss-frame"></iframe><svg onload="alert('xss-svg')"></svg></p>
<p>[md](javascript:alert('xss-md')) &lt;script&gt;alert('xss-escaped')&lt;/script&gt;</p>
<style>body{background:url(javascript:alert('xss-css'))}</style>
</body></html>"""
BAD_NAMES = ["../../../etc/passwd", "..\\..\\boot.ini", "CON.txt", "evil\u202egnp.exe", ".htaccess",
             "<img src=x onerror=alert('xss-name')>.png", "a/b/c.pdf", "\x00\x07bell.txt"]


def test_hostile_content_never_reaches_a_page_and_names_never_choose_a_path(site: Path) -> None:
    note = BytesParser(policy=policy.default).parsebytes(notification(site, "carl@acme.example"))
    msg = EmailMessage()
    msg["From"] = "carl@acme.example"
    msg["To"] = note["Reply-To"]
    msg["Subject"] = "Re: <script>alert('xss-subject')</script>"
    msg["Message-ID"] = "<xss@acme.example>"
    msg.set_content("plain part")
    msg.add_alternative(XSS_HTML, subtype="html")
    for i, name in enumerate(BAD_NAMES):
        msg.add_attachment(f"file {i}".encode(), maintype="application", subtype="octet-stream", filename=name)
    result = cli(site, "ingest", stdin=bytes(msg))
    assert result.returncode == 0, result.stderr
    [post] = posts(site)
    files = site / "content/projects/alpha/files" / post.stem
    saved = sorted(p.name for p in files.iterdir())
    assert len(saved) == len(BAD_NAMES)
    for p in files.rglob("*"):
        assert p.parent == files and not p.name.startswith(".") and "\u202e" not in p.name
    assert not (site / "etc").exists() and not (site.parent / "etc").exists()
    for zone in ("internal", "mixed"):
        for page in (site / "public" / zone).rglob("*.html"):
            html = page.read_text(errors="ignore").lower()
            for bad in ("<script", "javascript:", "onerror=", "onload=", "onmouseover=", "<iframe", "<svg"):
                assert bad not in html, (page, bad)


def test_replies_over_smtp_and_imap_become_posts(site: Path, dovecot: Dovecot) -> None:
    site_mail = SiteMail(site)
    port = free_port()
    imap = ImapSettings(host=dovecot.host, port=dovecot.port, user=dovecot.user, password=dovecot.password,
                        security="none", idle_tick=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=site_mail.run, args=(Transports(("127.0.0.1", port), imap), stop),
                              kwargs={"interval": 0.5})
    thread.start()
    try:
        base = notification(site, "carl@acme.example")
        wait_until(lambda: can_connect(port))
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            raw = spoof(reply_to(base, "By SMTP."), Message_ID="<smtp-1@acme.example>")
            to = str(BytesParser(policy=policy.default).parsebytes(raw)["To"])
            client.sendmail("carl@acme.example", [to], raw.replace(b"\n", b"\r\n"))  # SMTP lines end in CRLF
        with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as mailbox:
            mailbox.login(dovecot.user, dovecot.password)
            mailbox.append("INBOX", spoof(reply_to(base, "By IMAP."), Message_ID="<imap-1@acme.example>"))
        wait_until(lambda: len(posts(site)) == 2)
        wait_until(lambda: any("By IMAP." in p.read_text(errors="ignore")
                          for p in (site / "public/mixed/projects/alpha").glob("*.html")))
    finally:
        stop.set()
        thread.join(timeout=30)
    bodies = " ".join(p.read_text() for p in posts(site))
    assert "By SMTP." in bodies and "By IMAP." in bodies


def test_a_running_gateway_publishes_reply_after_reply_as_a_cold_build_would(site: Path, tmp_path: Path) -> None:
    """The gateway keeps its build state in memory between rebuilds (build.BuildState): reply
    after reply, its site is the one a cold build of the same sources gives."""
    from extranet.build import build

    site_mail = SiteMail(site)
    site_mail.batch.start()  # as `extranet gateway` does when it starts
    state = site_mail.builds.state
    assert state.cache is not None and state.theme is not None
    port = free_port()
    stop = threading.Event()
    thread = threading.Thread(target=site_mail.run, args=(Transports(("127.0.0.1", port)), stop),
                              kwargs={"interval": 0.5})
    thread.start()
    try:
        base = notification(site, "carl@acme.example")
        wait_until(lambda: can_connect(port))
        for n in range(3):
            raw = spoof(reply_to(base, f"Reply number {n} by SMTP."), Message_ID=f"<warm-{n}@acme.example>")
            to = str(BytesParser(policy=policy.default).parsebytes(raw)["To"])
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("carl@acme.example", [to], raw.replace(b"\n", b"\r\n"))
            wait_until(lambda: any(f"Reply number {n} by SMTP." in p.read_text(errors="ignore")
                              for p in (site / "public/mixed/projects/alpha").glob("*.html")))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert len(posts(site)) == 3
    build(site, cache=False, out=tmp_path / "cold")
    for zone in ("internal", "mixed"):
        assert read_tree(site / "public" / zone) == read_tree(tmp_path / "cold" / zone), zone


def test_gateway_log_gives_each_warning_once_not_on_every_rebuild(site: Path) -> None:
    import logging

    shown: list[str] = []

    class Shown(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    write(site / "content/projects/alpha/posts/2026-01-10-broken.md",
          "---\ntitle: Links\nvisibility: mixed\n---\nSee [the handbook](../../../pages/handbook.md).\n")
    handler = Shown()
    logger = logging.getLogger("extranet")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # as the command line sets it
    try:
        site_mail = SiteMail(site)
        site_mail.batch.start()
        warned = [m for m in shown if "handbook" in m]
        assert warned  # a link to internal content, removed from the mixed site
        shown.clear()
        write(site / "content/projects/alpha/posts/2026-01-11-more.md",
              "---\ntitle: More\nvisibility: mixed\n---\nAnd [the handbook again](../../../pages/handbook.md).\n")
        result = site_mail.builds.build("a rebuild")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [m for m in shown if "handbook" in m and "2026-01-10-broken" in m] == []  # not repeated
    assert [m for m in shown if "2026-01-11-more" in m]  # the new one is given
    assert any("not repeated" in m for m in shown)
    assert set(warned) <= set(result.warnings)  # still counted and recorded by the build


@pytest.mark.parametrize("results, pending", [
    ("mx.small.example; dkim=pass header.d=acme.example; dmarc=pass", False),
    ("mx.small.example; dkim=pass header.d=mail.acme.example", False),  # aligned (relaxed)
    ("mx.small.example; dkim=pass header.d=evil.example", True),  # a signature of another domain
    ("mx.small.example; dkim=fail header.d=acme.example; dmarc=fail", True),
    ("evil.example; dkim=pass header.d=acme.example; dmarc=pass", True),  # not our trusted server: ignored
])
def test_authentication_results_from_the_trusted_server_decide_moderation(site: Path, results: str,
                                                                          pending: bool) -> None:
    toml = site / "extranet.toml"
    toml.write_text(toml.read_text().replace('[mail]\n', '[mail]\ntrusted_authserv_id = "mx.small.example"\n')
                    + '[mail.auth]\nexternal = "moderate"\n')
    raw = spoof(reply_to(notification(site, "carl@acme.example"), "Signed reply."),
                Authentication_Results=results)
    assert cli(site, "ingest", stdin=raw).returncode == 0
    [post] = posts(site)
    assert ("pending: true" in post.read_text()) is pending
    assert ("without authentication" in post.read_text()) is pending  # the reason, for the moderator


def test_the_smtp_listener_accepts_mail_while_a_backlog_is_processed(site: Path) -> None:
    from extranet.mail.inbound.spool import Spool

    port = free_port()
    toml = site / "extranet.toml"
    toml.write_text(toml.read_text() + f'[mail.smtp]\nlisten = "127.0.0.1:{port}"\n')
    base = notification(site, "carl@acme.example")
    to = str(BytesParser(policy=policy.default).parsebytes(base)["Reply-To"])
    spool = Spool(site / ".extranet/spool")
    for n in range(60):  # what a restart finds waiting
        spool.accept(spoof(reply_to(base, f"Backlog {n}."), Message_ID=f"<backlog-{n}@acme.example>"),
                     {"transport": "smtp", "rcpt_tos": [to], "return_path": "carl@acme.example"})
    proc = subprocess.Popen([sys.executable, "-m", "extranet", "-C", str(site), "gateway", "--no-imap"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: can_connect(port) or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, proc.stderr.read().decode()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            raw = spoof(reply_to(base, "Arrived during the backlog."), Message_ID="<during@acme.example>")
            client.sendmail("carl@acme.example", [to], raw.replace(b"\n", b"\r\n"))
            waiting = len(spool.entries("new")) + len(spool.entries("cur"))
        assert waiting > 1, "the listener opened only once the backlog was done"
        wait_until(lambda: len(posts(site)) == 61, timeout=120)
    finally:
        proc.terminate()
        proc.wait(30)


def test_reply_addresses_stay_within_64_characters_and_still_work(site: Path) -> None:
    write(site / "content/projects/alpha/posts/2026-01-10-galvanisation-et-decoupage-des-poutres-du-lot-3.md",
          NEW_POST.replace("Delivery schedule", "Galvanisation du lot 3"))
    assert cli(site, "notify").returncode == 0
    msgs = [BytesParser(policy=policy.default).parsebytes(f.read_bytes())
            for f in (site / ".extranet/outbox").glob("*.eml")]
    addresses = [str(m["Reply-To"]) for m in msgs if "Galvanisation" in str(m["Subject"])]
    addresses += [w.strip("<>.,") for m in msgs for w in m.get_body(("plain",)).get_content().split()
                  if w.startswith(("reply+", "note+"))]
    assert addresses and all(len(a.partition("@")[0]) <= 64 for a in addresses), addresses
    to_carl = next(f.read_bytes() for f in (site / ".extranet/outbox").glob("*.eml")
                   if b"Galvanisation" in f.read_bytes() and b"carl@acme.example" in f.read_bytes())
    assert cli(site, "ingest", stdin=reply_to(to_carl, "Bien reçu pour le lot 3.")).returncode == 0
    assert any("Bien reçu pour le lot 3." in p.read_text() for p in posts(site))


def test_a_crash_between_posting_and_confirming_confirms_once_on_restart(site: Path) -> None:
    raw = reply_to(notification(site, "carl@acme.example"), "Tuesday suits us.")
    first = SiteMail(site)
    assert first.gateway.handle(raw, {"transport": "stdin"}).__class__.__name__ == "Posted"
    del first  # ... and the process dies before it rebuilds and confirms

    def confirmations() -> list[bytes]:
        return [f.read_bytes() for f in (site / ".extranet/outbox").glob("*.eml") if b"Subject: Posted:" in f.read_bytes()]

    assert confirmations() == []
    restarted = SiteMail(site)
    restarted.batch.start()  # as `extranet gateway` starts: build, then what was left to confirm
    [confirmation] = confirmations()
    assert b"carl@acme.example" in confirmation and posts(site)[0].stem.encode() in confirmation
    restarted.batch.start()
    restarted.batch()
    SiteMail(site).batch.start()
    assert len(confirmations()) == 1  # exactly once


def test_the_gateway_parses_each_message_once(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks, the duplicate test, the content digest and the post writer all read one parse."""
    import email.feedparser

    site_mail = SiteMail(site, rebuild=False)
    raw = reply_to(notification(site, "carl@acme.example"), "Parsed once.")
    parses: list[type] = []
    init = email.feedparser.FeedParser.__init__

    def counted(self, *args, **kwargs) -> None:
        parses.append(type(self))
        init(self, *args, **kwargs)

    monkeypatch.setattr(email.feedparser.FeedParser, "__init__", counted)
    outcome = site_mail.gateway.handle(raw, {"transport": "stdin"})
    monkeypatch.undo()
    assert outcome.__class__.__name__ == "Posted" and "Parsed once." in posts(site)[0].read_text()
    assert len(parses) == 1, parses
