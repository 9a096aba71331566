"""Reply tokens: genuine ones verify, anything altered or unknown does not, keys rotate."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from extranet.mail.tokens import (
    TokenClaims,
    make_address,
    make_token,
    newest_key,
    parse_address,
    verify_token,
)

KEYS = {1: b"a" * 32, 2: b"b" * 32}
slug = st.from_regex(r"[a-z0-9._-]{1,20}", fullmatch=True)


def test_token_round_trip_fits_a_local_part() -> None:
    token = make_token(KEYS[2], "jdupont", "acme-renovation/2026-01-05-kickoff", "reply", key_id=2)
    assert re.fullmatch(r"[a-z2-7]+", token)
    assert len("reply+" + token) <= 64  # RFC 5321 local-part limit
    assert verify_token(KEYS, token) == TokenClaims("jdupont", "acme-renovation/2026-01-05-kickoff", "reply", 2)


@settings(max_examples=200, deadline=None)
@given(person=slug, project=slug, rest=st.one_of(slug, slug.map(lambda s: f"2025-12-31-{s}")),
       kind=st.sampled_from(["reply", "note"]))
def test_any_slugs_round_trip(person: str, project: str, rest: str, kind: str) -> None:
    post_ref = f"{project}/{rest}"
    token = make_token(KEYS[1], person, post_ref, kind, key_id=1)  # type: ignore[arg-type]
    names = Names([person], [post_ref])  # long ids: looked up among the site's
    assert verify_token(KEYS, token, names) == TokenClaims(person, post_ref, kind, 1)  # type: ignore[arg-type]


def test_uppercased_token_still_verifies() -> None:
    token = make_token(KEYS[2], "jdupont", "acme/2026-01-05-kickoff", "note", key_id=2)
    assert verify_token(KEYS, token.upper()) is not None


def test_tampered_tokens_are_refused() -> None:
    token = make_token(KEYS[2], "jdupont", "acme/2026-01-05-kickoff", "reply", key_id=2)
    for i in range(len(token)):
        for char in "a7":
            if token[i] != char:
                altered = token[:i] + char + token[i + 1:]
                assert verify_token(KEYS, altered) is None, f"position {i}"
    assert verify_token(KEYS, token[:-1]) is None
    assert verify_token(KEYS, token + "a") is None
    assert verify_token(KEYS, "") is None
    assert verify_token(KEYS, "not-base32!") is None


def test_token_signed_with_another_secret_is_refused() -> None:
    forged = make_token(b"attacker" * 4, "jdupont", "acme/2026-01-05-kickoff", "reply", key_id=2)
    assert verify_token(KEYS, forged) is None


def test_rotation_old_key_accepted_until_removed() -> None:
    old = make_token(KEYS[1], "jdupont", "acme/x", "reply", key_id=1)
    assert newest_key(KEYS) == (2, KEYS[2])
    assert verify_token(KEYS, old) is not None
    assert verify_token({2: KEYS[2]}, old) is None  # key 1 retired


def test_parse_address() -> None:
    token = make_token(KEYS[2], "jdupont", "acme/x", "note", key_id=2)
    address = make_address(token, "note", "projets.example")
    assert parse_address(address) == ("note", token)
    assert parse_address(f"<{address.upper()}>") == ("note", token)
    assert parse_address(f"reply+{token}@projets.example") == ("reply", token)
    assert parse_address("jean@projets.example") is None
    assert parse_address(f"other+{token}@projets.example") is None
    assert parse_address(f"reply+{token}@a@b") is None


# -- every reply address within RFC 5321's 64-character local part (issue 17) --------------------

long_slug = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True)


class Names:
    """The ids a site knows (people.toml, the posts in content/)."""

    def __init__(self, people: list[str], posts: list[str]) -> None:
        self.people, self.posts = people, posts

    def person_ids(self) -> list[str]:
        return self.people

    def post_refs(self) -> list[str]:
        return self.posts


def test_an_ordinary_reply_to_an_email_post_fits_in_64_characters() -> None:
    # an email post's id carries its parent's slug and a digest: 70 characters before issue 17
    post = "renovation-entrepot/2026-03-14-re-galvanisation-decoupage-des-poutres-1a2b3c4d"
    for kind in ("reply", "note"):
        token = make_token(KEYS[2], "jdupont", post, kind, key_id=2)
        local = make_address(token, kind, "projets.durand.example").partition("@")[0]
        assert len(local) <= 64, local
        names = Names(["cdurand", "jdupont"], ["renovation-entrepot/2026-03-10-kickoff", post])
        assert verify_token(KEYS, token, names) == TokenClaims("jdupont", post, kind, 2)


@settings(max_examples=300, deadline=None)
@given(person=long_slug, project=long_slug, rest=st.one_of(long_slug, long_slug.map(lambda s: f"2026-02-28-{s}")),
       kind=st.sampled_from(["reply", "note"]), others=st.lists(long_slug, max_size=5))
def test_any_ids_give_a_local_part_within_64_characters_that_verifies(
        person: str, project: str, rest: str, kind: str, others: list[str]) -> None:
    post_ref = f"{project}/{rest}"
    token = make_token(KEYS[1], person, post_ref, kind, key_id=1)  # type: ignore[arg-type]
    assert len(f"{kind}+{token}") <= 64
    names = Names([*others, person], [f"{project}/{o}" for o in others] + [post_ref])
    assert verify_token(KEYS, token, names) == TokenClaims(person, post_ref, kind, 1)  # type: ignore[arg-type]


def test_a_long_token_names_nobody_once_its_post_is_gone() -> None:
    post = "renovation-entrepot/2026-03-14-re-galvanisation-decoupage-des-poutres-1a2b3c4d"
    token = make_token(KEYS[2], "jdupont", post, "reply", key_id=2)
    assert verify_token(KEYS, token, Names(["jdupont"], ["renovation-entrepot/2026-03-10-kickoff"])) is None
    assert verify_token(KEYS, token, Names(["cdurand"], [post])) is None
    assert verify_token(KEYS, token) is None  # nothing to look the names up in
