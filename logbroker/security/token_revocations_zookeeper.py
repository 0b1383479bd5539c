"""A cluster's revoked HTTP tokens, in ZooKeeper next to the SCRAM credentials, so a logout or an
operator's revocation on one broker holds on every broker (a token signed with the cluster's shared
``logbroker.http.token.secret`` is accepted by each of them).

    path                              content
    /config/http_token_revocations    {"version":1,"tokens":{"<token id>":<its expiry, ms>},
                                       "users":{"<user>":<refuse tokens issued before, ms>}}
                                      (ours; the same sets as ``token_revocations.py``'s file)

A change is a read-modify-write conditional on the znode's version, retried when another broker
wrote in between; expired entries are dropped on each write. Every broker watches the znode
(kazoo's DataWatch, which re-arms itself and survives reconnections) and replaces its in-memory
copy whole, so checking a token never waits for ZooKeeper; another broker refuses a revoked
token once its watch fired (milliseconds). Revocations a broker kept in its own file before it
joined a cluster still hold there.
"""

from __future__ import annotations

import asyncio
import json
import logging

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import ZnodeStat
from kazoo.recipe.watchers import DataWatch

from logbroker.errors import ClusterStateUnavailableError
from logbroker.security.token_revocations import TokenRevocations
from logbroker.security.tokens import TokenClaims

log = logging.getLogger(__name__)

REVOCATIONS = "/config/http_token_revocations"
_ATTEMPTS = 10


def _decode(data: bytes | None) -> tuple[dict[str, int], dict[str, int]]:
    if not data:
        return {}, {}
    doc = json.loads(data)
    return ({str(k): int(v) for k, v in doc.get("tokens", {}).items()},
            {str(k): int(v) for k, v in doc.get("users", {}).items()})


def _encode(tokens: dict[str, int], users: dict[str, int]) -> bytes:
    return json.dumps({"version": 1, "tokens": tokens, "users": users}, sort_keys=True).encode()


class ZooKeeperTokenRevocations:
    """A ``RevocationStore`` over ZooKeeper (see the module docstring)."""

    def __init__(self, zk: KazooClient, lifetime_ms: int, local: TokenRevocations) -> None:
        """Blocking (ZooKeeper reads): build it in a worker thread."""
        self.zk = zk
        self._lifetime_ms = lifetime_ms
        self._local = local
        self._tokens: dict[str, int] = {}
        self._users: dict[str, int] = {}
        zk.ensure_path("/config")
        DataWatch(zk, REVOCATIONS, self._changed)

    def _changed(self, data: bytes | None, _stat: ZnodeStat | None) -> None:
        """Kazoo's thread: replace the in-memory sets whole (the loop only reads them)."""
        try:
            self._tokens, self._users = _decode(data)
        except (ValueError, TypeError, AttributeError) as exc:
            log.error("cannot read %s (%s): the revocations there are not applied", REVOCATIONS, exc)

    def is_revoked(self, claims: TokenClaims) -> bool:
        if claims.token_id in self._tokens or self._local.is_revoked(claims):
            return True
        not_before = self._users.get(claims.user)
        return not_before is not None and claims.issued_ms < not_before

    async def revoke_token(self, claims: TokenClaims, now_ms: int) -> None:
        await asyncio.to_thread(self._update, now_ms, tokens={claims.token_id: claims.expires_ms})

    async def revoke_user(self, user: str, now_ms: int) -> None:
        await asyncio.to_thread(self._update, now_ms, users={user: now_ms + 1})

    def _update(self, now_ms: int, tokens: dict[str, int] | None = None, users: dict[str, int] | None = None) -> None:
        """Blocking (ZooKeeper): runs in a worker thread."""
        for _ in range(_ATTEMPTS):
            try:
                data, stat = self.zk.get(REVOCATIONS)
                version: int | None = stat.version
            except NoNodeError:
                data, version = b"", None
            held_tokens, held_users = _decode(data)
            held_tokens.update(tokens or {})
            held_users.update(users or {})
            held_tokens = {k: exp for k, exp in held_tokens.items() if exp > now_ms}
            held_users = {u: t for u, t in held_users.items() if t + self._lifetime_ms > now_ms}
            payload = _encode(held_tokens, held_users)
            try:
                if version is None:
                    self.zk.create(REVOCATIONS, payload)
                else:
                    self.zk.set(REVOCATIONS, payload, version=version)
            except (BadVersionError, NodeExistsError):
                continue  # another broker wrote in between: read again
            self._tokens, self._users = held_tokens, held_users  # before the watch brings it back
            return
        raise ClusterStateUnavailableError(f"{REVOCATIONS} kept changing; the revocation was not written")
