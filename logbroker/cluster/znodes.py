"""The znodes of a cluster and their JSON layouts, as Apache Kafka's ZooKeeper-era brokers write them.

    path                                         ephemeral  content
    /brokers/ids/<id>                            yes        {"version":4,"host","port","endpoints":["PLAINTEXT://h:p"],
                                                            "listener_security_protocol_map","jmx_port":-1,
                                                            "timestamp":"<ms>","rack":null,
                                                            "logbroker_http":"http://h:p"} (the last is
                                                            ours: the HTTP API's base URL; Kafka's readers
                                                            ignore fields they do not know)
    /controller                                  yes        {"version":1,"brokerid":<id>,"timestamp":"<ms>"}
    /controller_epoch                            no         "<epoch>" (decimal); its zkVersion fences writes
    /brokers/topics/<topic>                      no         {"version":3,"topic_id":"<base64url uuid>",
                                                            "partitions":{"<p>":[replica ids]},
                                                            "adding_replicas":{"<p>":[ids]},
                                                            "removing_replicas":{"<p>":[ids]}}
                                                            (the last two non-empty while reassigning)
    /config/topics/<topic>                       no         {"version":1,"config":{"<name>":"<value>"}}
    /brokers/topics/<topic>/partitions/<p>/state no         {"version":1,"leader":<id or -1>,"leader_epoch":<n>,
                                                            "isr":[ids],"controller_epoch":<n>}

    /admin/delete_topics/<topic>                 no         empty: the topic is marked for deletion (Kafka's
                                                            DeleteTopics in ZooKeeper mode writes it; the
                                                            controller deletes the topic's znodes, then it)
    /admin/delete_topics/<topic>/<id>            no         empty, ours: replica <id> deleted its copy (what
                                                            Kafka's StopReplica response with delete tells
                                                            its controller)
    /latest_producer_id_block                    no         {"version":1,"broker":<id>,"block_start":"<n>",
                                                            "block_end":"<n>"} (the last block claimed; inclusive end)

A partition's state changes only by a conditional write (``set`` with the zkVersion read); the
controller's writes also check ``/controller_epoch``'s zkVersion in the same transaction, so a
controller that lost its election cannot overwrite a newer one's decisions.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kazoo.exceptions import BadVersionError, NoNodeError

from logbroker.errors import (
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    NoReassignmentInProgressError,
    UnknownTopicError,
)
from logbroker.zookeeper_deadline import ZooKeeperCalls

BROKER_IDS = "/brokers/ids"
TOPICS = "/brokers/topics"
TOPIC_CONFIGS = "/config/topics"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
PRODUCER_ID_BLOCK = "/latest_producer_id_block"
DELETE_TOPICS = "/admin/delete_topics"
NO_LEADER = -1


def broker_path(broker_id: int) -> str:
    return f"{BROKER_IDS}/{broker_id}"


def topic_path(topic: str) -> str:
    return f"{TOPICS}/{topic}"


def topic_config_path(topic: str) -> str:
    return f"{TOPIC_CONFIGS}/{topic}"


def partition_state_path(topic: str, partition: int) -> str:
    return f"{TOPICS}/{topic}/partitions/{partition}/state"


def delete_topic_path(topic: str) -> str:
    return f"{DELETE_TOPICS}/{topic}"


def deleted_copy_path(topic: str, broker_id: int) -> str:
    return f"{DELETE_TOPICS}/{topic}/{broker_id}"


def _now_ms() -> str:
    return str(time.time_ns() // 1_000_000)


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    broker_id: int
    host: str  # the inter-broker listener's address (followers fetch from it)
    port: int
    # Every client listener: name -> (host, port), and name -> security protocol (Kafka's fields).
    endpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    protocols: dict[str, str] = field(default_factory=dict)
    http: str = ""  # the HTTP API's base URL ("" until it listens): other brokers forward group routes there

    def to_json(self) -> bytes:
        endpoints = self.endpoints or {"PLAINTEXT": (self.host, self.port)}
        protocols = self.protocols or {name: "PLAINTEXT" for name in endpoints}
        doc: dict[str, object] = {
            "version": 4, "host": self.host, "port": self.port, "jmx_port": -1, "timestamp": _now_ms(),
            "endpoints": [f"{name}://{h}:{p}" for name, (h, p) in endpoints.items()],
            "listener_security_protocol_map": protocols, "rack": None,
        }
        if self.http:
            doc["logbroker_http"] = self.http
        return json.dumps(doc).encode()

    @classmethod
    def from_json(cls, broker_id: int, data: bytes) -> BrokerRegistration:
        doc = json.loads(data)
        endpoints: dict[str, tuple[str, int]] = {}
        for endpoint in doc.get("endpoints") or ():
            name, _, hostport = endpoint.partition("://")
            h, _, p = hostport.rpartition(":")
            if name and h and p.isdigit():
                endpoints[name] = (h.strip("[]"), int(p))
        host, port = doc.get("host"), doc.get("port")
        if not host or port in (None, -1):
            host, port = next(iter(endpoints.values())) if endpoints else (host, port)
        protocols = doc.get("listener_security_protocol_map") or {}
        http = doc.get("logbroker_http")
        return cls(broker_id, str(host), int(port), endpoints, {str(k): str(v) for k, v in protocols.items()},
                   http if isinstance(http, str) else "")

    def address_for(self, listener: str | None) -> tuple[str, int]:
        """Where clients of ``listener`` reach this broker (its inter-broker address when it has no
        listener of that name)."""
        if listener is not None and listener in self.endpoints:
            return self.endpoints[listener]
        return self.host, self.port


def controller_json(broker_id: int) -> bytes:
    return json.dumps({"version": 1, "brokerid": broker_id, "timestamp": _now_ms()}).encode()


def controller_id(data: bytes) -> int:
    return int(json.loads(data)["brokerid"])


def uuid_to_kafka(value: uuid.UUID) -> str:
    """Kafka's ``Uuid.toString``: URL-safe base64 of the 16 bytes, without padding."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def uuid_from_kafka(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@dataclass(frozen=True, slots=True)
