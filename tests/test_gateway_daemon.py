"""``extranet gateway`` end to end: SMTP and IMAP feeding one processor, posts appear."""

from __future__ import annotations

import smtplib
import threading
import time

import pytest
from imapclient import IMAPClient

from conftest import GatewayEnv, reply_address, reply_message
from dovecot import Dovecot, free_port
from extranet.mail.daemon import Transports, run_gateway
from extranet.mail.inbound.imap import ImapSettings


def test_smtp_and_imap_replies_become_posts(gateway_env: GatewayEnv, dovecot: Dovecot) -> None:
    port = free_port()
    imap = ImapSettings(host=dovecot.host, port=dovecot.port, user=dovecot.user, password=dovecot.password,
                        security="none", idle_tick=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=run_gateway, args=(gateway_env.gateway, Transports(("127.0.0.1", port), imap), stop))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "SMTP listener did not start"
                time.sleep(0.05)
        with client:
            client.sendmail("jean.dupont@acme.example", [reply_address()], reply_message(message_id="<s@a.example>"))
        with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as mailbox:
            mailbox.login(dovecot.user, dovecot.password)
            mailbox.append("INBOX", reply_message(message_id="<i@a.example>"))
            # The same message also reaches the mailbox: still one post.
            mailbox.append("INBOX", reply_message(message_id="<s@a.example>"))
        deadline = time.monotonic() + 10
        while len(gateway_env.spool.entries("done")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert len(gateway_env.spool.entries("done")) == 3
    texts = [p.read_text() for p in gateway_env.posts()]
    assert sorted(t.split("message_id: ")[1].split("\n")[0] for t in texts) == ["i@a.example", "s@a.example"]


def test_no_transport_is_an_error(gateway_env: GatewayEnv) -> None:
    with pytest.raises(ValueError, match="no inbound transport"):
        run_gateway(gateway_env.gateway, Transports(), threading.Event())
