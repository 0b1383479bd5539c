"""``logbroker users``: SCRAM users through the Admin API (AlterUserScramCredentials and
DescribeUserScramCredentials, KIP-554), as ``kafka-configs --entity-type users`` does.

The password is salted and hashed on this side (kafka-python derives the salted password); it
travels neither in argv nor, unsalted, on the wire.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialDeletion, UserScramCredentialUpsertion

from logbroker.tools.errors import ToolError

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _check(results: dict[str, str | None], what: str) -> None:
    failed = {user: message for user, message in results.items() if message}
    if failed:
        raise ToolError("; ".join(f"cannot {what} user {u!r}: {m}" for u, m in failed.items()))


def add_user(admin: KafkaAdminClient, user: str, password: str, mechanisms: tuple[str, ...],
             iterations: int) -> None:
    # One request per mechanism: Kafka refuses a user named twice in one request.
    for mechanism in mechanisms:
        _check(admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, mechanism, password, iterations=iterations)]), "add")


def delete_user(admin: KafkaAdminClient, user: str, mechanisms: tuple[str, ...]) -> list[str]:
    """Delete the user's credentials of ``mechanisms`` it has; the mechanisms deleted."""
    have = {m for m, _ in list_users(admin, [user]).get(user, [])}
    if not have & set(mechanisms):
        raise ToolError(f"user {user!r} has no SCRAM credential ({', '.join(mechanisms)})")
    deleted = [m for m in mechanisms if m in have]
    for mechanism in deleted:
        _check(admin.alter_user_scram_credentials([UserScramCredentialDeletion(user, mechanism)]), "delete")
    return deleted


def list_users(admin: KafkaAdminClient, users: list[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """user -> [(mechanism, iterations)]; users named but unknown are left out."""
    described = admin.describe_user_scram_credentials(users)
    out: dict[str, list[tuple[str, int]]] = {}
    for user, result in described.items():
        if result["error"] is None:
            out[user] = sorted((str(i["mechanism"].name).replace("_", "-"), int(i["iterations"]))
                               for i in result["credential_infos"])
    return out
