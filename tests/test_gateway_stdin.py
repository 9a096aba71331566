"""``extranet ingest`` from standard input: exit codes an MTA acts on."""

from __future__ import annotations

import io

import pytest

from conftest import GatewayEnv, reply_address, reply_message
from extranet.mail.stdin_in import EX_DATAERR, EX_NOPERM, EX_NOUSER, EX_OK, EX_TEMPFAIL, ingest


def test_reply_is_posted_and_exit_0(env: GatewayEnv) -> None:
    raw = reply_message(message_id="<stdin@acme.example>")
    assert ingest(io.BytesIO(raw), env.gateway, recipient=reply_address(), sender="jean.dupont@acme.example") == EX_OK
    assert len(env.posts()) == 1
    entry = env.spool.read(env.spool.entries("done")[0], "done")
    assert entry.meta["transport"] == "stdin" and entry.meta["return_path"] == "jean.dupont@acme.example"
    # The MTA delivers the same message again: exit 0, no second post.
    assert ingest(io.BytesIO(raw), env.gateway) == EX_OK
    assert len(env.posts()) == 1


def test_refused_with_our_notice_is_0_without_notice_is_a_bounce(env: GatewayEnv) -> None:
    raw = reply_message(sender="mallory@evil.example")
    assert ingest(io.BytesIO(raw), env.gateway) == EX_OK and len(env.sent) == 1
    env.gateway.notifier = None  # no way to explain: let the MTA bounce
    assert ingest(io.BytesIO(reply_message(sender="mallory@evil.example")), env.gateway) == EX_NOPERM
    assert ingest(io.BytesIO(reply_message(to="nobody@projets.durand.example")), env.gateway) == EX_NOUSER


def test_automated_mail_is_swallowed(env: GatewayEnv) -> None:
    raw = reply_message(headers={"Auto-Submitted": "auto-replied"})
    assert ingest(io.BytesIO(raw), env.gateway, sender="") == EX_OK
    assert env.posts() == [] and env.sent == []


def test_oversized_input_is_refused_from_its_header(env: GatewayEnv) -> None:
    raw = reply_message(body=("y" * 70 + "\n") * 5000)
    stream = io.BytesIO(raw)
    assert ingest(stream, env.gateway) == EX_OK  # refused, with a notice
    assert stream.read() == b""  # all input consumed
    [entry_id] = env.spool.entries("rejected")
    entry = env.spool.read(entry_id, "rejected")
    assert entry.meta["oversize"] == len(raw) and len(entry.raw) < 2000
    assert env.sent[0]["Subject"].startswith("Non publié")


@pytest.mark.parametrize("data", [b"", b"   \n", b"x" * 300_000])
def test_unreadable_input_is_a_data_error(env: GatewayEnv, data: bytes) -> None:
    assert ingest(io.BytesIO(data), env.gateway) == EX_DATAERR


def test_spool_failure_and_temporary_failure_are_75(env: GatewayEnv) -> None:
    class Down:
        def process(self, raw, envelope):
            raise ConnectionError("site repository unavailable")
    env.gateway.handler = Down()
    assert ingest(io.BytesIO(reply_message()), env.gateway) == EX_TEMPFAIL
    assert len(env.spool.entries("new")) == 1  # kept for the gateway's retry
    (env.spool.root / "tmp").rename(env.spool.root / "tmp.away")
    assert ingest(io.BytesIO(reply_message()), env.gateway) == EX_TEMPFAIL
