"""``extranet ingest`` from standard input: exit codes an MTA acts on."""

from __future__ import annotations

import io

import pytest

from conftest import GatewayEnv, reply_address, reply_message
from extranet.mail.inbound.stdin import EX_DATAERR, EX_NOPERM, EX_NOUSER, EX_OK, EX_TEMPFAIL, ingest


def test_reply_is_posted_and_exit_0(gateway_env: GatewayEnv) -> None:
    raw = reply_message(message_id="<stdin@acme.example>")
    assert ingest(io.BytesIO(raw), gateway_env.gateway, recipient=reply_address(), sender="jean.dupont@acme.example") == EX_OK
    assert len(gateway_env.posts()) == 1
    entry = gateway_env.spool.read(gateway_env.spool.entries("done")[0], "done")
    assert entry.meta["transport"] == "stdin" and entry.meta["return_path"] == "jean.dupont@acme.example"
    # The MTA delivers the same message again: exit 0, no second post.
    assert ingest(io.BytesIO(raw), gateway_env.gateway) == EX_OK
    assert len(gateway_env.posts()) == 1


def test_refused_with_our_notice_is_0_without_notice_is_a_bounce(gateway_env: GatewayEnv) -> None:
    raw = reply_message(to=reply_address("nobody"))  # from jean, a known person: explained
    assert ingest(io.BytesIO(raw), gateway_env.gateway) == EX_OK and len(gateway_env.sent) == 1
    # a stranger gets no notice from us (no backscatter): the MTA bounces
    assert ingest(io.BytesIO(reply_message(sender="mallory@evil.example")), gateway_env.gateway) == EX_NOPERM
    assert len(gateway_env.sent) == 1
    gateway_env.gateway.notices = None  # no way to explain: let the MTA bounce
    assert ingest(io.BytesIO(reply_message(sender="mallory@evil.example")), gateway_env.gateway) == EX_NOPERM
    assert ingest(io.BytesIO(reply_message(to="nobody@projets.durand.example")), gateway_env.gateway) == EX_NOUSER


def test_automated_mail_is_swallowed(gateway_env: GatewayEnv) -> None:
    raw = reply_message(headers={"Auto-Submitted": "auto-replied"})
    assert ingest(io.BytesIO(raw), gateway_env.gateway, sender="") == EX_OK
    assert gateway_env.posts() == [] and gateway_env.sent == []


def test_oversized_input_is_refused_from_its_header(gateway_env: GatewayEnv) -> None:
    raw = reply_message(body=("y" * 70 + "\n") * 5000)
    stream = io.BytesIO(raw)
    assert ingest(stream, gateway_env.gateway) == EX_OK  # refused, with a notice
    assert stream.read() == b""  # all input consumed
    [entry_id] = gateway_env.spool.entries("rejected")
    entry = gateway_env.spool.read(entry_id, "rejected")
    assert entry.meta["oversize"] == len(raw) and len(entry.raw) < 2000
    assert gateway_env.sent[0]["Subject"].startswith("Non publié")


@pytest.mark.parametrize("data", [b"", b"   \n", b"x" * 300_000])
def test_unreadable_input_is_a_data_error(gateway_env: GatewayEnv, data: bytes) -> None:
    assert ingest(io.BytesIO(data), gateway_env.gateway) == EX_DATAERR


def test_spool_failure_and_temporary_failure_are_75(gateway_env: GatewayEnv) -> None:
    class Down:
        def process(self, raw, envelope):
            raise ConnectionError("site repository unavailable")
    gateway_env.gateway.handler = Down()
    assert ingest(io.BytesIO(reply_message()), gateway_env.gateway) == EX_TEMPFAIL
    assert len(gateway_env.spool.entries("new")) == 1  # kept for the gateway's retry
    (gateway_env.spool.root / "tmp").rename(gateway_env.spool.root / "tmp.away")
    assert ingest(io.BytesIO(reply_message()), gateway_env.gateway) == EX_TEMPFAIL
