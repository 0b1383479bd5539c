"""Client quotas (KIP-546): limits set per user, client id, user and client id, or address, kept and
described as Kafka keeps and describes them. logbroker stores them; it does not throttle by them.

An entity is a set of (type, name) components: ``user``, ``client-id`` (either or both) or ``ip``
alone; a null name is the type's default entity. Its quotas are a map of keys to numbers:

    entity types          keys                                                  value type
    user, client-id       producer_byte_rate, consumer_byte_rate                whole number (Kafka's LONG)
                          request_percentage, controller_mutation_rate          any number (DOUBLE)
    ip                    connection_creation_rate                              whole number (INT)

A single broker keeps them in ``<data dir>/client-quotas.json`` (replaced whole by
``segments.checkpoint.atomic_write``; written in a worker thread):

    {"entities": [{"entity": [["user", "alice"]], "quotas": {"producer_byte_rate": 1024.0}}, ...]}

Validation follows Kafka 4.1 (its broker's checks, then its controller's ``ClientQuotaControlManager``;
the wording is Kafka's, found by the reference run of ``tests/interop/test_client_quotas.py``), per
entity of an AlterClientQuotas request; a refused entity changes nothing, the others are applied:

    case                                                    answer
    no component                                            INVALID_REQUEST "Invalid empty client quota entity"
    a type named twice                                      INVALID_REQUEST
    a type other than user, client-id, ip                   INVALID_REQUEST "Unhandled client quota entity type: T"
    an empty (not null) name                                INVALID_REQUEST "Empty T not supported"
    ip with user or client-id                               INVALID_REQUEST "Invalid quota entity combination, ..."
    an ip name that is no address                           INVALID_REQUEST "N is not a valid IP or resolvable host."
    a key named twice, or the entity named twice            INVALID_REQUEST "Ignoring duplicate entity ..."
    a key the entity's types do not have                    INVALID_REQUEST "Invalid configuration key K"
    a fractional value for a whole-number key               INVALID_REQUEST "K cannot be a fractional value."

A cluster (``zookeeper.connect``) keeps its quotas in ZooKeeper, where every broker reads and writes
them (``logbroker/client_quotas_zookeeper.py``); until a broker of a cluster has joined it, it
refuses alterations with INVALID_REQUEST (its own file would disagree with the others').

Describing (DescribeClientQuotas) matches each filter component against an entity's component of the
same type (exact name, the default, or any named one); with ``strict`` an entity must have no other
types (Kafka's ``ClientQuotasImage.describe``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from logbroker.errors import BrokerError, InvalidRequestError
from segments.checkpoint import atomic_write

log = logging.getLogger(__name__)

QUOTAS_FILE = "client-quotas.json"
ENTITY_TYPES = ("user", "client-id", "ip")
_CLIENT_KEYS = {"producer_byte_rate": "long", "consumer_byte_rate": "long",
                "request_percentage": "double", "controller_mutation_rate": "double"}
_IP_KEYS = {"connection_creation_rate": "int"}
MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2
CLUSTER_REFUSAL = ("client quotas of a cluster (zookeeper.connect) are kept in ZooKeeper, which this broker has "
                   "not joined yet")

# An entity: its (type, name) components sorted by type; a None name is the default entity.
Entity = tuple[tuple[str, str | None], ...]
Quotas = dict[Entity, dict[str, float]]


@dataclass(frozen=True, slots=True)
class QuotaOp:
    key: str
    value: float
    remove: bool


@dataclass(frozen=True, slots=True)
class QuotaAlteration:
    components: tuple[tuple[str, str | None], ...]  # as the request gave them (order, repeats)
    ops: tuple[QuotaOp, ...]


# Per alteration: None when applied (or, validating only, when it would be), else why not.
Results = list[tuple[QuotaAlteration, BrokerError | None]]


class QuotaStorage(Protocol):
    """Where a broker's client quotas are kept: its file, or a cluster's ZooKeeper. Both calls
    block (a worker thread)."""

    def read(self) -> Quotas: ...

    def alter(self, alterations: list[QuotaAlteration], validate_only: bool) -> Results: ...


def entity_text(components: Iterable[tuple[str, str | None]]) -> str:
    """An entity as Kafka names it in messages (``ClientQuotaEntity(entries={user=alice})``)."""
    inner = ", ".join(f"{t}={n}" for t, n in components)
    return f"ClientQuotaEntity(entries={{{inner}}})"


def _valid_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _keys_of(components: tuple[tuple[str, str | None], ...]) -> dict[str, str]:
    """The quota keys of an entity; InvalidRequestError when its components do not hold."""
    if not components:
        raise InvalidRequestError("Invalid empty client quota entity")
    seen: dict[str, str | None] = {}
    for entity_type, name in components:
        if entity_type in seen:
            raise InvalidRequestError(f"Invalid empty client quota entity, duplicate entity entry {entity_type}")
        if entity_type not in ENTITY_TYPES:
            raise InvalidRequestError(f"Unhandled client quota entity type: {entity_type}")
        if name is not None and not name:
            raise InvalidRequestError(f"Empty {entity_type} not supported")
        seen[entity_type] = name
    if "ip" in seen:
        if len(seen) > 1:  # (Kafka's wording, its missing space included)
            raise InvalidRequestError("Invalid quota entity combination, IP entity shouldnot be combined with "
                                      "User or ClientId")
        address = seen["ip"]
        if address is not None and not _valid_address(address):
            raise InvalidRequestError(f"{address} is not a valid IP or resolvable host.")
        return _IP_KEYS
    return _CLIENT_KEYS


def _check_value(keys: Mapping[str, str], key: str, value: float) -> None:
    kind = keys.get(key)
    if kind is None:
        raise InvalidRequestError(f"Invalid configuration key {key}")
    if kind in ("long", "int") and abs(float(int(value + 1e-6)) - value) > 1e-6:
        raise InvalidRequestError(f"{key} cannot be a fractional value.")


def check(alteration: QuotaAlteration) -> None:
    """InvalidRequestError when ``alteration`` breaks a rule that holds whatever is stored."""
    keys = _keys_of(alteration.components)
    for op in alteration.ops:
        if not op.remove:
            _check_value(keys, op.key, op.value)


def validate(alterations: Iterable[QuotaAlteration]) -> list[tuple[QuotaAlteration, str | None]]:
    """Per alteration, None or the refusal's message (repeated entities and keys, ``check``)."""
    results: list[tuple[QuotaAlteration, str | None]] = []
    done: set[Entity] = set()
    for alteration in alterations:
        entity = normalize(alteration.components)
        keys_named = [op.key for op in alteration.ops]
        if entity in done or len(set(keys_named)) != len(keys_named):
            results.append((alteration, f"Ignoring duplicate entity {entity_text(alteration.components)}"))
            continue
        done.add(entity)
        try:
            check(alteration)
        except InvalidRequestError as exc:
            results.append((alteration, str(exc)))
            continue
        results.append((alteration, None))
    return results


