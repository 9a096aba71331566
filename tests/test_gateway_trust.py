"""Email you can trust (issue 17): who is authenticated, what waits for moderation, who gets a
notice. DKIM signatures are made with generated keys and checked through a local DNS lookup."""

from __future__ import annotations

import dataclasses
import io
import smtplib
import threading
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from conftest import POLICY, GatewayEnv, make_env, reply_address, reply_message
from dkim_support import LocalDns, sign
from dovecot import free_port
from extranet.config import MailAuth
from extranet.mail.inbound.authentication import aligned, authenticate, trusted_results
from extranet.mail.daemon import Transports
from extranet.mail.demo_reply import reply_to
from extranet.mail.inbound.outcomes import Posted, Refused
from extranet.mail.site_mail import SiteMail
from extranet.mail.inbound.stdin import EX_NOPERM, EX_OK, ingest
from gateway_site_support import can_connect, cli, notification, posts, site, spoof, wait_until  # noqa: F401


# -- pure rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("from_domain, signer, ok", [
    ("acme.example", "acme.example", True),
    ("mail.acme.example", "acme.example", True),
    ("acme.example", "news.acme.example", True),
    ("acme.example", "evil.example", False),
    ("acme.example", "example", False),  # a bare top-level domain vouches for nobody
    ("notacme.example", "acme.example", False),
])
def test_alignment_is_relaxed_but_never_crosses_to_another_domain(from_domain: str, signer: str, ok: bool) -> None:
    assert aligned(from_domain, signer) is ok


def test_only_the_topmost_results_of_the_trusted_server_count() -> None:
    headers = ["mx.durand.example; dkim=pass (2048-bit key) header.d=acme.example header.i=@acme.example; dmarc=fail",
               "mx.durand.example; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example"]
    assert trusted_results(headers, "mx.durand.example") == (("acme.example",), ())
    assert trusted_results(headers, "other.example") == ((), ())
    assert authenticate("jean@acme.example", results=headers, authserv_id="mx.durand.example").authenticated
    assert not authenticate("jean@acme.example", results=headers[1:], authserv_id="mx.durand.example").authenticated
    assert not authenticate("jean@acme.example", results=headers).authenticated  # no trusted server configured


# -- through the gateway ---------------------------------------------------------------------------


def test_a_forwarded_staff_notification_cannot_post_as_staff_unseen(gateway_env: GatewayEnv) -> None:
    """Anyone holding Marie's note+ address can write From: Marie; without her domain's DKIM
    signature the post waits for moderation, saying why; signed, it goes through."""
    note = reply_address("mleroy", kind="note")
    forged = reply_message(to=note, sender="Marie Leroy <marie.leroy@durand.example>",
                           body="New bank details for the supplier: IBAN FR76 6666.")
    genuine = sign(reply_message(to=note, sender="Marie Leroy <marie.leroy@durand.example>",
                                 body="Their price went up 3 %."), "durand.example")
    other_signer = sign(reply_message(to=note, sender="Marie Leroy <marie.leroy@durand.example>",
                                      body="Signed by someone else."), "evil.example")
    for raw in (forged, genuine, other_signer):
        assert isinstance(gateway_env.gateway.handle(raw, {"transport": "stdin"}), Posted)
    forged_env, genuine_env, other_env = gateway_env.writer.envelopes
    assert forged_env.held and "without authentication" in forged_env.held[0] and not forged_env.authenticated
    assert genuine_env.held == () and genuine_env.authenticated
    assert other_env.held and "only of evil.example" in other_env.held[0]


def test_staff_policy_refuse_refuses_unauthenticated_mail_to_a_staff_reply_address(tmp_path: Path) -> None:
    env = make_env(tmp_path, dataclasses.replace(POLICY, auth=MailAuth(staff="refuse")))
    raw = reply_message(to=reply_address("mleroy"), sender="marie.leroy@durand.example")
    outcome = env.gateway.handle(raw, {"transport": "stdin", "return_path": "marie.leroy@durand.example"})
    assert outcome == Refused("unauthenticated", True, noticed=True)  # she is known: told why
    assert "n'a pas prouvé" in env.sent[0].get_content()


def test_no_backscatter_a_stranger_never_gets_our_mail(gateway_env: GatewayEnv) -> None:
    spam = reply_message(to="sales@projets.durand.example", sender="BUY CHEAP PILLS <victim@innocent.example>",
                         subject="BUY CHEAP PILLS at evil.example")
    spoofed = reply_message(sender="Mallory <mallory@evil.example>")  # a valid token, someone else's
    for raw, reason in ((spam, "unknown_recipient"), (spoofed, "sender_mismatch")):
        outcome = gateway_env.gateway.handle(raw, {"return_path": "victim@innocent.example"})
        assert outcome == Refused(reason, True, noticed=False)
    assert gateway_env.sent == []


def test_an_authenticated_sender_with_a_valid_token_is_told(gateway_env: GatewayEnv) -> None:
    """A colleague of Jean answering his forwarded notification, from a DKIM-signed domain:
    a real person, proven; the notice cannot be backscatter."""
    raw = sign(reply_message(sender="Bob <bob@evil.example>"), "evil.example")
    assert gateway_env.gateway.handle(raw, {"transport": "smtp"}) == Refused("sender_mismatch", True, noticed=True)
    assert [m["To"] for m in gateway_env.sent] == ["bob@evil.example"]
    unsigned = reply_message(sender="Bob <bob@evil.example>")
    assert gateway_env.gateway.handle(unsigned, {"transport": "smtp"}).noticed is False


