"""SMTP transport over a real socket: 250 only once spooled, 550, 552, 554, 451; refusals known
before the 250 answered in the session; SMTPUTF8, long lines, DKIM checked on arrival."""

from __future__ import annotations

import contextlib
import dataclasses
import smtplib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POLICY, REPLY_DOMAIN, GatewayEnv, make_env, reply_address, reply_message
from dkim_support import sign
from extranet.config import MailAuth
from extranet.mail.inbound.outcomes import Posted
from extranet.mail.inbound.smtp import SmtpListener, SpoolingHandler, parse_listen


@contextlib.contextmanager
def listening(env: GatewayEnv) -> Iterator[SmtpListener]:
    gateway = env.gateway
    controller = SmtpListener(
        SpoolingHandler(env.spool, gateway.check_recipient, lambda entry_id: gateway.wake.set(), gateway.screen),
        "127.0.0.1", 0, max_size=gateway.policy.max_size,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def listener(gateway_env: GatewayEnv) -> Iterator[SmtpListener]:
    with listening(gateway_env) as controller:
        yield controller


def connect(listener: SmtpListener) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", listener.port, timeout=10)
    client.ehlo("mx.acme.example")
    return client


def test_250_arrives_only_when_the_message_is_in_the_spool(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    raw = reply_message(message_id="<smtp1@acme.example>")
    seen_at_250: list[list[str]] = []
    client = connect(listener)
    client.mail("jean.dupont@acme.example")
    assert client.rcpt(reply_address())[0] == 250
    code, text = client.data(raw)
    seen_at_250.append(gateway_env.spool.entries("new"))  # the moment we hold the 250
    client.quit()
    assert code == 250
    [entry_id] = seen_at_250[0]
    assert entry_id.encode() in text
    entry = gateway_env.spool.read(entry_id, "new")
    assert entry.raw == raw
    assert entry.meta["return_path"] == "jean.dupont@acme.example"
    assert gateway_env.gateway.wake.is_set()
    assert isinstance(gateway_env.gateway.process_pending()[0], Posted) and len(gateway_env.posts()) == 1


def test_unknown_recipients_are_refused_at_rcpt(listener: SmtpListener) -> None:
    client = connect(listener)
    client.mail("jean.dupont@acme.example")
    forged = "reply+" + "a" * 48 + "@" + REPLY_DOMAIN
    other_domain = reply_address().replace(REPLY_DOMAIN, "elsewhere.example")
    for rcpt in ("postmaster@" + REPLY_DOMAIN, forged, other_domain):
        code, _ = client.rcpt(rcpt)
        assert code == 550, rcpt
    client.rset()
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        client.sendmail("jean.dupont@acme.example", [forged], reply_message())
    client.quit()


def test_oversized_message_gets_552(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    client = connect(listener)
    assert "size" in client.esmtp_features
    with pytest.raises(smtplib.SMTPDataError) as error:
        client.mail("jean.dupont@acme.example")
        client.rcpt(reply_address())
        code, msg = client.data(reply_message(body=("x" * 70 + "\n") * 5000))
        raise smtplib.SMTPDataError(code, msg)
    assert error.value.smtp_code == 552
    client.close()
    assert gateway_env.spool.entries("new") == []


def test_unwritable_spool_gets_451_then_retry_succeeds(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    tmp_dir = gateway_env.spool.root / "tmp"
    tmp_dir.rename(gateway_env.spool.root / "tmp.away")  # root ignores permissions: remove the dir instead
    try:
        client = connect(listener)
        client.mail("jean.dupont@acme.example")
        client.rcpt(reply_address())
        code, _ = client.data(reply_message())
        client.quit()
        assert code == 451
        assert gateway_env.spool.entries("new") == []
    finally:
        (gateway_env.spool.root / "tmp.away").rename(tmp_dir)
    client = connect(listener)
    assert client.sendmail("jean.dupont@acme.example", [reply_address()], reply_message()) == {}
    client.quit()
    assert len(gateway_env.spool.entries("new")) == 1


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_listen("[::1]:25") == ("::1", 25)
    with pytest.raises(ValueError):
        parse_listen("localhost")


def send(listener: SmtpListener, raw: bytes, sender: str = "jean.dupont@acme.example",
         rcpt: str | None = None, options: tuple[str, ...] = ()) -> tuple[int, bytes]:
    """MAIL, RCPT, DATA on one connection; the DATA reply."""
    client = connect(listener)
    try:
        assert client.mail(sender, list(options))[0] == 250
        assert client.rcpt(rcpt or reply_address())[0] == 250
        return client.data(raw)
    finally:
        client.close()


# -- issue 17 ------------------------------------------------------------------------------------


def test_a_refusal_known_before_the_250_is_given_in_the_session(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    """The sending MTA tells its sender; nothing is accepted to be dropped, nobody gets our notice."""
    code, text = send(listener, reply_message(sender="Mallory <mallory@evil.example>"), "mallory@evil.example")
    assert code == 550 and b"belongs to another person" in text
    code, _ = send(listener, reply_message(to=reply_address("gone"), sender="gone@acme.example"), "gone@acme.example",
                   rcpt=reply_address("gone"))
    assert code == 550
    assert gateway_env.spool.entries("new") == [] and gateway_env.sent == []
    code, _ = send(listener, reply_message())  # a genuine reply still gets its 250
    assert code == 250 and len(gateway_env.spool.entries("new")) == 1


def test_empty_data_is_refused_in_the_session(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    code, _ = send(listener, b"")
    assert code == 554
    assert gateway_env.spool.entries("new") == []


def raw_utf8_reply(body: str, *, sender: str = "Jean Dupont <jean.dupont@acme.example>",
                   subject: str = "Re: Kickoff") -> bytes:
    """A reply written as an SMTPUTF8 client sends it: raw UTF-8 headers (RFC 6532), 8-bit body."""
    return (f"From: {sender}\r\nTo: {reply_address()}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@acme.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n").encode()


@pytest.mark.parametrize("length", [1_500, 150_000])
def test_long_lines_are_accepted_as_postfix_accepts_them(gateway_env: GatewayEnv, listener: SmtpListener,
                                                         length: int) -> None:
    raw = raw_utf8_reply("Bonjour, " + "voici une longue ligne " * (length // 23) + "fin.")
    assert max(len(line) for line in raw.split(b"\r\n")) > length - 100
    code, _ = send(listener, raw, options=("BODY=8BITMIME",))
    assert code == 250
    [outcome] = gateway_env.gateway.process_pending()
    assert isinstance(outcome, Posted) and "fin." in gateway_env.posts()[0].read_text()


def test_smtputf8_and_raw_utf8_headers_are_accepted(gateway_env: GatewayEnv, listener: SmtpListener) -> None:
    client = connect(listener)
    assert "smtputf8" in client.esmtp_features
    client.close()
    raw = raw_utf8_reply("D'accord pour jeudi.", sender="Jérôme Dupré-Éléonore <jean.dupont@acme.example>",
                         subject="Re: Réunion à Zürich")
    code, _ = send(listener, raw, options=("SMTPUTF8", "BODY=8BITMIME"))
    assert code == 250
    [outcome] = gateway_env.gateway.process_pending()
    assert isinstance(outcome, Posted), outcome
    assert gateway_env.writer.envelopes[0].sender == "jean.dupont@acme.example"


def test_dkim_is_checked_on_arrival_and_kept_with_the_message(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    staff = reply_address("mleroy", kind="note")
    unsigned = reply_message(to=staff, sender="Marie Leroy <marie.leroy@durand.example>", body="Internal: unsigned.")
    signed = sign(reply_message(to=staff, sender="Marie Leroy <marie.leroy@durand.example>", body="Internal: signed."),
                  "durand.example")
    other = sign(reply_message(to=staff, sender="Marie Leroy <marie.leroy@durand.example>", body="Internal: other."),
                 "evil.example")  # a valid signature, but not of her domain
    with listening(env) as listener:
        for raw in (unsigned, signed, other):
            assert send(listener, raw, "marie.leroy@durand.example", rcpt=staff)[0] == 250
    metas = [env.spool.read(e, "new").meta for e in env.spool.entries("new")]
    assert [m["dkim"] for m in metas] == [[], ["durand.example"], ["evil.example"]]
    env.gateway.policy.dns.asked.clear()
    assert all(isinstance(o, Posted) for o in env.gateway.process_pending())
    assert env.gateway.policy.dns.asked == []  # checked once, on arrival
    held = {e.message_id: e.held for e in env.writer.envelopes}
    bodies = {e.message_id: e for e in env.writer.envelopes}
    assert [bool(h) for h in held.values()] == [True, False, True]
    assert [e.authenticated for e in bodies.values()] == [False, True, False]
    assert "posted as staff without authentication" in next(iter(held.values()))[0]


@pytest.mark.parametrize("external, code", [("accept", 250), ("moderate", 250), ("refuse", 550)])
def test_unauthenticated_external_mail_as_the_policy_says(tmp_path: Path, external: str, code: int) -> None:
    env = make_env(tmp_path, dataclasses.replace(POLICY, auth=MailAuth(external=external)))
    with listening(env) as listener:
        assert send(listener, reply_message(body="Unsigned."))[0] == code
        assert send(listener, sign(reply_message(body="Signed."), "acme.example"))[0] == 250
    outcomes = env.gateway.process_pending()
    assert all(isinstance(o, Posted) for o in outcomes)
    assert [bool(e.held) for e in env.writer.envelopes] == ([False, False] if external == "accept" else
                                                          [True, False] if external == "moderate" else [False])
