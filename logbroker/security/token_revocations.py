"""Revoked HTTP tokens: single tokens (a logout) and every token of a user issued before a moment
(an operator's revocation), kept until the tokens they refuse would have expired anyway.

    <data dir>/http-token-revocations.json
    {"tokens": {"<token id>": <its expiry, ms>}, "users": {"<user>": <refuse tokens issued before, ms>}}

The file is replaced whole (``segments.checkpoint.atomic_write``: temporary file, fsync, rename,
mode 0600), so a crash leaves the old or the new set, and a broker restarted with the same
``logbroker.http.token.secret`` still refuses what was revoked. Entries past their use are dropped on
each change, so the file stays as small as the number of revocations within one token lifetime.
Without a data directory (tests) it lives in memory.

A revocation applies in memory at once; the file is written in a worker thread (one write at a
time, each of the state as it is when that write starts, so a later write never loses an earlier
revocation) and the caller awaits it: a logout or revoke is answered only once it is durable.
A password change or a deleted user needs no entry: the token's credential binding no longer
matches (``tokens.py``). A cluster keeps its revocations in ZooKeeper instead
(``token_revocations_zookeeper.py``), so they hold on every broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Protocol

from logbroker.security.tokens import TokenClaims
from segments.checkpoint import atomic_write

log = logging.getLogger(__name__)

REVOCATIONS_FILE = "http-token-revocations.json"


class RevocationStore(Protocol):
    def is_revoked(self, claims: TokenClaims) -> bool:
        """Whether the token was revoked (never blocks)."""

    async def revoke_token(self, claims: TokenClaims, now_ms: int) -> None:
        """Refuse this token from now on; returns once that is durable."""

    async def revoke_user(self, user: str, now_ms: int) -> None:
        """Refuse every token of ``user`` issued up to now; returns once that is durable."""


class TokenRevocations:
    def __init__(self, data_dir: Path | None, lifetime_ms: int) -> None:
        self._path = data_dir / REVOCATIONS_FILE if data_dir is not None else None
        self._lifetime_ms = lifetime_ms
        self._tokens: dict[str, int] = {}
        self._users: dict[str, int] = {}
        self._state_lock = threading.Lock()  # the two maps: changed on the loop, copied by the writer
        self._write_lock = threading.Lock()  # one file write at a time
        if self._path is not None and self._path.exists():
            try:
                doc = json.loads(self._path.read_text(encoding="utf-8"))
                self._tokens = {str(k): int(v) for k, v in doc.get("tokens", {}).items()}
                self._users = {str(k): int(v) for k, v in doc.get("users", {}).items()}
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                # Refusing to start would lock every operator out; an unreadable file is loud instead.
                log.error("cannot read %s (%s): earlier token revocations are not applied", self._path, exc)

    def is_revoked(self, claims: TokenClaims) -> bool:
        if claims.token_id in self._tokens:
            return True
        not_before = self._users.get(claims.user)
        return not_before is not None and claims.issued_ms < not_before

    async def revoke_token(self, claims: TokenClaims, now_ms: int) -> None:
        """Refuse this token from now on; returns once that is durable."""
        with self._state_lock:
            self._tokens[claims.token_id] = claims.expires_ms
        await asyncio.to_thread(self._save, now_ms)

    async def revoke_user(self, user: str, now_ms: int) -> None:
        """Every token of ``user`` issued up to now is refused from now on; returns once that is durable."""
        with self._state_lock:
            self._users[user] = now_ms + 1
        await asyncio.to_thread(self._save, now_ms)

    def _save(self, now_ms: int) -> None:
        """Drop entries past their use and write the file (a worker thread)."""
        with self._write_lock:
            with self._state_lock:
                self._tokens = {k: exp for k, exp in self._tokens.items() if exp > now_ms}
                self._users = {u: t for u, t in self._users.items() if t + self._lifetime_ms > now_ms}
                data = json.dumps({"tokens": self._tokens, "users": self._users}, sort_keys=True).encode()
            if self._path is not None:
                atomic_write(self._path, data, mode=0o600)