def apply_ops(values: dict[str, float], ops: Iterable[QuotaOp]) -> None:
    for op in ops:
        if op.remove:
            values.pop(op.key, None)
        else:
            values[op.key] = float(op.value)


def normalize(components: Iterable[tuple[str, str | None]]) -> Entity:
    return tuple(sorted(components, key=lambda c: c[0]))


class ClientQuotaStore:
    """The quotas of a single broker (see the module docstring). Changes are planned on the event
    loop (``plan``) and written by ``save`` in a worker thread, one write at a time."""

    def __init__(self, data_dir: Path | None, *, clustered: bool = False) -> None:
        self._path = data_dir / QUOTAS_FILE if data_dir is not None else None
        # A cluster's quotas belong in ZooKeeper, where every broker would read them; until they are
        # kept there, a broker of a cluster refuses to store any (one broker's file would disagree).
        self._clustered = clustered
        self._quotas: Quotas = {}
        self._write_lock = threading.Lock()
        if self._path is not None and self._path.exists():
            try:
                doc = json.loads(self._path.read_text(encoding="utf-8"))
                for item in doc.get("entities", []):
                    entity = normalize((str(t), None if n is None else str(n)) for t, n in item["entity"])
                    self._quotas[entity] = {str(k): float(v) for k, v in item["quotas"].items()}
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.error("cannot read %s (%s): client quotas start empty", self._path, exc)

    def quotas(self) -> Quotas:
        return {e: dict(q) for e, q in self._quotas.items()}

    def read(self) -> Quotas:
        return self.quotas()

    def plan(self, alterations: Iterable[QuotaAlteration]) -> tuple[Quotas, list[tuple[QuotaAlteration, str | None]]]:
        """The quotas after ``alterations`` and, per alteration, None or the refusal's message."""
        quotas = self.quotas()
        results = validate(alterations)
        if self._clustered:
            results = [(a, refusal or CLUSTER_REFUSAL) for a, refusal in results]
        for alteration, refusal in results:
            if refusal is None:
                entity = normalize(alteration.components)
                values = quotas.setdefault(entity, {})
                apply_ops(values, alteration.ops)
                if not values:
                    del quotas[entity]
        return quotas, results

    def alter(self, alterations: list[QuotaAlteration], validate_only: bool) -> Results:
        """Plan and (unless ``validate_only``) save. Blocking: a worker thread."""
        quotas, results = self.plan(alterations)
        if not validate_only and any(refusal is None for _, refusal in results):
            self.save(quotas)
        return [(a, None if refusal is None else InvalidRequestError(refusal)) for a, refusal in results]

    def save(self, quotas: Quotas) -> None:
        """Make ``quotas`` the stored set (blocking: a worker thread)."""
        with self._write_lock:
            if self._path is not None:
                doc = {"entities": [{"entity": [list(c) for c in entity], "quotas": values}
                                    for entity, values in sorted(quotas.items(), key=lambda i: repr(i[0]))]}
                atomic_write(self._path, json.dumps(doc, indent=1).encode())
            self._quotas = {e: dict(q) for e, q in quotas.items()}


def describe(quotas: Quotas, components: Iterable[tuple[str, int, str | None]], strict: bool) -> Quotas:
    """The entities of ``quotas`` a DescribeClientQuotas filter matches (filter already checked)."""
    wanted = list(components)
    out: Quotas = {}
    for entity, values in quotas.items():
        names = dict(entity)
        if strict and set(names) != {t for t, _, _ in wanted}:
            continue
        if all(_matches(names, t, match_type, match) for t, match_type, match in wanted):
            out[entity] = dict(values)
    return out


def _matches(names: Mapping[str, str | None], entity_type: str, match_type: int, match: str | None) -> bool:
    if entity_type not in names:
        return False
    name = names[entity_type]
    if match_type == MATCH_EXACT:
        return name == match
    if match_type == MATCH_DEFAULT:
        return name is None
    return name is not None
