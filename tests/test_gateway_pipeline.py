"""The gateway pipeline: each refusal kind, notices and their rate limit, idempotency."""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from conftest import LOOP_ID, SITE_FROM, GatewayEnv, make_env, reply_address, reply_message
from extranet.mail.pipeline import Dropped, Duplicate, Posted, Refused, TemporaryFailure
from extranet.mail.tokens import make_address, make_token


def test_genuine_reply_is_posted_once_with_its_author_and_post(env: GatewayEnv) -> None:
    outcome = env.gateway.handle(reply_message(message_id="<m1@acme.example>"))
    assert isinstance(outcome, Posted)
    [post] = env.posts()
    text = post.read_text()
    assert "author: jdupont" in text and "in_reply_to: acme/2026-01-05-kickoff" in text
    assert env.spool.entries("done") and not env.spool.entries("new") and not env.spool.entries("cur")
    assert env.sent == []


def test_same_message_twice_posts_once(env: GatewayEnv) -> None:
    raw = reply_message(message_id="<same@acme.example>")
    assert isinstance(env.gateway.handle(raw), Posted)
    assert isinstance(env.gateway.handle(raw), Duplicate)
    # Same Message-ID, bytes differing (another Received: header, IMAP vs SMTP copy).
    assert isinstance(env.gateway.handle(b"Received: from mx2\r\n" + raw), Duplicate)
    assert len(env.posts()) == 1 and env.writer.calls == 1


def test_identical_bytes_without_message_id_post_once(env: GatewayEnv) -> None:
    raw = b"\r\n".join(l for l in reply_message().split(b"\r\n") if not l.startswith(b"Message-ID"))
    assert isinstance(env.gateway.handle(raw), Posted)
    assert isinstance(env.gateway.handle(raw), Duplicate)
    assert len(env.posts()) == 1


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
def test_refusals_explain_once_in_the_site_language(env: GatewayEnv, raw: bytes, reason: str) -> None:
    outcome = env.gateway.handle(raw, {"return_path": "jean.dupont@acme.example"})
    assert outcome == Refused(reason, True)
    assert env.posts() == [] and env.spool.entries("rejected")
    [notice] = env.sent
    assert notice["Auto-Submitted"] == "auto-replied"
    assert notice["X-Extranet-Loop"] == LOOP_ID and notice["From"] == SITE_FROM
    assert notice["Subject"].startswith("Non publié")
    assert "n'a pas pu être publié" in notice.get_content()
    assert notice["To"] == "jean.dupont@acme.example"


def test_no_notice_without_an_address_to_answer(env: GatewayEnv) -> None:
    assert env.gateway.handle(reply_message(sender="a@acme.example, b@acme.example")) == Refused("malformed", True)
    assert env.sent == []


def test_notice_goes_to_the_envelope_sender(env: GatewayEnv) -> None:
    raw = reply_message(sender="Mallory <mallory@evil.example>")
    env.gateway.handle(raw, {"return_path": "bounces@evil.example"})
    assert env.sent[0]["To"] == "bounces@evil.example"


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
def test_automated_mail_is_dropped_silently(env: GatewayEnv, headers: dict, sender: str) -> None:
    outcome = env.gateway.handle(reply_message(headers=headers, sender=sender))
    assert isinstance(outcome, Dropped)
    assert env.sent == [] and env.posts() == []


def test_at_most_one_notice_per_sender_and_reason_per_day(env: GatewayEnv) -> None:
    now = [1_000_000.0]
    env.gateway.notifier.clock = lambda: now[0]
    def mallory(n: int) -> bytes:
        return reply_message(sender="mallory@evil.example", message_id=f"<m{n}@evil.example>")
    for n in range(3):
        assert env.gateway.handle(mallory(n)) == Refused("sender_mismatch", True)
    assert len(env.sent) == 1
    env.gateway.handle(reply_message(sender="mallory@evil.example", to="x@projets.durand.example"))
    assert len(env.sent) == 2  # another reason: its own notice
    now[0] += 23 * 3600
    env.gateway.handle(mallory(10))
    assert len(env.sent) == 2
    now[0] += 2 * 3600
    env.gateway.handle(mallory(11))
    assert len(env.sent) == 3
    state = json.loads((env.spool.root / "notices.json").read_text())
    assert "mallory@evil.example sender_mismatch" in state


def test_handler_error_is_temporary_and_retried(env: GatewayEnv) -> None:
    class Flaky:
        calls = 0
        def process(self, raw, envelope):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("site locked")
            return env.writer.process(raw, envelope)
    env.gateway.handler = Flaky()
    assert isinstance(env.gateway.handle(reply_message()), TemporaryFailure)
    assert env.spool.entries("new") and env.posts() == []
    [outcome] = env.gateway.process_pending()
    assert isinstance(outcome, Posted) and len(env.posts()) == 1
    assert env.spool.entries("new") == []


def test_crash_after_post_before_finish_does_not_post_twice(env: GatewayEnv) -> None:
    """Simulate the worst crash: the post file written, the entry still in cur/."""
    entry_id = env.spool.accept(reply_message(message_id="<crash@acme.example>"), {"transport": "test"})
    with env.spool.lock():
        entry = env.spool.claim(entry_id)
        msg = BytesParser(policy=policy.default).parsebytes(entry.raw)
        envelope = env.gateway._authenticate(entry, msg, False)
        env.writer.process(entry.raw, envelope)  # ... and the process dies here
    assert env.spool.entries("cur") == [entry_id] and len(env.posts()) == 1
    restarted = make_env(env.spool.root.parent)
    [outcome] = restarted.gateway.process_pending()
    assert isinstance(outcome, Posted)
    assert len(restarted.posts()) == 1 and restarted.spool.entries("done") == [entry_id]


def test_crash_after_record_before_move_only_moves(env: GatewayEnv) -> None:
    entry_id = env.spool.accept(reply_message(), {})
    with env.spool.lock():
        entry = env.spool.claim(entry_id)
    env.spool.finish(entry, "done", {"outcome": "posted", "ref": "x"})
    env.spool.move(entry_id, "done", "cur")  # as if the rename never happened
    restarted = make_env(env.spool.root.parent)
    assert restarted.gateway.process_pending() == [Posted("x")]
    assert restarted.writer.calls == 0 and restarted.spool.entries("done") == [entry_id]


def test_truncated_index_line_is_ignored(env: GatewayEnv) -> None:
    env.gateway.handle(reply_message(message_id="<a@acme.example>"))
    with open(env.spool.root / "processed.jsonl", "ab") as handle:
        handle.write(b'{"id": "half')
    restarted = make_env(env.spool.root.parent)
    assert isinstance(restarted.gateway.handle(reply_message(message_id="<a@acme.example>")), Duplicate)
    assert isinstance(restarted.gateway.handle(reply_message(message_id="<b@acme.example>")), Posted)
    lines = (env.spool.root / "processed.jsonl").read_bytes().splitlines()
    assert all(json.loads(l) for l in lines if not l.startswith(b'{"id": "half'))