class TopicAssignment:
    """A topic's replicas per partition. While a partition is reassigned (KIP-455) its replicas are the
    target replicas followed by the original ones not in the target; ``adding`` and ``removing`` hold
    the replicas that join and leave (Kafka's ``adding_replicas``/``removing_replicas``)."""

    topic_id: uuid.UUID
    replicas: tuple[tuple[int, ...], ...]  # index: partition; in preference order (the first is preferred)
    adding: dict[int, tuple[int, ...]] = field(default_factory=dict)
    removing: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps({
            "version": 3, "topic_id": uuid_to_kafka(self.topic_id),
            "partitions": {str(p): list(r) for p, r in enumerate(self.replicas)},
            "adding_replicas": {str(p): list(r) for p, r in sorted(self.adding.items())},
            "removing_replicas": {str(p): list(r) for p, r in sorted(self.removing.items())},
        }).encode()

    @classmethod
    def from_json(cls, data: bytes) -> TopicAssignment:
        doc = json.loads(data)
        parts = {int(p): tuple(int(b) for b in r) for p, r in doc["partitions"].items()}

        def by_partition(key: str) -> dict[int, tuple[int, ...]]:
            return {int(p): tuple(int(b) for b in r) for p, r in (doc.get(key) or {}).items() if r}

        return cls(uuid_from_kafka(doc["topic_id"]), tuple(parts[p] for p in range(len(parts))),
                   by_partition("adding_replicas"), by_partition("removing_replicas"))

    def all_replicas(self) -> set[int]:
        """Every broker holding a replica of any of the topic's partitions."""
        return {b for replicas in self.replicas for b in replicas}

    def reassigning(self, partition: int) -> bool:
        return partition in self.adding or partition in self.removing

    def target(self, partition: int) -> tuple[int, ...]:
        """The replicas the partition ends up with (its replicas when no reassignment runs)."""
        leaving = self.removing.get(partition, ())
        return tuple(r for r in self.replicas[partition] if r not in leaving)

    def original(self, partition: int) -> tuple[int, ...]:
        """The replicas before the running reassignment (its replicas when none runs)."""
        joining = self.adding.get(partition, ())
        return tuple(r for r in self.replicas[partition] if r not in joining)

    def with_partition(self, partition: int, replicas: tuple[int, ...], adding: tuple[int, ...] = (),
                       removing: tuple[int, ...] = ()) -> TopicAssignment:
        """A copy with one partition's replicas (and reassignment state) replaced."""
        reps = list(self.replicas)
        reps[partition] = replicas
        add, rem = dict(self.adding), dict(self.removing)
        add.pop(partition, None)
        rem.pop(partition, None)
        if adding:
            add[partition] = adding
        if removing:
            rem[partition] = removing
        return TopicAssignment(self.topic_id, tuple(reps), add, rem)


