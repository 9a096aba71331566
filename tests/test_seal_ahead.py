"""Files sealed ahead by the render workers: the output is the one the parent would seal —
each file opens with the key its scope has after the build, a rotated scope included — and a
file sealed with any other key is sealed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from extranet.build import build
from extranet.protect import Secrets, decrypt_zone, set_password
from extranet.protect import zone as zone_mod
from extranet.protect.crypto import ContentKey, open_blob
from extranet.protect.zone import Sealer, protect_zone
from extranet.render import pool

from helpers import NOW, read_tree
from test_incremental import CHANGES, _site

ZONES = ("internal", "mixed")


def _parent_seals(monkeypatch) -> list[str]:
    """Counts the files the build process itself seals (a worker's calls stay in the worker)."""
    sealed: list[str] = []
    real = zone_mod.seal
    monkeypatch.setattr(zone_mod, "seal", lambda key, data, **kw: sealed.append(key) or real(key, data, **kw))
    return sealed


def _reset_password(root: Path) -> None:
    """The client's password reset: every scope they could open gets a new key."""
    secrets = Secrets.load(root / ".extranet")
    set_password(secrets, "carl", "carl@acme.example", "new-password", iterations=1000, bcrypt_cost=4)
    secrets.save()


@pytest.mark.parametrize("change", [None, "password reset", "person removed", "mixed to internal"])
def test_files_sealed_by_the_workers_open_as_the_parents_do(tmp_path: Path, monkeypatch, change) -> None:
    monkeypatch.setattr(pool, "POOL_THRESHOLD", 0)
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True, jobs=1)  # keys and grants of an earlier build
    if change == "password reset":
        _reset_password(root)
    elif change:
        CHANGES[change](root)
    before = Secrets.load(root / ".extranet")
    parent = _parent_seals(monkeypatch)
    result = build(root, now=NOW, encrypt=True, jobs=2, cache=False)  # the build's audit opens every file
    private = sum(1 for t in result.written.values() for p in t if p.endswith(".html") and "static/" not in p)
    assert 0 < len(parent) < private / 2  # most pages were sealed by the workers
    build(root, now=NOW, encrypt=True, jobs=1, cache=False, out=tmp_path / "serial")
    secrets = Secrets.load(root / ".extranet")
    if change == "password reset":  # rotated, and still shown in the mixed zone (sealed by a worker)
        assert secrets.zones["mixed"].keys["alpha"] != before.zones["mixed"].keys["alpha"]
    for zone in ZONES:
        workers, serial = read_tree(root / "public" / zone), read_tree(tmp_path / "serial" / zone)
        assert workers.keys() == serial.keys()
        assert decrypt_zone(workers, secrets, zone) == decrypt_zone(serial, secrets, zone)


def test_a_file_sealed_ahead_with_another_key_is_sealed_again(tmp_path: Path) -> None:
    secrets = Secrets(tmp_path)
    page, other = b"<p>secret plan</p>", ContentKey.generate()
    stale = Sealer("internal", {"p": other.secret}, title="T", language="en")
    ahead = stale.seal_all({"p/a.html": page}, {"p/a.html": "p"})
    out = protect_zone("internal", {"p/a.html": page}, {"p/a.html": "p"}, {}, secrets, title="T",
                       language="en", remember_days=1, sealed=ahead)
    assert out["p/a.html"] != ahead["p/a.html"][2]
    key = ContentKey.from_secret(secrets.zones["internal"].keys["p"])
    assert decrypt_zone(out, secrets, "internal")["p/a.html"] == page
    with pytest.raises(Exception):
        open_blob(other, zone_mod.shell_blob(out["p/a.html"]))
    assert key.secret != other.secret


def test_a_file_sealed_ahead_with_the_right_key_is_taken_only_for_that_plaintext(tmp_path: Path) -> None:
    secrets = Secrets(tmp_path)
    key = ContentKey.generate()
    sealer = Sealer("internal", {"p": key.secret}, title="T", language="en")
    ahead = sealer.seal_all({"p/a.html": b"<p>old</p>"}, {"p/a.html": "p"})
    out = protect_zone("internal", {"p/a.html": b"<p>new</p>"}, {"p/a.html": "p"}, {}, secrets, title="T",
                       language="en", remember_days=1, sealed=ahead, fresh=sealer.keys)
    assert decrypt_zone(out, secrets, "internal")["p/a.html"] == b"<p>new</p>"
    same = b"<p>old</p>"
    ahead = sealer.seal_all({"p/a.html": same}, {"p/a.html": "p"})
    out = protect_zone("internal", {"p/a.html": ahead["p/a.html"][0]}, {"p/a.html": "p"}, {}, secrets, title="T",
                       language="en", remember_days=1, sealed=ahead, fresh=sealer.keys)
    assert out["p/a.html"] is ahead["p/a.html"][2]  # taken as sealed


def test_a_rotated_key_is_never_given_back_as_a_fresh_one(tmp_path: Path) -> None:
    """Had the planning kept a scope's old key (a person lost it), protect_zone still rotates."""
    secrets = Secrets(tmp_path)
    files, scopes = {"p/a.html": b"<p>x</p>"}, {"p/a.html": "p"}
    grants = {"ann": frozenset({"p"})}
    set_password(secrets, "ann", "ann@x.example", "pw", iterations=1000, bcrypt_cost=4)
    protect_zone("internal", files, scopes, grants, secrets, title="T", language="en", remember_days=1)
    old = secrets.zones["internal"].keys["p"]
    protect_zone("internal", files, scopes, {}, secrets, title="T", language="en", remember_days=1,
                 fresh={"p": old})  # ann lost "p": its key must change
    assert secrets.zones["internal"].keys["p"] != old


def _audit_case(tmp_path: Path, page: bytes = b"<p>plan for everyone</p>"):
    """A mixed zone of one page, sealed ahead by a Sealer with the key its scope then has."""
    from extranet.zones import View

    secrets = Secrets(tmp_path)
    sealer = Sealer("mixed", {"p": ContentKey.generate().secret}, title="T", language="en")
    ahead = sealer.seal_all({"p/a.html": page}, {"p/a.html": "p"})
    tree = protect_zone("mixed", {"p/a.html": page}, {"p/a.html": "p"}, {}, secrets, title="T", language="en",
                        remember_days=1, sealed=ahead, fresh=sealer.keys)
    view = View.__new__(View)
    object.__setattr__(view, "grants", {})
    return secrets, ahead, tree, {"mixed": view}
