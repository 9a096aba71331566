"""Who receives what: zone rules, preferences, expiry, drafts/future/pending, first run."""

from __future__ import annotations

import datetime as dt

from notify_support import (MARGIN, NOW, PRICING, Collector, add_new_posts, everything, html, make_site,
                                 notify, plain, post, smtp_server)


def run_site(tmp_path, **kwargs):
    """First run (baseline), new posts, second run against a real SMTP server."""
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        first = notify(root)
        assert first.baselined == 1 and first.sent == 0 and handler.messages == []
        add_new_posts(root)
        report = notify(root, **kwargs)
    return root, handler, report


def subjects(handler: Collector, address: str) -> set[str]:
    return {m["Subject"] for m in handler.to(address)}


def test_each_person_gets_what_their_zone_shows(tmp_path):
    root, handler, report = run_site(tmp_path)
    assert subjects(handler, "alice@small.example") == {"[Alpha Bridge] Pricing strategy internal"}
    # carl (ACME, immediate): the shared quote only; never the internal pricing post, never gamma
    assert subjects(handler, "carl@acme.example") == {"[Alpha Bridge] Quote for lot 2"}
    # eve: member of gamma only
    assert subjects(handler, "eve@bolt.example") == {"[Gamma Depot] Depot update"}
    # expired sam, zoe (notify = none), bob and dana (digest) get nothing now
    for nobody in ("sam@bolt.example", "zoe@small.example", "bob@small.example", "dana@acme.example"):
        assert handler.to(nobody) == []
    assert report.sent == len(handler.messages) == 3
    assert report.digest_items == 3  # bob: quote and depot (he wrote pricing); dana: quote
    for rcpt, msg in handler.messages:
        assert "Draft thing" not in msg["Subject"] and "Future" not in msg["Subject"]
        assert "Pending" not in msg["Subject"]


def test_mixed_post_internal_passage_only_for_staff(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        add_new_posts(root)
        # make bob immediate so that a staff member receives the quote
        people = (root / "people.toml").read_text().replace('notify = "digest"\n[people.zoe]', '\n[people.zoe]')
        (root / "people.toml").write_text(people)
        notify(root)
    [carl] = handler.to("carl@acme.example")
    assert MARGIN not in everything(carl) and PRICING not in everything(carl)
    assert "costs.txt" not in everything(carl)
    assert "Here is our quote" in plain(carl) and "Thanks." in html(carl)
    assert "note+" not in everything(carl)
    [bob] = [m for m in handler.to("bob@small.example") if "Quote" in m["Subject"]]
    assert MARGIN in plain(bob) and MARGIN in html(bob)
    assert "Internal passage" in plain(bob)
    assert "note+" in plain(bob) and bob["Reply-To"].startswith("reply+")
    assert "https://internal.small.example/" in plain(bob)
    assert "https://projects.small.example/" in plain(carl)
    assert "internal.small.example" not in everything(carl)


def test_nothing_twice_and_later_publication_is_announced(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        add_new_posts(root)
        notify(root)
        count = len(handler.messages)
        again = notify(root)
        assert again.sent == 0 and len(handler.messages) == count
        # the future post comes out, the draft is published, the pending post approved
        later = NOW + dt.timedelta(days=11)
        draft = root / "content/projects/alpha/posts/2026-03-10-draft.md"
        draft.write_text(draft.read_text().replace("draft: true\n", ""))
        pending = root / "content/projects/alpha/posts/2026-03-10-pending.md"
        pending.write_text(pending.read_text().replace("pending: true\n", ""))
        notify(root, now=later)
    carl = subjects(handler, "carl@acme.example")
    assert {"[Alpha Bridge] Future thing", "[Alpha Bridge] Draft thing"} <= carl
    assert "[Alpha Bridge] Pending reply" not in carl  # carl wrote it
    assert "[Alpha Bridge] Pending reply" in subjects(handler, "alice@small.example")


def test_post_shared_later_reaches_externals_then(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        notify(root)
        post(root, "alpha", "2026-03-10-memo", "title: Memo\nauthor: bob", "Staff memo.\n")
        notify(root)
        assert handler.to("carl@acme.example") == []
        assert subjects(handler, "alice@small.example") == {"[Alpha Bridge] Memo"}
        post(root, "alpha", "2026-03-10-memo", "title: Memo\nauthor: bob\nvisibility: mixed", "Staff memo.\n")
        notify(root)
    assert subjects(handler, "carl@acme.example") == {"[Alpha Bridge] Memo"}
    assert len(handler.to("alice@small.example")) == 1  # staff were told already


def test_first_run_all_mails_existing_posts(tmp_path):
    handler = Collector()
    with smtp_server(handler) as port:
        root = make_site(tmp_path / "site", port=port)
        report = notify(root, send_all=True)
    assert report.baselined == 0
    assert subjects(handler, "carl@acme.example") == {"[Alpha Bridge] Kickoff"}
