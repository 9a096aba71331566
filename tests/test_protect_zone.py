"""protect_zone: what the output reveals, who opens what, and key rotation."""

from __future__ import annotations

import base64
import json
import random
import zlib

import pytest

from extranet.protect import ProtectError, Secrets, decrypt_zone, protect_zone, set_password, zone_keys
from extranet.protect.crypto import ContentKey, key_for
from extranet.protect.keyring import open_keyring
from extranet.protect.shell import shell_blob

FAST = 1_000  # PBKDF2 iterations for speed in these tests; the browser tests use 600,000


def html(title: str, body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>".encode()


FILES = {
    "index.html": html("Accueil extranet", "<p>Bienvenue sur l'extranet du site.</p>"),
    "a1b2/index.html": html("Refonte usine Lyon", "<p>Budget confidentiel 1 240 000 EUR.</p><a href='c3d4.html'>next</a>"),
    "a1b2/c3d4.html": html("Compte rendu lancement", "<p>Retard du lot charpente.</p>"),
    "a1b2/f/e5f6.pdf": b"%PDF-1.4 plan du batiment B, cotes secretes " + bytes(range(256)) * 8,
    "z9y8/index.html": html("Projet Beta Fournisseur", "<p>Tarifs negocies fournisseur beta.</p>"),
    "static/theme.css": b"body{margin:0}",
}
SCOPES = {"index.html": "_site", "a1b2/index.html": "lyon", "a1b2/c3d4.html": "lyon",
          "a1b2/f/e5f6.pdf": "lyon", "z9y8/index.html": "beta"}
PEOPLE = {"jdupont": "Jean.Dupont@acme.example", "mmartin": "m.martin@beta-fournitures.example",
          "staff1": "claire@durand.example"}
GRANTS = {"jdupont": frozenset({"lyon"}), "mmartin": frozenset({"beta"}), "staff1": frozenset({"lyon", "beta"})}


@pytest.fixture
def secrets(tmp_path) -> tuple[Secrets, dict[str, str]]:
    store = Secrets.load(tmp_path / ".extranet", create=True)
    passwords = {pid: set_password(store, pid, email, iterations=FAST, bcrypt_cost=4) for pid, email in PEOPLE.items()}
    return store, passwords


def build(store: Secrets, grants=GRANTS, files=FILES, scopes=SCOPES) -> dict[str, bytes]:
    return protect_zone("mixed", files, scopes, grants, store, title="Atelier Durand", language="fr",
                        remember_days=30, tag_iterations=FAST)


def readable(out: dict[str, bytes], secrets_list: list[bytes]) -> set[str]:
    """Protected paths that these content secrets open."""
    keys = [ContentKey.from_secret(s) for s in secrets_list]
    found = set()
    for path, data in out.items():
        if path.startswith("static/") or path in ("login.html", "keyring.json"):
            continue
        blob = shell_blob(data) if path.endswith(".html") else data
        if key_for(blob, keys) is not None:
            found.add(path)
    return found


def test_output_holds_no_plaintext_of_any_page_attachment_person_or_project(secrets) -> None:
    store, _ = secrets
    out = build(store)
    assert set(out) == set(FILES) | {"login.html", "keyring.json", "static/extranet.js", "static/extranet.css"}
    everything = b"\n".join(out.values())
    decoded = everything + b"\n".join(
        base64.b64decode(m) for m in __import__("re").findall(rb'id="xn-data">([^<]+)<', everything))
    needles = []
    for path, data in FILES.items():
        if path.startswith("static/"):
            continue
        needles += [data[i : i + 24] for i in range(0, len(data) - 24, 12)]
    needles += [p.encode() for p in PEOPLE] + [e.encode() for e in PEOPLE.values()]
    needles += [e.lower().encode() for e in PEOPLE.values()] + [b'"lyon"', b'"beta"', b"Refonte usine"]
    needles += [zlib.compress(FILES["a1b2/f/e5f6.pdf"], level)[10:40] for level in (1, 6, 9)]
    for needle in needles:
        assert needle not in decoded, needle


def test_each_person_opens_exactly_their_scopes_with_id_or_email(secrets) -> None:
    store, pw = secrets
    out = build(store)
    lyon = {"index.html", "a1b2/index.html", "a1b2/c3d4.html", "a1b2/f/e5f6.pdf"}
    assert readable(out, open_keyring(out["keyring.json"], "jdupont", pw["jdupont"])) == lyon
    assert readable(out, open_keyring(out["keyring.json"], " JEAN.DUPONT@acme.example", pw["jdupont"])) == lyon
    assert readable(out, open_keyring(out["keyring.json"], "mmartin", pw["mmartin"])) == {"index.html", "z9y8/index.html"}
    assert readable(out, open_keyring(out["keyring.json"], "staff1", pw["staff1"])) == lyon | {"z9y8/index.html"}
    assert open_keyring(out["keyring.json"], "jdupont", pw["mmartin"]) is None
    assert open_keyring(out["keyring.json"], "nobody", pw["jdupont"]) is None


def test_keyring_reveals_no_member_count_or_scope_count(secrets) -> None:
    store, _ = secrets
    doc = json.loads(build(store)["keyring.json"])
    assert len(doc["entries"]) == 32  # 6 user names padded with random entries
    assert len({len(e) for e in doc["entries"].values()}) == 1
    assert len({len(t) for t in doc["entries"]}) == 1


def test_keys_persist_between_builds_when_grants_do_not_change(secrets) -> None:
    store, pw = secrets
    first = build(store)
    old = open_keyring(first["keyring.json"], "jdupont", pw["jdupont"])
    reloaded = Secrets.load(store.directory)
    second = build(reloaded)
    assert first["a1b2/index.html"] != second["a1b2/index.html"]  # fresh nonces
    assert readable(second, old) == readable(first, old)


def test_a_person_removed_opens_nothing_new_and_only_their_scopes_rotate(secrets) -> None:
    store, pw = secrets
    first = build(store)
    old_keys = open_keyring(first["keyring.json"], "jdupont", pw["jdupont"])
    beta_before = zone_keys(store, "mixed")["beta"].secret
    grants = {k: v for k, v in GRANTS.items() if k != "jdupont"}
    second = build(store, grants)
    assert readable(second, old_keys) == set()
    assert open_keyring(second["keyring.json"], "jdupont", pw["jdupont"]) is None
    assert open_keyring(second["keyring.json"], "jean.dupont@acme.example", pw["jdupont"]) is None
    assert zone_keys(store, "mixed")["beta"].secret == beta_before
    assert "a1b2/index.html" in readable(second, open_keyring(second["keyring.json"], "staff1", pw["staff1"]))


def test_losing_one_grant_rotates_that_scope_only(secrets) -> None:
    store, pw = secrets
    first = build(store)
    staff_old = open_keyring(first["keyring.json"], "staff1", pw["staff1"])
    grants = dict(GRANTS, staff1=frozenset({"lyon"}))
    second = build(store, grants)
    assert readable(second, staff_old) == {"index.html", "a1b2/index.html", "a1b2/c3d4.html", "a1b2/f/e5f6.pdf"}
    assert "z9y8/index.html" not in readable(second, open_keyring(second["keyring.json"], "staff1", pw["staff1"]))


def test_password_reset_rotates_and_old_password_is_refused(secrets) -> None:
    store, pw = secrets
    first = build(store)
    old_keys = open_keyring(first["keyring.json"], "mmartin", pw["mmartin"])
    new_password = set_password(store, "mmartin", PEOPLE["mmartin"], iterations=FAST, bcrypt_cost=4)
    second = build(store)
    assert open_keyring(second["keyring.json"], "mmartin", pw["mmartin"]) is None
    assert readable(second, old_keys) == set()
    assert readable(second, open_keyring(second["keyring.json"], "mmartin", new_password)) == {"index.html", "z9y8/index.html"}


def test_decrypt_zone_returns_every_plaintext_and_fails_on_tampering(secrets) -> None:
    store, _ = secrets
    out = build(store)
    plain = decrypt_zone(out, Secrets.load(store.directory), "mixed")
    assert plain == {p: d for p, d in FILES.items() if not p.startswith("static/")}
    broken = dict(out, **{"a1b2/f/e5f6.pdf": out["a1b2/f/e5f6.pdf"][:-1] + b"\0"})
    with pytest.raises(ProtectError):
        decrypt_zone(broken, store, "mixed")


def test_refuses_unscoped_files_missing_credentials_and_shared_user_names(secrets) -> None:
    store, _ = secrets
    with pytest.raises(ProtectError, match="no scope"):
        build(store, scopes={k: v for k, v in SCOPES.items() if k != "a1b2/c3d4.html"})
    with pytest.raises(ProtectError, match="no credentials for ghost"):
        build(store, grants=dict(GRANTS, ghost=frozenset({"lyon"})))
    set_password(store, "claire@durand.example", "other@x.example", iterations=FAST, bcrypt_cost=4)
    with pytest.raises(ProtectError, match="shared"):
        build(store, grants=dict(GRANTS, **{"claire@durand.example": frozenset()}))


def test_output_is_no_bigger_than_1_1_times_the_plaintext(secrets) -> None:
    store, _ = secrets
    rng = random.Random(7)
    words = ["chantier", "livraison", "lot", "devis", "planning", "réunion", "client", "béton", "acier",
             "validation", "semaine", "retard", "budget", "fournisseur", "plan", "étage", "façade"]
    files, scopes = {}, {}
    for i in range(40):
        paragraphs = "".join(
            "<p>" + " ".join(rng.choice(words) for _ in range(60)) + f" {rng.randint(0, 99999)}.</p>\n"
            for _ in range(rng.randint(5, 60)))
        files[f"p{i % 4}/{i}.html"] = html(f"Page {i}", "<nav><a href='../index.html'>home</a></nav>" + paragraphs)
        scopes[f"p{i % 4}/{i}.html"] = "_site"
    files["p0/photo.jpg"] = rng.randbytes(200_000)
    scopes["p0/photo.jpg"] = "_site"
    out = build(store, files=files, scopes=scopes)
    size = sum(len(out[p]) for p in files)
    assert size <= 1.1 * sum(len(d) for d in files.values())


@pytest.mark.parametrize(("language", "label"), [("fr", "Mot de passe"), ("en", "Password")])
def test_login_page_is_localised_and_ready_for_password_managers(secrets, language, label) -> None:
    store, _ = secrets
    out = protect_zone("mixed", FILES, SCOPES, GRANTS, store, title="Atelier Durand", language=language,
                       remember_days=14, tag_iterations=FAST)
    login = out["login.html"].decode()
    assert label in login and f'lang="{language}"' in login
    assert 'autocomplete="username"' in login and 'autocomplete="current-password"' in login
    assert "<noscript>" in login and 'data-xn-remember-days="14"' in login
    assert "<script>" not in login and "style=" not in login and "onclick" not in login
