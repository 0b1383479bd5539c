"""DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), KIP-554.

The client salts and hashes: an upsertion carries the salt, the iteration count and the salted
password, never the password; the broker derives the stored and server keys from it
(``logbroker/security/scram_store.py``). Kafka's rules, answered per user:

    case                                                     error
    unknown mechanism                                        UNSUPPORTED_SASL_MECHANISM (33)
    fewer than 4096 or more than 16384 iterations            UNACCEPTABLE_CREDENTIAL (93)
    empty user name, salt or salted password                 UNACCEPTABLE_CREDENTIAL (93)
    a user named twice in one request (any mechanisms)       DUPLICATE_RESOURCE (92)
    deleting (describing) a credential that does not exist   RESOURCE_NOT_FOUND (91)

A user with an error has none of its alterations applied. As in Kafka, describing needs DESCRIBE on
the cluster and altering ALTER on it (else CLUSTER_AUTHORIZATION_FAILED), so a user cannot read or
change anyone's credentials, its own included, without a cluster grant. Describe answers every user with a
credential when no user is named, and never the salt or keys (mechanism and iterations only).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed
from logbroker.security.scram_store import (
    MAX_ITERATIONS,
    MECHANISM_BY_CODE,
    MECHANISMS,
    MIN_ITERATIONS,
    CredentialStore,
    from_salted_password,
)

log = logging.getLogger(__name__)


async def handle_describe_user_scram_credentials(ctx: RequestContext, body: Body) -> Body:
    if not cluster_allowed(ctx, Op.DESCRIBE):
        # Kafka 4.1's refusal: the code at the top and once per named user, whose name it leaves empty.
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "error_message": None,
                "results": [{"user": "", "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "error_message": None,
                             "credential_infos": []} for _ in body.get("users") or []]}
    store = ctx.broker.credentials
    users = store.users()
    wanted = [u["name"] for u in body.get("users") or []]
    counts = Counter(wanted)
    results: list[Body] = []
    for name in (wanted if wanted else sorted(users)):
        if counts[name] > 1:
            if name in (r["user"] for r in results):
                continue
            results.append({"user": name, "error_code": ErrorCode.DUPLICATE_RESOURCE,
                            "error_message": f"Cannot describe SCRAM credentials for the same user twice in a "
                                             f"single request: {name}", "credential_infos": []})
            continue
        mechanisms = users.get(name)
        if not mechanisms:
            results.append({"user": name, "error_code": ErrorCode.RESOURCE_NOT_FOUND,
                            "error_message": f"Attempt to describe a user credential that does not exist: {name}",
                            "credential_infos": []})
            continue
        infos = [{"mechanism": MECHANISMS[m][0], "iterations": c.iterations} for m, c in sorted(mechanisms.items())]
        results.append({"user": name, "error_code": 0, "error_message": None, "credential_infos": infos})
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "results": results}


def _check_upsertion(u: Body) -> tuple[int, str] | None:
    if MECHANISM_BY_CODE.get(u["mechanism"]) is None:
        return ErrorCode.UNSUPPORTED_SASL_MECHANISM, f"Unknown SCRAM mechanism {u['mechanism']}"
    if u["iterations"] < MIN_ITERATIONS:
        return ErrorCode.UNACCEPTABLE_CREDENTIAL, f"Too few iterations: at least {MIN_ITERATIONS}"
    if u["iterations"] > MAX_ITERATIONS:
        return ErrorCode.UNACCEPTABLE_CREDENTIAL, f"Too many iterations: at most {MAX_ITERATIONS}"
    if not u["salt"] or not u["salted_password"]:
        return ErrorCode.UNACCEPTABLE_CREDENTIAL, "Salt and salted password must not be empty"
    return None


def _apply(store: CredentialStore, deletions: list[Body], upsertions: list[Body], client_id: str | None,
           done: list[str]) -> None:
    """The accepted deletions and upsertions, each user's name added to ``done`` once written;
    blocking (a worker thread)."""
    for d in deletions:
        store.delete(d["name"], MECHANISM_BY_CODE[d["mechanism"]])
        done.append(d["name"])
        log.info("SCRAM credential %s of user %r deleted (client %s)", MECHANISM_BY_CODE[d["mechanism"]],
                 d["name"], client_id)
    for u in upsertions:
        mechanism = MECHANISM_BY_CODE[u["mechanism"]]
        store.upsert(u["name"], mechanism,
                     from_salted_password(mechanism, bytes(u["salt"]), bytes(u["salted_password"]), u["iterations"]))
        done.append(u["name"])
        log.info("SCRAM credential %s of user %r set (client %s)", mechanism, u["name"], client_id)


async def handle_alter_user_scram_credentials(ctx: RequestContext, body: Body) -> Body:
    store = ctx.broker.credentials
    deletions: list[Body] = list(body.get("deletions") or [])
    upsertions: list[Body] = list(body.get("upsertions") or [])
    errors: dict[str, tuple[int, str]] = {}
    order: list[str] = []
    for item in (*deletions, *upsertions):
        if item["name"] not in order:
            order.append(item["name"])
    if not cluster_allowed(ctx, Op.ALTER):
        log.info("AlterUserScramCredentials from %s refused: no ALTER on the cluster", ctx.principal)
        return {"throttle_time_ms": 0, "results": [
            {"user": name, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
             "error_message": "Cluster authorization failed."} for name in order]}
    # Kafka refuses a user named twice in one request, even for two different mechanisms.
    seen = Counter(item["name"] for item in (*deletions, *upsertions))
    for name, n in seen.items():
        if n > 1:
            errors.setdefault(name, (ErrorCode.DUPLICATE_RESOURCE,
                                     "A user credential cannot be altered twice in the same request"))
    for item in (*deletions, *upsertions):
        if not item["name"]:
            errors.setdefault(item["name"], (ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty"))
    for d in deletions:
        mechanism = MECHANISM_BY_CODE.get(d["mechanism"])
        if mechanism is None:
            errors.setdefault(d["name"], (ErrorCode.UNSUPPORTED_SASL_MECHANISM,
                                          f"Unknown SCRAM mechanism {d['mechanism']}"))
        elif store.get(d["name"], mechanism) is None:
            errors.setdefault(d["name"], (ErrorCode.RESOURCE_NOT_FOUND,
                                          "Attempt to delete a user credential that does not exist"))
    for u in upsertions:
        problem = _check_upsertion(u)
        if problem is not None:
            errors.setdefault(u["name"], problem)
    # The store writes (a file, or ZooKeeper in a cluster) run in a worker thread: the loop never waits.
    done: list[str] = []
    try:
        await asyncio.to_thread(_apply, store, [d for d in deletions if d["name"] not in errors],
                                [u for u in upsertions if u["name"] not in errors], ctx.client_id, done)
    except (StorageError, OSError) as exc:  # ZooKeeper or the file refused a write: those not done yet fail
        log.warning("AlterUserScramCredentials from %s stopped: %s", ctx.principal, exc)
        for name in order:
            if name not in done:
                errors.setdefault(name, (int(error_code_for(exc)), str(exc)))
    results = [{"user": name, "error_code": errors[name][0] if name in errors else 0,
                "error_message": errors[name][1] if name in errors else None} for name in order]
    return {"throttle_time_ms": 0, "results": results}
