"""Screening: automated mail is recognised, senders are parsed strictly."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from conftest import LOOP_ID, REPLY_DOMAIN, SITE_FROM, reply_address, reply_message
from extranet.mail.inbound.screening import classify, reply_address as find_reply_address, sender_address


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def screen(raw: bytes, return_path: str | None = "jean.dupont@acme.example"):
    return classify(parse(raw), return_path=return_path, own_addresses=[SITE_FROM], loop_id=LOOP_ID)


def test_human_reply_passes() -> None:
    assert screen(reply_message()) is None
    assert screen(reply_message(headers={"Auto-Submitted": "no"})) is None
    assert screen(reply_message(), return_path=None) is None


@pytest.mark.parametrize(
    "headers, kind",
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y.z"}, "auto_reply"),
        ({"X-Autoreply": "yes"}, "auto_reply"),
        ({"X-Autorespond": "Out of office"}, "auto_reply"),
        ({"Precedence": "bulk"}, "auto_reply"),
        ({"Precedence": "junk"}, "auto_reply"),
        ({"Precedence": "list"}, "list"),
        ({"List-Id": "<news.acme.example>"}, "list"),
        ({"X-Extranet-Loop": LOOP_ID}, "loop"),
    ],
)
def test_automated_headers(headers: dict[str, str], kind: str) -> None:
    result = screen(reply_message(headers=headers))
    assert result is not None and result.kind == kind


def test_null_return_path_is_automated() -> None:
    assert screen(reply_message(), return_path="").kind == "auto_reply"
    assert screen(reply_message(), return_path="<>").kind == "auto_reply"


def test_bounces() -> None:
    assert screen(reply_message(sender="MAILER-DAEMON@mx.acme.example")).kind == "bounce"
    report = EmailMessage()
    report["From"] = "Mail Delivery System <postmaster@acme.example>"
    report["To"] = reply_address()
    report.make_mixed()
    report.set_type("multipart/report")
    assert screen(bytes(report)).kind == "bounce"


def test_our_own_mail_coming_back_is_a_loop() -> None:
    assert screen(reply_message(sender=f"Extranet <{SITE_FROM.upper()}>")).kind == "loop"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("Jean Dupont <Jean.Dupont@ACME.example>", "jean.dupont@acme.example"),
        ("jean.dupont@acme.example", "jean.dupont@acme.example"),
        ("a@acme.example, b@acme.example", None),
        ("Jean <jean@acme.example> <evil@attacker.example>", None),
        ('"jean@acme.example" <evil@attacker.example>', "evil@attacker.example"),
        ("jean.dupont", None),
        ("", None),
        ("Jean Dupont <jean.dupont@acme.example", None),
    ],
)
def test_sender_address_is_strict(header: str, expected: str | None) -> None:
    raw = b"From: " + header.encode() + b"\r\nTo: x@y.example\r\nSubject: s\r\n\r\nbody\r\n"
    assert sender_address(parse(raw)) == expected


def test_two_from_headers_are_refused() -> None:
    raw = b"From: a@acme.example\r\nFrom: b@acme.example\r\nSubject: s\r\n\r\nbody\r\n"
    assert sender_address(parse(raw)) is None


def test_reply_address_prefers_envelope_then_headers() -> None:
    addr = reply_address()
    msg = parse(reply_message(to="someone@else.example", headers={"Delivered-To": addr}))
    assert find_reply_address(msg, [], REPLY_DOMAIN)[0] == addr.lower()
    assert find_reply_address(msg, [addr], REPLY_DOMAIN)[1] == "reply"
    other_domain = addr.replace(REPLY_DOMAIN, "evil.example")
    assert find_reply_address(parse(reply_message(to=other_domain)), [], REPLY_DOMAIN) is None
