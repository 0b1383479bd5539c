"""The client quotas of a cluster, in ZooKeeper's entity config znodes where Kafka's ZooKeeper
mode kept them (layout, names and writing: ``logbroker/config_znodes.py``):

    entity                      znode                                        keys in its config map
    user (or default)           /config/users/<user>                         producer_byte_rate, ...
    user and client id          /config/users/<user>/clients/<client-id>     the same
    client id (or default)      /config/clients/<client-id>                  the same
    ip (or default)             /config/ips/<ip>                             connection_creation_rate

A value is its number as text: a whole-number key as an integer ("1024"), request_percentage and
controller_mutation_rate as a decimal ("12.5"), as Kafka's ``ZkAdminManager.alterClientQuotas``
wrote them; a user's znode also holds its SCRAM credentials, which a quota change keeps (and a
credential change keeps the quotas). The rules are those of a single broker
(``logbroker/client_quotas.py``); each accepted entity is then one conditional read-modify-write of
its znode and a change notification. Nothing is cached: every broker's DescribeClientQuotas reads
ZooKeeper, so an alteration through one broker is described by all of them at once.

Both calls block (ZooKeeper): run them in a worker thread. Each call's ZooKeeper work ends by one
deadline, ``request.timeout.ms`` after it starts (``logbroker/zookeeper_deadline.py``). Without
ZooKeeper, or past the deadline, they raise, or answer per entity (every entity not yet written),
ClusterStateUnavailableError (REQUEST_TIMED_OUT).
"""

from __future__ import annotations

import logging

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from logbroker.client_quotas import (
    Entity,
    QuotaAlteration,
    Quotas,
    Results,
    apply_ops,
    normalize,
    validate,
)
from logbroker.config_znodes import CONFIG, Config, change_config, desanitize, read_config, sanitize
from logbroker.errors import ClusterStateUnavailableError, InvalidRequestError
from logbroker.zookeeper_deadline import ZooKeeperDeadline

log = logging.getLogger(__name__)

_CLIENT_KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate")
_WHOLE_KEYS = ("producer_byte_rate", "consumer_byte_rate", "connection_creation_rate")
_IP_KEYS = ("connection_creation_rate",)


def entity_path(entity: Entity) -> str:
    """The znode of ``entity`` below /config (``users/alice/clients/app``)."""
    names = dict(entity)
    if "ip" in names:
        return f"ips/{sanitize(names['ip'])}"
    if "user" in names and "client-id" in names:
        return f"users/{sanitize(names['user'])}/clients/{sanitize(names['client-id'])}"
    if "user" in names:
        return f"users/{sanitize(names['user'])}"
    return f"clients/{sanitize(names['client-id'])}"


def value_text(key: str, value: float) -> str:
    if key in _WHOLE_KEYS:
        return str(int(value + 1e-6))
    return repr(float(value))


def _quotas_of(config: Config, keys: tuple[str, ...], where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in keys:
        if key not in config:
            continue
        try:
            out[key] = float(str(config[key]))
        except ValueError:
            log.error("skipping the unreadable quota %s=%r of %s", key, config[key], where)
    return out


class ClientQuotaZooKeeperStore:
    """A ``QuotaStorage`` over ZooKeeper (see the module docstring)."""

    def __init__(self, zk: KazooClient, timeout_s: float) -> None:
        """``timeout_s``: how long one call may wait on ZooKeeper. Blocking: built in a worker thread."""
        self.zk = zk
        self.timeout_s = timeout_s
        calls = ZooKeeperDeadline(zk, timeout_s, "client quota znodes not made")
        for kind in ("users", "clients", "ips", "changes"):
            calls.ensure_path(f"{CONFIG}/{kind}")

    def read(self) -> Quotas:
        """Every entity that has a quota. Blocking."""
        try:
            return self._read(ZooKeeperDeadline(self.zk, self.timeout_s, "client quotas not read"))
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"client quotas not read: ZooKeeper: {exc!r}") from exc

    def _read(self, calls: ZooKeeperDeadline) -> Quotas:
        quotas: Quotas = {}

        def add(entity: Entity, path: str, keys: tuple[str, ...]) -> None:
            values = _quotas_of(read_config(calls, path), keys, path)
            if values:
                quotas[normalize(entity)] = values

        for kind, entity_type, keys in (("users", "user", _CLIENT_KEYS), ("clients", "client-id", _CLIENT_KEYS),
                                        ("ips", "ip", _IP_KEYS)):
            for znode in _children(calls, f"{CONFIG}/{kind}"):
                name = desanitize(znode)
                add(((entity_type, name),), f"{CONFIG}/{kind}/{znode}", keys)
                if kind != "users":
                    continue
                for client in _children(calls, f"{CONFIG}/users/{znode}/clients"):
                    add((("user", name), ("client-id", desanitize(client))),
                        f"{CONFIG}/users/{znode}/clients/{client}", keys)
        return quotas

    def alter(self, alterations: list[QuotaAlteration], validate_only: bool) -> Results:
        """Validate, then write each accepted entity (unless ``validate_only``), all by one deadline.
        Blocking."""
        results: Results = []
        calls: ZooKeeperDeadline | None = None
        for alteration, refusal in validate(alterations):
            if refusal is not None:
                results.append((alteration, InvalidRequestError(refusal)))
            elif validate_only:
                results.append((alteration, None))
            else:
                try:
                    calls = calls or ZooKeeperDeadline(self.zk, self.timeout_s, "client quotas not changed")
                except ClusterStateUnavailableError as exc:  # not connected
                    results.append((alteration, exc))
                    continue
                results.append((alteration, self._write(calls, alteration)))
        return results

    def _write(self, calls: ZooKeeperDeadline, alteration: QuotaAlteration) -> ClusterStateUnavailableError | None:
        entity = normalize(alteration.components)
        path = entity_path(entity)
        keys = _IP_KEYS if "ip" in dict(entity) else _CLIENT_KEYS

        def change(config: Config) -> None:
            values = _quotas_of(config, keys, path)
            apply_ops(values, alteration.ops)
            for key in keys:  # only the quota keys: credentials and other entries stay as they are
                config.pop(key, None)
            config.update({k: value_text(k, v) for k, v in values.items()})

        try:
            change_config(calls, path, change)
        except ClusterStateUnavailableError as exc:
            return exc
        except KazooException as exc:
            return ClusterStateUnavailableError(f"client quotas of {path} not changed: ZooKeeper: {exc!r}")
        return None


def _children(calls: ZooKeeperDeadline, path: str) -> list[str]:
    try:
        return calls.get_children(path)
    except NoNodeError:
        return []
