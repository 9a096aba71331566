"""Digests: one message per person and day, posts of several projects, sent the next day."""

from __future__ import annotations

import datetime as dt

from notify_support import MARGIN, NOW, Collector, html, make_site, notify, plain, post, smtp_server


def test_digest_gathers_a_day_across_projects(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        post(root, "alpha", "2026-03-10-one", "title: Alpha one\nauthor: alice\nvisibility: mixed",
             f"First.\n\n::: internal\n{MARGIN}\n:::\n")
        post(root, "alpha", "2026-03-10-two", "title: Alpha two internal\nauthor: alice", "Second.\n")
        post(root, "gamma", "2026-03-10-three", "title: Gamma three\nauthor: alice\nvisibility: mixed", "Third.\n")
        first = notify(root)
        assert first.digest_items == 4  # bob: 3 posts; dana: alpha one
        same_day = notify(root, digest=True)  # today's posts wait for tomorrow
        assert same_day.digests == 0
        assert handler.to("bob@small.example") == [] and handler.to("dana@acme.example") == []
        next_day = notify(root, now=NOW + dt.timedelta(days=1), digest=True)
        assert next_day.digests == 2
        again = notify(root, now=NOW + dt.timedelta(days=1, hours=1), digest=True)
        assert again.digests == 0
    [bob] = handler.to("bob@small.example")
    assert bob["Subject"] == "[Small Co extranet] Digest of March 10, 2026: 3 post(s)"
    text = plain(bob)
    assert text.index("[Alpha Bridge] Alpha one") < text.index("[Alpha Bridge] Alpha two internal")
    assert "[Gamma Depot] Gamma three" in text and MARGIN in text
    assert text.count("reply+") == 3 and text.count("note+") == 3
    assert bob.get_content_type() == "multipart/alternative" and "Gamma three" in html(bob)
    [dana] = handler.to("dana@acme.example")
    assert "1 post(s)" in dana["Subject"]
    assert "Alpha one" in plain(dana) and "Alpha two" not in plain(dana) and "Gamma" not in plain(dana)
    assert MARGIN not in plain(dana) and MARGIN not in html(dana) and "note+" not in plain(dana)


def test_digest_drops_a_post_unshared_meanwhile(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        post(root, "alpha", "2026-03-10-oops", "title: Oops\nauthor: alice\nvisibility: mixed", "Oops.\n")
        notify(root)
        post(root, "alpha", "2026-03-10-oops", "title: Oops\nauthor: alice", "Oops.\n")  # made internal
        report = notify(root, now=NOW + dt.timedelta(days=1), digest=True)
    assert handler.to("dana@acme.example") == []
    assert [m["Subject"] for m in handler.to("bob@small.example")][0].endswith("1 post(s)")
    assert report.digests == 1
