"""Bearer tokens: signed, expiring, bound CSRF tokens."""

from __future__ import annotations

from logbroker.security.tokens import TokenSigner


def test_a_token_names_its_user_until_it_expires() -> None:
    signer = TokenSigner(b"k" * 32, lifetime_ms=1000)
    token, expires = signer.issue("alice", now_ms=5000)
    assert expires == 6000
    assert signer.verify(token, 5999) == "alice"
    assert signer.verify(token, 6000) is None


def test_a_forged_or_foreign_token_is_refused() -> None:
    signer = TokenSigner(b"k" * 32, lifetime_ms=60_000)
    token, _ = signer.issue("alice", now_ms=0)
    body, _, signature = token.partition(".")
    other_body, _, _ = signer.issue("admin", now_ms=0)[0].partition(".")
    assert signer.verify(f"{other_body}.{signature}", 1) is None  # another payload, alice's signature
    assert signer.verify(body, 1) is None and signer.verify("not a token", 1) is None
    assert TokenSigner(b"x" * 32, 60_000).verify(token, 1) is None  # another broker's secret
    assert TokenSigner(None, 60_000).verify(token, 1) is None  # a random secret per process


def test_the_csrf_token_is_bound_to_the_session() -> None:
    signer = TokenSigner(b"k" * 32, lifetime_ms=60_000)
    a, _ = signer.issue("alice", now_ms=0)
    b, _ = signer.issue("alice", now_ms=1)
    assert signer.csrf_for(a) == signer.csrf_for(a) != signer.csrf_for(b)
