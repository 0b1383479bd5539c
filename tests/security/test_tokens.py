"""Bearer tokens: signed, expiring, bound CSRF tokens."""

from __future__ import annotations

import asyncio

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


def test_a_token_carries_its_credential_binding_and_an_id() -> None:
    from logbroker.security.scram_store import from_password

    signer = TokenSigner(b"k" * 32, lifetime_ms=60_000)
    old = {"SCRAM-SHA-512": from_password("SCRAM-SHA-512", "one")}
    new = {"SCRAM-SHA-512": from_password("SCRAM-SHA-512", "two")}
    assert signer.credential_binding(old) != signer.credential_binding(new)
    token, _ = signer.issue("alice", 10, signer.credential_binding(old))
    claims = signer.claims(token, 11)
    assert claims is not None and claims.binding == signer.credential_binding(old) and claims.issued_ms == 10
    assert claims.token_id != signer.claims(signer.issue("alice", 10)[0], 11).token_id  # type: ignore[union-attr]


def test_revocations_refuse_a_token_or_a_user_s_older_tokens_and_survive_a_reload(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from logbroker.security.token_revocations import TokenRevocations

    signer = TokenSigner(b"k" * 32, lifetime_ms=1000)
    revocations = TokenRevocations(tmp_path, lifetime_ms=1000)
    a1, a2, b1 = (signer.claims(signer.issue(u, 0)[0], 1) for u in ("alice", "alice", "bob"))
    assert a1 and a2 and b1
    asyncio.run(revocations.revoke_token(a1, now_ms=5))
    assert revocations.is_revoked(a1) and not revocations.is_revoked(a2)
    asyncio.run(revocations.revoke_user("bob", now_ms=5))
    later = signer.claims(signer.issue("bob", 6)[0], 7)
    assert later and revocations.is_revoked(b1) and not revocations.is_revoked(later)
    reloaded = TokenRevocations(tmp_path, lifetime_ms=1000)
    assert reloaded.is_revoked(a1) and reloaded.is_revoked(b1) and not reloaded.is_revoked(a2)
    asyncio.run(reloaded.revoke_user("carol", now_ms=5000))  # past every earlier token's lifetime: old entries dropped
    import json

    kept = json.loads((tmp_path / "http-token-revocations.json").read_text())
    assert kept["tokens"] == {} and list(kept["users"]) == ["carol"]
    assert (tmp_path / "http-token-revocations.json").stat().st_mode & 0o777 == 0o600


def test_revocations_are_written_whole_by_short_writes_off_the_event_loop(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The file write continues after short writes, and runs in a worker thread, not on the loop."""
    import os
    import threading

    from logbroker.security.token_revocations import TokenRevocations

    real_write = os.write
    writers: set[str] = set()

    def short_write(fd: int, data: bytes | memoryview) -> int:
        writers.add(threading.current_thread().name)
        return real_write(fd, bytes(data[:7]))  # at most 7 bytes a call, as a full pipe or signal may leave it

    monkeypatch.setattr("segments.checkpoint.os.write", short_write)
    signer = TokenSigner(b"k" * 32, lifetime_ms=10_000)
    revocations = TokenRevocations(tmp_path, lifetime_ms=10_000)
    claims = [signer.claims(signer.issue("alice", 0)[0], 1) for _ in range(5)]

    async def revoke_all() -> str:
        for c in claims:
            assert c is not None
            await revocations.revoke_token(c, now_ms=5)
        await revocations.revoke_user("bob", now_ms=5)
        return threading.current_thread().name

    loop_thread = asyncio.run(revoke_all())
    assert writers and loop_thread not in writers
    import json

    kept = json.loads((tmp_path / "http-token-revocations.json").read_text())
    assert set(kept["tokens"]) == {c.token_id for c in claims if c is not None} and kept["users"] == {"bob": 6}
