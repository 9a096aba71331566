"""Blob format, credentials and the secrets store of the protect stage."""

from __future__ import annotations

import json
import math
import os
import re
import stat

import bcrypt
import pytest

from extranet.protect import ProtectError, Secrets, generate_password, htpasswd_line, remove_person, set_password, verify_password
from extranet.protect.credentials import ALPHABET, PASSWORD_ENTROPY_BITS
from extranet.protect.crypto import HEADER_SIZE, ContentKey, key_for, open_blob, padded_size, seal


def test_seal_round_trip_compresses_text_and_keeps_random_bytes_raw() -> None:
    key = ContentKey.generate()
    text = b"<p>Le lot 3 est livre le 12 mars.</p>\n" * 500
    blob = seal(key, text)
    assert open_blob(key, blob) == text
    assert len(blob) < len(text) / 10
    noise = os.urandom(20_000)
    blob = seal(key, noise)
    assert open_blob(key, blob) == noise
    assert padded_size(len(noise)) - len(noise) <= 0.12 * len(noise)
    assert len(blob) == padded_size(len(noise)) + HEADER_SIZE + 16
    assert open_blob(key, seal(key, b"")) == b""


def test_sealed_sizes_fall_in_few_buckets() -> None:
    """Padded to Padmé buckets: pages of neighbouring sizes are told apart by nothing, and
    what padding costs stays under 12 %."""
    key = ContentKey.generate()
    sizes = {len(seal(key, os.urandom(n), compress=False)) for n in range(3000, 3300)}
    assert len(sizes) <= 3
    for n in (1, 255, 256, 1000, 4097, 65_537, 1_000_003):
        assert n < padded_size(n) <= max(256, n * 1.12 + 1)
    assert len(seal(key, b"x", size=4096)) == 4096 + HEADER_SIZE + 16  # an asked-for size


def test_same_plaintext_encrypts_differently_each_time() -> None:
    key = ContentKey.generate()
    assert seal(key, b"same page") != seal(key, b"same page")


@pytest.mark.parametrize("where", [0, 4, 6, 20, HEADER_SIZE + 1, -1])
def test_any_tampering_is_detected(where: int) -> None:
    key = ContentKey.generate()
    blob = bytearray(seal(key, b"<p>budget: 12 000 EUR</p>" * 20))
    blob[where] ^= 0x01
    with pytest.raises(ProtectError):
        candidate = key_for(bytes(blob), [key])
        if candidate is None:
            raise ProtectError("hint no longer matches")
        open_blob(candidate, bytes(blob))


def test_truncated_blob_is_refused() -> None:
    key = ContentKey.generate()
    blob = seal(key, b"abc" * 100)
    with pytest.raises(ProtectError):
        open_blob(key, blob[:-1])
    with pytest.raises(ProtectError):
        open_blob(key, blob[:10])


def test_hint_finds_the_right_key_and_a_wrong_key_opens_nothing() -> None:
    keys = [ContentKey.generate() for _ in range(5)]
    blob = seal(keys[3], b"page of project 3")
    assert key_for(blob, keys) is keys[3]
    assert key_for(blob, keys[:3] + keys[4:]) is None
    forged = ContentKey(keys[3].secret, keys[0].enc_key, keys[3].hint_key)
    with pytest.raises(ProtectError):
        open_blob(forged, blob)


def test_generated_passwords_are_easy_to_type_and_strong() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert re.fullmatch(rf"[{ALPHABET}]{{5}}(-[{ALPHABET}]{{5}}){{3}}", password)
        assert not set(password) & set("0o1liI")
    assert PASSWORD_ENTROPY_BITS >= 64
    assert math.isclose(PASSWORD_ENTROPY_BITS, 20 * math.log2(31))


def test_credentials_store_no_password_and_a_working_bcrypt_hash(tmp_path) -> None:
    secrets = Secrets.load(tmp_path / ".extranet", create=True)
    password = set_password(secrets, "jdupont", "jean@acme.example", iterations=1000, bcrypt_cost=10)
    secrets.save()
    text = (tmp_path / ".extranet" / "secrets.json").read_text()
    assert password not in text
    assert stat.S_IMODE((tmp_path / ".extranet" / "secrets.json").stat().st_mode) == 0o600
    line = htpasswd_line(secrets, "jdupont")
    user, hashed = line.split(":", 1)
    assert user == "jdupont" and hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert verify_password(secrets, "jdupont", password)
    assert not verify_password(secrets, "jdupont", password.upper())
    reloaded = Secrets.load(tmp_path / ".extranet")
    assert verify_password(reloaded, "jdupont", password)


def test_default_credentials_use_600k_iterations_and_bcrypt_cost_12(tmp_path) -> None:
    secrets = Secrets.load(tmp_path, create=True)
    set_password(secrets, "a", "a@x.example", "given password")
    cred = secrets.people["a"]
    assert cred.iterations >= 600_000
    assert cred.bcrypt_hash.startswith("$2b$12$")
    salts = [cred.wrap(zone).salt for zone in ("internal", "mixed")]
    assert all(len(s) == 16 for s in salts) and salts[0] != salts[1]  # a salt of each zone's own


def test_reset_changes_password_and_salt_remove_forgets(tmp_path) -> None:
    secrets = Secrets.load(tmp_path, create=True)
    first = set_password(secrets, "a", "a@x.example", iterations=1000, bcrypt_cost=4)
    salt = secrets.people["a"].wrap("mixed").salt
    second = set_password(secrets, "a", "a@x.example", iterations=1000, bcrypt_cost=4)
    assert first != second and secrets.people["a"].wrap("mixed").salt != salt
    assert not verify_password(secrets, "a", first)
    remove_person(secrets, "a")
    assert not verify_password(secrets, "a", second)
    with pytest.raises(ProtectError):
        remove_person(secrets, "a")


def test_missing_or_damaged_secrets_give_a_clear_error(tmp_path) -> None:
    with pytest.raises(ProtectError, match="no secrets found"):
        Secrets.load(tmp_path / ".extranet")
    secrets = Secrets.load(tmp_path / ".extranet", create=True)
    set_password(secrets, "a", "a@x.example", iterations=1000, bcrypt_cost=4)
    secrets.zone("mixed").keys["_site"] = os.urandom(32)
    secrets.save()
    file = tmp_path / ".extranet" / "secrets.json"
    good = file.read_text()
    file.write_text(good[: len(good) // 2])
    with pytest.raises(ProtectError, match="damaged"):
        Secrets.load(tmp_path / ".extranet")
    data = json.loads(good)
    data["zones"]["mixed"]["keys"]["_site"] = "c2hvcnQ="
    file.write_text(json.dumps(data))
    with pytest.raises(ProtectError, match="damaged"):
        Secrets.load(tmp_path / ".extranet")
    file.write_text(good)
    assert Secrets.load(tmp_path / ".extranet").zones["mixed"].keys["_site"] == secrets.zones["mixed"].keys["_site"]