def test_ingest_lets_the_mta_bounce_when_the_daily_limit_kept_our_notice(gateway_env: GatewayEnv) -> None:
    def forged(n: int) -> bytes:
        return reply_message(to="reply+aaaaaaaaaaaaaaaaaaaaaaaa@projets.durand.example", message_id=f"<f{n}@acme.example>")
    assert ingest(io.BytesIO(forged(1)), gateway_env.gateway) == EX_OK  # explained by us
    assert ingest(io.BytesIO(forged(2)), gateway_env.gateway) == 67  # not explained today: bounced
    assert ingest(io.BytesIO(reply_message(sender="x@evil.example")), gateway_env.gateway) == EX_NOPERM
    assert len(gateway_env.sent) == 1


def test_a_message_failing_for_five_days_gets_one_final_answer(gateway_env: GatewayEnv) -> None:
    now = [1_000_000.0]
    gateway_env.gateway.clock = lambda: now[0]

    class Broken:
        def process(self, raw, envelope):
            raise OSError("disk full")

    gateway_env.gateway.handler = Broken()
    gateway_env.spool.accept(reply_message(), {"transport": "smtp", "received_at": now[0]})
    for hours in (0, 1, 24, 119):
        now[0] = 1_000_000.0 + hours * 3600
        assert [type(o).__name__ for o in gateway_env.gateway.process_pending()] in (["TemporaryFailure"], [])
    assert gateway_env.spool.entries("new") and gateway_env.sent == []
    now[0] = 1_000_000.0 + 121 * 3600
    assert gateway_env.gateway.process_pending() == [Refused("timeout", True, noticed=True)]
    [notice] = gateway_env.sent
    assert notice["To"] == "jean.dupont@acme.example" and "plusieurs jours" in notice.get_content()
    assert gateway_env.spool.entries("new") == [] and gateway_env.spool.entries("rejected")
    assert gateway_env.gateway.process_pending() == []  # one answer, once


# -- on a real site, over SMTP -------------------------------------------------------------------


def _run_site_gateway(site: Path, dns: LocalDns):
    site_mail = SiteMail(site, dns=dns)
    port = free_port()
    stop = threading.Event()
    thread = threading.Thread(target=site_mail.run, args=(Transports(("127.0.0.1", port)), stop),
                              kwargs={"interval": 0.3})
    thread.start()
    wait_until(lambda: can_connect(port))
    return port, stop, thread


def test_on_a_site_an_unsigned_staff_note_waits_with_its_reason_a_signed_one_is_published(site: Path) -> None:
    # alice (staff) is notified of carl's reply, with a note+ address
    assert cli(site, "ingest", stdin=reply_to(notification(site, "carl@acme.example"), "Tuesday suits us.")).returncode == 0
    assert cli(site, "notify").returncode == 0
    to_alice = [BytesParser(policy=policy.default).parsebytes(f.read_bytes())
                for f in sorted((site / ".extranet/outbox").glob("*.eml"))]
    note = next(w for m in to_alice if "alice@small.example" in str(m["To"]) and "Posted" not in str(m["Subject"])
                for w in m.get_body(("plain",)).get_content().split() if w.startswith("note+")).strip("<>.,")
    dns = LocalDns("small.example")
    port, stop, thread = _run_site_gateway(site, dns)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            for n, (text, signer) in enumerate((("Forged: pay the new IBAN.", None), ("Signed note.", "small.example"))):
                raw = reply_message(to=note, sender="Alice Staff <alice@small.example>", body=text,
                                    message_id=f"<note-{n}@small.example>")
                client.sendmail("alice@small.example", [note], sign(raw, signer) if signer else raw)
        wait_until(lambda: len(posts(site)) == 3)
    finally:
        stop.set()
        thread.join(30)
    by_text = {("Forged" in p.read_text()): p.read_text() for p in posts(site) if "alice" in p.read_text()}
    assert "pending: true" in by_text[True] and "posted as staff without authentication" in by_text[True]
    assert "pending" not in by_text[False] and "visibility: internal" in by_text[False]
    listing = cli(site, "moderate", "list").stdout.decode()
    assert "held: posted as staff without authentication" in listing
    assert dns.asked and all(name.endswith(b"small.example.") for name in dns.asked)


def test_on_a_site_a_stranger_gets_nothing_and_ingest_lets_the_mta_bounce(site: Path) -> None:
    before = set((site / ".extranet/outbox").glob("*.eml"))
    spam = spoof(reply_to(notification(site, "carl@acme.example"), "Cheap pills."),
                 From="BUY CHEAP PILLS <pills@evil.example>", Subject="BUY CHEAP PILLS at evil.example")
    result = cli(site, "ingest", stdin=spam)
    assert result.returncode == EX_NOPERM  # no notice from us: the MTA bounces
    assert set((site / ".extranet/outbox").glob("*.eml")) == before