def reassignment(original: tuple[int, ...], target: tuple[int, ...]
                 ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(replicas while moving, adding, removing) of a reassignment from ``original`` to ``target``:
    the target first (its first replica is the preferred leader), then the originals that leave."""
    adding = tuple(r for r in target if r not in original)
    removing = tuple(r for r in original if r not in target)
    return target + removing, adding, removing


def checked_replicas(replicas: Sequence[int], live: Sequence[int], replication_factor: int) -> tuple[int, ...]:
    """A replica list given by a client: ``replication_factor`` distinct registered brokers."""
    out = tuple(int(r) for r in replicas)
    if not out:
        raise InvalidReplicaAssignmentError("an empty replica list")
    if len(set(out)) != len(out):
        raise InvalidReplicaAssignmentError(f"duplicate brokers in the replica list {list(out)}")
    if len(out) != replication_factor:
        raise InvalidReplicaAssignmentError(
            f"the replica list {list(out)} does not have the topic's replication factor {replication_factor}")
    unknown = [r for r in out if r not in live]
    if unknown:
        raise InvalidReplicaAssignmentError(f"unknown broker(s) {unknown} in the replica list {list(out)}")
    return out


def reassign(assignment: TopicAssignment, partition: int, target: tuple[int, ...] | None) -> TopicAssignment | None:
    """The assignment once a reassignment of ``partition`` to ``target`` started (None: cancel the
    running one, back to the original replicas); None when nothing changes."""
    original = assignment.original(partition)
    if target is None:
        if not assignment.reassigning(partition):
            raise NoReassignmentInProgressError("There is no ongoing reassignment for this partition to cancel.")
        return assignment.with_partition(partition, original)
    if target == original and not assignment.reassigning(partition):
        return None
    replicas, adding, removing = reassignment(original, target)
    return assignment.with_partition(partition, replicas, adding, removing)


def update_topic(zk: ZooKeeperCalls, topic: str,
                 change: Callable[[TopicAssignment], TopicAssignment]) -> TopicAssignment:
    """Rewrite a topic's assignment conditionally on the znode's version (read again when it moved)."""
    path = topic_path(topic)
    for _ in range(5):
        try:
            data, stat = zk.get(path)
        except NoNodeError:
            raise UnknownTopicError(f"Topic '{topic}' does not exist.") from None
        new = change(TopicAssignment.from_json(data))
        try:
            zk.set(path, new.to_json(), version=stat.version)
        except BadVersionError:
            continue
        return new
    raise InvalidPartitionsError(f"the assignment of {topic} kept changing; retry")


def topic_config_json(config: dict[str, str]) -> bytes:
    return json.dumps({"version": 1, "config": config}).encode()


def topic_config(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(data).get("config", {}).items()}


@dataclass(frozen=True, slots=True)
class PartitionState:
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int

    def to_json(self) -> bytes:
        return json.dumps({"version": 1, "leader": self.leader, "leader_epoch": self.leader_epoch,
                           "isr": list(self.isr), "controller_epoch": self.controller_epoch}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PartitionState:
        doc = json.loads(data)
        return cls(int(doc["leader"]), int(doc["leader_epoch"]), tuple(int(b) for b in doc["isr"]),
                   int(doc["controller_epoch"]))


def assign_replicas(brokers: list[int], partitions: int, replication_factor: int, start: int) -> list[tuple[int, ...]]:
    """Round-robin replica placement (the rack-unaware part of Kafka's ``AdminUtils.assignReplicasToBrokers``):
    partition p's first replica is broker (start + p) mod n, the others follow it in id order."""
    ordered = sorted(brokers)
    n = len(ordered)
    return [tuple(ordered[(start + p + i) % n] for i in range(replication_factor)) for p in range(partitions)]


def producer_id_block_json(broker_id: int, start: int, end_inclusive: int) -> bytes:
    return json.dumps({"version": 1, "broker": broker_id, "block_start": str(start),
                       "block_end": str(end_inclusive)}).encode()


def producer_id_block_end(data: bytes) -> int:
    """The inclusive end of the last claimed block (-1 when none was)."""
    if not data:
        return -1
    return int(json.loads(data)["block_end"])
