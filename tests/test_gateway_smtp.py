"""SMTP transport over a real socket: 250 only once spooled, 550, 552, 451."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from conftest import REPLY_DOMAIN, GatewayEnv, reply_address, reply_message
from extranet.mail.pipeline import Posted
from extranet.mail.smtp_in import SmtpListener, SpoolingHandler, parse_listen


@pytest.fixture
def listener(gateway_env: GatewayEnv) -> Iterator[SmtpListener]:
    controller = SmtpListener(
        SpoolingHandler(gateway_env.spool, gateway_env.gateway.check_recipient, lambda entry_id: gateway_env.gateway.wake.set()),
        "127.0.0.1", 0, max_size=gateway_env.gateway.policy.max_size,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


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
