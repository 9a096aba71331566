"""The gateway pipeline: each refusal kind, notices and their rate limit, idempotency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import LOOP_ID, SITE_FROM, GatewayEnv, make_env, reply_address, reply_message
from extranet.mail.inbound.message import InboundMessage
from extranet.mail.inbound.outcomes import Dropped, Duplicate, Posted, Refused, TemporaryFailure
from extranet.mail.tokens import make_address, make_token


def test_genuine_reply_is_posted_once_with_its_author_and_post(gateway_env: GatewayEnv) -> None:
    outcome = gateway_env.gateway.handle(reply_message(message_id="<m1@acme.example>"))
    assert isinstance(outcome, Posted)
    [post] = gateway_env.posts()
    text = post.read_text()
    assert "author: jdupont" in text and "in_reply_to: acme/2026-01-05-kickoff" in text
    assert gateway_env.spool.entries("done") and not gateway_env.spool.entries("new") and not gateway_env.spool.entries("cur")
    assert gateway_env.sent == []


def test_same_message_twice_posts_once(gateway_env: GatewayEnv) -> None:
    raw = reply_message(message_id="<same@acme.example>")
    assert isinstance(gateway_env.gateway.handle(raw), Posted)
    assert isinstance(gateway_env.gateway.handle(raw), Duplicate)
    # Same Message-ID, bytes differing (another Received: header, IMAP vs SMTP copy).
    assert isinstance(gateway_env.gateway.handle(b"Received: from mx2\r\n" + raw), Duplicate)
    assert len(gateway_env.posts()) == 1 and gateway_env.writer.calls == 1


def test_identical_bytes_without_message_id_post_once(gateway_env: GatewayEnv) -> None:
    raw = b"\r\n".join(l for l in reply_message().split(b"\r\n") if not l.startswith(b"Message-ID"))
    assert isinstance(gateway_env.gateway.handle(raw), Posted)
    assert isinstance(gateway_env.gateway.handle(raw), Duplicate)
    assert len(gateway_env.posts()) == 1


def test_duplicates_are_recognised_by_a_restarted_gateway(tmp_path: Path) -> None:
    raw = reply_message(message_id="<restart@acme.example>")
    assert isinstance(make_env(tmp_path).gateway.handle(raw), Posted)
    assert isinstance(make_env(tmp_path).gateway.handle(raw), Duplicate)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (reply_message(to="reply+aaaaaaaaaaaaaaaaaaaaaaaa@projets.durand.example"), "bad_token"),
        (reply_message(to=make_address(make_token(b"x" * 32, "jdupont", "acme/x", "reply", 2), "reply",
                                       "projets.durand.example")), "bad_token"),
        (reply_message(to=reply_address(kind="note").replace("note+", "reply+")), "bad_token"),
        (reply_message(to="jean@projets.durand.example"), "unknown_recipient"),
        (reply_message(sender="Mallory <mallory@evil.example>"), "sender_mismatch"),
        (reply_message(to=reply_address("nobody")), "unknown_person"),
        (reply_message(to=reply_address("gone"), sender="gone@acme.example"), "expired"),
        (reply_message(sender="a@acme.example, b@acme.example"), "malformed"),
        (reply_message(body=("x" * 70 + "\n") * 5000), "oversize"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_refusals_explain_once_in_the_site_language(gateway_env: GatewayEnv, raw: bytes, reason: str) -> None:
    outcome = gateway_env.gateway.handle(raw, {"return_path": "jean.dupont@acme.example"})
    assert outcome == Refused(reason, True, noticed=True)  # the envelope sender is a known person
    assert gateway_env.posts() == [] and gateway_env.spool.entries("rejected")
    [notice] = gateway_env.sent
    assert notice["Auto-Submitted"] == "auto-replied"
    assert notice["X-Extranet-Loop"] == LOOP_ID and notice["From"] == f"Atelier Durand <{SITE_FROM}>"
    assert notice["Subject"].startswith("Non publié")
    assert "n'a pas pu être publié" in notice.get_content()
    assert notice["To"] == "jean.dupont@acme.example"


def test_no_notice_without_an_address_to_answer(gateway_env: GatewayEnv) -> None:
    assert gateway_env.gateway.handle(reply_message(sender="a@acme.example, b@acme.example")) == Refused("malformed", True)
    assert gateway_env.sent == []


def test_notice_goes_to_the_envelope_sender_when_it_is_a_known_person(gateway_env: GatewayEnv) -> None:
    raw = reply_message(to="nobody@projets.durand.example")
    assert gateway_env.gateway.handle(raw, {"return_path": "marie.leroy@durand.example"}).noticed
    assert gateway_env.sent[0]["To"] == "marie.leroy@durand.example"


@pytest.mark.parametrize(
    "headers, sender",
    [
        ({"Auto-Submitted": "auto-replied"}, "Jean Dupont <jean.dupont@acme.example>"),
        ({"Precedence": "bulk"}, "Jean Dupont <jean.dupont@acme.example>"),
        ({}, "MAILER-DAEMON@acme.example"),
        ({"X-Extranet-Loop": LOOP_ID}, "Jean Dupont <jean.dupont@acme.example>"),
        ({}, SITE_FROM),
    ],
)
def test_automated_mail_is_dropped_silently(gateway_env: GatewayEnv, headers: dict, sender: str) -> None:
    outcome = gateway_env.gateway.handle(reply_message(headers=headers, sender=sender))
    assert isinstance(outcome, Dropped)
    assert gateway_env.sent == [] and gateway_env.posts() == []


def test_at_most_one_notice_per_sender_and_reason_per_day(gateway_env: GatewayEnv) -> None:
    now = [1_000_000.0]
    gateway_env.gateway.notices.clock = lambda: now[0]
    def forged(n: int) -> bytes:
        return reply_message(to="reply+aaaaaaaaaaaaaaaaaaaaaaaa@projets.durand.example", message_id=f"<m{n}@acme.example>")
    assert gateway_env.gateway.handle(forged(0)) == Refused("bad_token", True, noticed=True)
    for n in range(1, 3):
        assert gateway_env.gateway.handle(forged(n)) == Refused("bad_token", True, noticed=False)
    assert len(gateway_env.sent) == 1
    gateway_env.gateway.handle(reply_message(to="x@projets.durand.example"))
    assert len(gateway_env.sent) == 2  # another reason: its own notice
    now[0] += 23 * 3600
    gateway_env.gateway.handle(forged(10))
    assert len(gateway_env.sent) == 2
    now[0] += 2 * 3600
    gateway_env.gateway.handle(forged(11))
    assert len(gateway_env.sent) == 3
    state = json.loads((gateway_env.spool.root / "notices.json").read_text())
    assert "jean.dupont@acme.example bad_token" in state


def test_handler_error_is_temporary_and_retried(gateway_env: GatewayEnv) -> None:
    class Flaky:
        calls = 0
        def process(self, raw, envelope):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("site locked")
            return gateway_env.writer.process(raw, envelope)
    gateway_env.gateway.handler = Flaky()
    assert isinstance(gateway_env.gateway.handle(reply_message()), TemporaryFailure)
    assert gateway_env.spool.entries("new") and gateway_env.posts() == []
    [outcome] = gateway_env.gateway.process_pending()
    assert isinstance(outcome, Posted) and len(gateway_env.posts()) == 1
    assert gateway_env.spool.entries("new") == []


def test_crash_after_post_before_finish_does_not_post_twice(gateway_env: GatewayEnv) -> None:
    """Simulate the worst crash: the post file written, the entry still in cur/."""
    entry_id = gateway_env.spool.accept(reply_message(message_id="<crash@acme.example>"), {"transport": "test"})
    with gateway_env.spool.lock():
        entry = gateway_env.spool.claim(entry_id)
        checked = gateway_env.gateway._check(entry.message, entry.meta)
        gateway_env.writer.process(entry.message, gateway_env.gateway._envelope(entry, checked, False))  # ... and the process dies here
    assert gateway_env.spool.entries("cur") == [entry_id] and len(gateway_env.posts()) == 1
    restarted = make_env(gateway_env.spool.root.parent)
    [outcome] = restarted.gateway.process_pending()
    assert isinstance(outcome, Posted)
    assert len(restarted.posts()) == 1 and restarted.spool.entries("done") == [entry_id]


def test_crash_after_record_before_move_only_moves(gateway_env: GatewayEnv) -> None:
    entry_id = gateway_env.spool.accept(reply_message(), {})
    with gateway_env.spool.lock():
        entry = gateway_env.spool.claim(entry_id)
    gateway_env.spool.finish(entry, "done", {"outcome": "posted", "ref": "x"})
    gateway_env.spool.move(entry_id, "done", "cur")  # as if the rename never happened
    restarted = make_env(gateway_env.spool.root.parent)
    assert restarted.gateway.process_pending() == [Posted("x")]  # as recorded
    assert restarted.writer.calls == 0 and restarted.spool.entries("done") == [entry_id]


def test_truncated_index_line_is_ignored(gateway_env: GatewayEnv) -> None:
    gateway_env.gateway.handle(reply_message(message_id="<a@acme.example>"))
    with open(gateway_env.spool.root / "processed.jsonl", "ab") as handle:
        handle.write(b'{"id": "half')
    restarted = make_env(gateway_env.spool.root.parent)
    assert isinstance(restarted.gateway.handle(reply_message(message_id="<a@acme.example>")), Duplicate)
    assert isinstance(restarted.gateway.handle(reply_message(message_id="<b@acme.example>")), Posted)
    lines = (gateway_env.spool.root / "processed.jsonl").read_bytes().splitlines()
    assert all(json.loads(l) for l in lines if not l.startswith(b'{"id": "half'))


# -- exactly once, never swallowing (issue 17) ---------------------------------------------------


def test_a_refused_spoof_never_blocks_the_genuine_reply_with_its_message_id(gateway_env: GatewayEnv) -> None:
    forged = reply_message(sender="Mallory <mallory@evil.example>", message_id="<x1@acme.example>",
                           body="New bank details: IBAN FR76 0000")
    assert gateway_env.gateway.handle(forged).reason == "sender_mismatch"
    genuine = reply_message(message_id="<x1@acme.example>", body="Agreed, see you on Monday.")
    assert isinstance(gateway_env.gateway.handle(genuine), Posted)
    [post] = gateway_env.posts()
    assert "see you on Monday" in post.read_text() and "IBAN" not in post.read_text()


def test_a_reused_message_id_with_other_content_is_a_new_message(gateway_env: GatewayEnv,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    first = reply_message(message_id="<reused@acme.example>", body="First answer.")
    second = reply_message(message_id="<reused@acme.example>", body="A second, different answer.")
    assert isinstance(gateway_env.gateway.handle(first), Posted)
    assert isinstance(gateway_env.gateway.handle(second), Posted)
    texts = sorted(p.read_text() for p in gateway_env.posts())
    assert len(texts) == 2 and any("second, different" in t for t in texts)
    assert any("reused@acme.example" in r.getMessage() and "different content" in r.getMessage()
               for r in caplog.records)
    # and each of them, delivered again (another transport, re-encoded), is a duplicate
    again = reply_message(message_id="<reused@acme.example>", body="A second, different answer.")
    assert isinstance(gateway_env.gateway.handle(b"Received: from mx2\r\n" + again), Duplicate)
    assert len(gateway_env.posts()) == 2


def test_only_posted_or_dropped_messages_count_as_processed(gateway_env: GatewayEnv) -> None:
    auto = reply_message(message_id="<auto@acme.example>", headers={"Auto-Submitted": "auto-replied"})
    assert isinstance(gateway_env.gateway.handle(auto), Dropped)
    assert isinstance(gateway_env.gateway.handle(auto), Duplicate)  # deliberately dropped: recorded
    refused = reply_message(message_id="<r@acme.example>", to="nobody@projets.durand.example")
    assert gateway_env.gateway.handle(refused).reason == "unknown_recipient"
    assert gateway_env.gateway.handle(refused).reason == "unknown_recipient"  # refused: never recorded


def content_digest(raw: bytes) -> str:
    return InboundMessage(raw).content


def test_the_content_digest_ignores_what_transports_change_and_sees_what_the_sender_wrote() -> None:
    raw = (b"From: J\xc3\xa9r\xc3\xb4me <j@acme.example>\r\nSubject: R\xc3\xa9union\r\nMessage-ID: <d@acme.example>\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nD\xc3\xa9j\xc3\xa0 vu\r\n")
    relayed = (b"Received: from mx2\r\nDelivered-To: x@y.example\r\nFrom: =?utf-8?q?J=C3=A9r=C3=B4me?= <j@acme.example>\r\n"
               b"Subject: =?utf-8?q?R=C3=A9union?=\r\nMessage-ID: <d@acme.example>\r\nContent-Type: text/plain; "
               b"charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nD=C3=A9j=C3=A0 vu\r\n")
    assert content_digest(raw) == content_digest(relayed) == content_digest(raw.replace(b"\r\n", b"\n"))
    assert content_digest(raw) != content_digest(raw.replace(b"vu", b"lu"))
    assert content_digest(raw) != content_digest(raw.replace(b"j@acme", b"k@acme"))


def test_a_delivery_finishing_while_abandoned_writes_are_cleaned_stops_nothing(tmp_path: Path, monkeypatch) -> None:
    """The gateway cleans abandoned partial writes as it starts, while a listener may be moving
    a finished one out of tmp/: a file gone meanwhile is skipped (it stopped the gateway's loop
    once, in CI), an abandoned one still goes."""
    import os
    import time

    from extranet.mail.inbound.spool import TMP_MAX_AGE, Spool

    spool = Spool(tmp_path / "spool")
    abandoned = tmp_path / "spool" / "tmp" / "abandoned"
    abandoned.write_bytes(b"half a message")
    old = time.time() - TMP_MAX_AGE - 60
    os.utime(abandoned, (old, old))
    delivered = tmp_path / "spool" / "tmp" / "delivered"
    listing = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: iter([delivered, *listing(self)]))  # (listed, then moved)
    assert spool.clean_tmp() == 1
    assert not abandoned.exists()
