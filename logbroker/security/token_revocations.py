"""Revoked HTTP tokens: single tokens (a logout) and every token of a user issued before a moment
(an operator's revocation), kept until the tokens they refuse would have expired anyway.

    <data dir>/http-token-revocations.json
    {"tokens": {"<token id>": <its expiry, ms>}, "users": {"<user>": <refuse tokens issued before, ms>}}

The file is replaced whole (temporary file, fsync, rename), so a crash leaves the old or the new
set, and a broker restarted with the same ``logbroker.http.token.secret`` still refuses what was
revoked. Entries past their use are dropped on each change, so the file stays as small as the
number of revocations within one token lifetime. Without a data directory (tests) it lives in
memory. A password change or a deleted user needs no entry: the token's credential binding no
longer matches (``tokens.py``). A cluster keeps its revocations in ZooKeeper instead
(``token_revocations_zookeeper.py``), so they hold on every broker.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from logbroker.security.tokens import TokenClaims

log = logging.getLogger(__name__)

REVOCATIONS_FILE = "http-token-revocations.json"


class RevocationStore(Protocol):
    def is_revoked(self, claims: TokenClaims) -> bool:
        """Whether the token was revoked (never blocks)."""

    def revoke_token(self, claims: TokenClaims, now_ms: int) -> None:
        """Refuse this token from now on (blocking: run it in a worker thread)."""

    def revoke_user(self, user: str, now_ms: int) -> None:
        """Refuse every token of ``user`` issued up to now (blocking: run it in a worker thread)."""


class TokenRevocations:
    def __init__(self, data_dir: Path | None, lifetime_ms: int) -> None:
        self._path = data_dir / REVOCATIONS_FILE if data_dir is not None else None
        self._lifetime_ms = lifetime_ms
        self._lock = threading.Lock()  # one change at a time (worker threads)
        self._tokens: dict[str, int] = {}
        self._users: dict[str, int] = {}
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

    def revoke_token(self, claims: TokenClaims, now_ms: int) -> None:
        with self._lock:
            self._save(now_ms, {**self._tokens, claims.token_id: claims.expires_ms}, self._users)

    def revoke_user(self, user: str, now_ms: int) -> None:
        """Every token of ``user`` issued up to now is refused from now on."""
        with self._lock:
            self._save(now_ms, self._tokens, {**self._users, user: now_ms + 1})

    def _save(self, now_ms: int, tokens: dict[str, int], users: dict[str, int]) -> None:
        # New dicts replace the old whole: the event loop reads them while this runs in a worker thread.
        self._tokens = {k: exp for k, exp in tokens.items() if exp > now_ms}
        self._users = {u: t for u, t in users.items() if t + self._lifetime_ms > now_ms}
        if self._path is None:
            return
        tmp = self._path.with_name(self._path.name + ".tmp")
        data = json.dumps({"tokens": self._tokens, "users": self._users}, sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
