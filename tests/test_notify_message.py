"""The message itself: headers, threading, alternatives, attachments, tokens, language, theme."""

from __future__ import annotations

import re

from notify_support import (Collector, add_new_posts, html, make_site, notify, plain, post, smtp_server,
                                 write)

from extranet.config import load
from extranet.mail.reply_keys import read_token as verify_token, site_token_keys


def deliver_new(tmp_path, **site_kwargs) -> tuple:
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port, **site_kwargs)
        notify(root)
        add_new_posts(root)
        notify(root)
    return root, handler


def test_headers_and_threading(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root, send_all=True)  # carl gets the kickoff
        add_new_posts(root)
        notify(root)
    kickoff, quote = handler.to("carl@acme.example")
    assert kickoff["Subject"] == "[Alpha Bridge] Kickoff"
    assert quote["Subject"] == "[Alpha Bridge] Quote for lot 2"
    assert re.fullmatch(r"<post\.[0-9a-f]{24}@projects\.small\.example>", quote["Message-ID"])
    assert quote["In-Reply-To"] == kickoff["Message-ID"]
    assert quote["References"] == kickoff["Message-ID"]
    assert "kickoff" not in kickoff["Message-ID"] and "alpha" not in kickoff["Message-ID"]
    assert quote["From"] == "Small Co extranet <extranet@small.example>"
    assert quote["To"] == "Carl Client <carl@acme.example>"
    assert quote["Auto-Submitted"] == "auto-generated"
    assert quote["Date"]
    # the same post has the same Message-ID for every recipient (stable per post)
    [eve_depot] = handler.to("eve@bolt.example")
    [alice_pricing] = handler.to("alice@small.example")
    assert eve_depot["Message-ID"] != quote["Message-ID"] != alice_pricing["Message-ID"]


def test_reply_tokens_bind_person_and_post(tmp_path):
    root, handler = deliver_new(tmp_path)
    settings, _ = load(root)
    secret = site_token_keys(settings)
    [quote] = handler.to("carl@acme.example")
    m = re.fullmatch(r"reply\+([a-z2-7]+)@projects\.small\.example", quote["Reply-To"])
    assert m, quote["Reply-To"]
    assert verify_token(secret, m.group(1)) == ("carl", "alpha/2026-03-09-quote", "reply")
    token = m.group(1)
    flipped = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    assert verify_token(secret, flipped) is None
    assert verify_token({0: b"another secret" * 2}, token) is None
    assert verify_token(secret, token[:-2]) is None
    [pricing] = handler.to("alice@small.example")
    note = re.search(r"note\+([a-z2-7]+)@projects\.small\.example", plain(pricing)).group(1)
    assert verify_token(secret, note) == ("alice", "alpha/2026-03-09-pricing", "note")
    assert f"note+{note}@projects.small.example" in html(pricing)


def test_alternatives_and_attachments(tmp_path):
    root, handler = deliver_new(tmp_path, attach_limit=200)
    [quote] = handler.to("carl@acme.example")
    assert quote.get_content_type() == "multipart/mixed"
    alternative = quote.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    attached = {p.get_filename(): p.get_content() for p in quote.iter_attachments()}
    assert attached == {"plan.txt": "small plan\n"}  # 11 bytes: attached
    # drawing.txt (481 bytes > 200) is linked, in both parts
    url = "https://projects.small.example/projects/alpha/files/drawing.txt"
    assert url in plain(quote) and f'href="{url}"' in html(quote)
    assert "https://projects.small.example/projects/alpha/2026-03-09-quote.html" in plain(quote)
    assert "<h1" in html(quote) and "<html" not in plain(quote)
    # the depot post has no attachment: a plain multipart/alternative
    [depot] = handler.to("eve@bolt.example")
    assert depot.get_content_type() == "multipart/alternative"


def test_attachment_over_the_limit_is_linked_not_attached(tmp_path):
    root, handler = deliver_new(tmp_path, attach_limit=5)
    [quote] = handler.to("carl@acme.example")
    assert list(quote.iter_attachments()) == []
    assert "https://projects.small.example/projects/alpha/files/plan.txt" in plain(quote)


def test_french_site_and_theme_override(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port, language="fr")
        write(root / "themes/default/mail/post.txt", "GABARIT DU SITE {{ title }} {{ url }}\n")
        notify(root)
        post(root, "alpha", "2026-03-10-note", "title: Point d'étape\nauthor: alice\nvisibility: mixed",
             "Bonjour à tous.\n")
        notify(root)
    [msg] = handler.to("carl@acme.example")
    assert msg["Subject"] == "[Alpha Bridge] Point d'étape"
    assert plain(msg).startswith("GABARIT DU SITE Point d'étape https://projects.small.example/")
    assert "Voir sur le site" in html(msg) and "10 mars 2026" in html(msg)
    assert "Répondez à ce courriel" in html(msg)


def test_links_point_to_built_pages(tmp_path):
    """The link of a message is a page the build wrote in the recipient's zone."""
    from extranet.build import build
    from extranet.mail.outbound.notifications import notify_new_posts
    from extranet.site.urls import Urls
    from extranet.zones import Rules

    from notify_support import NOW

    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        add_new_posts(root)
        result = build(root, encrypt=False, now=NOW)
        notify_new_posts(result.site, Rules(result.site, NOW), {z: Urls(None) for z in ("internal", "mixed")}, NOW)
    [quote] = handler.to("carl@acme.example")
    link = re.search(r"https://projects\.small\.example/(\S+\.html)", plain(quote)).group(1)
    assert (root / "public/mixed" / link).is_file()
    [pricing] = handler.to("alice@small.example")
    link = re.search(r"https://internal\.small\.example/(\S+\.html)", plain(pricing)).group(1)
    assert (root / "public/internal" / link).is_file()
