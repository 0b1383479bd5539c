"""Entity config znodes, as Kafka's ZooKeeper mode kept them: one znode per entity under
``/config``, shared by every kind of setting the entity has (a user's SCRAM credentials and its
quotas live in the same map), and a change notification per write.

    path                                          content
    /config/users/<user>                          {"version":1,"config":{"<key>":"<text>", ...}}
    /config/users/<user>/clients/<client-id>      the same layout
    /config/clients/<client-id>                   the same layout
    /config/ips/<ip>                              the same layout
    /config/groups/<group>                        the same layout (group configs, share.*)
    /config/changes/config_change_<seq>           {"version":2,"entity_path":"users/<user>"}

Every value in ``config`` is a string. A name is written sanitized (URL-encoded as Java's
``URLEncoder`` does, with ``*`` and space percent-encoded too, so a ``/`` cannot make a path) and the
default entity is ``<default>``. A writer reads the map, changes only its own keys and writes it back
conditional on the version it read, retrying when another writer came in between, so the keys it does
not know survive. Sources: Kafka 3.x ``kafka.zk.ZkData`` (ConfigEntityZNode,
ConfigEntityChangeNotificationZNode), ``kafka.server.ConfigType`` and ``ConfigEntityName.Default``,
``org.apache.kafka.common.utils.Sanitizer``, ``kafka.zk.AdminZkClient.changeConfigs``.

Blocking (kazoo calls, each bounded by the work's deadline: ``logbroker/zookeeper_deadline.py``): run
in a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable
from urllib.parse import quote, unquote_plus

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from logbroker.zookeeper_deadline import ZooKeeperDeadline

log = logging.getLogger(__name__)

CONFIG = "/config"
CHANGES = "/config/changes"
CHANGE_PREFIX = "config_change_"
KEEP_CHANGES = 100
DEFAULT_ENTITY = "<default>"

Config = dict[str, object]


def sanitize(name: str | None) -> str:
    """A name as its znode is named (None: the default entity)."""
    if name is None:
        return DEFAULT_ENTITY
    # Java's URLEncoder leaves letters, digits and ". - * _" as they are; Kafka then encodes "*".
    return quote(name, safe="").replace("~", "%7E")


def desanitize(text: str) -> str | None:
    return None if text == DEFAULT_ENTITY else unquote_plus(text)


_SANITIZED = re.compile(r"(?:[A-Za-z0-9._\-]|%[0-9A-Fa-f]{2})*")


def is_sanitized(text: str) -> bool:
    """True when ``text`` can be a name ``sanitize`` wrote (only letters, digits, ``._-`` and
    ``%XX`` escapes), so it is read through ``desanitize``; a znode named otherwise holds a name
    written as it was typed (logbroker before it encoded SCRAM user names)."""
    return text == DEFAULT_ENTITY or _SANITIZED.fullmatch(text) is not None


def decode(data: bytes) -> Config:
    """The ``config`` map of a znode's bytes (empty for an empty znode); ValueError when unreadable."""
    doc = json.loads(data) if data else {}
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    config = doc.get("config", {})
    if not isinstance(config, dict):
        raise ValueError("config is not a JSON object")
    return dict(config)


def encode(config: Config) -> bytes:
    return json.dumps({"version": 1, "config": config}, sort_keys=True).encode()


def read_config(zk: ZooKeeperDeadline, path: str) -> Config:
    """The config map at ``path``; empty when it does not exist or cannot be read (logged)."""
    try:
        data, _ = zk.get(path)
    except NoNodeError:
        return {}
    try:
        return decode(data)
    except ValueError as exc:
        log.error("unreadable config znode %s: %s", path, exc)
        return {}


def change_config(zk: ZooKeeperDeadline, entity_path: str, change: Callable[[Config], None]) -> None:
    """Apply ``change`` to the config map of ``/config/<entity_path>`` (created when missing),
    conditional on the version read, then post a change notification."""
    path = f"{CONFIG}/{entity_path}"
    while True:
        try:
            data, stat = zk.get(path)
        except NoNodeError:
            config: Config = {}
            change(config)
            if not config:
                return  # nothing to remove from a znode that does not exist
            try:
                zk.create(path, encode(config), makepath=True)
                break
            except NodeExistsError:
                continue
        try:
            config = decode(data)
        except ValueError as exc:  # replaced rather than left unusable; what it held is logged
            log.error("replacing unreadable config znode %s (%s): %r", path, exc, data[:200])
            config = {}
        change(config)
        try:
            zk.set(path, encode(config), version=stat.version)
            break
        except (BadVersionError, NoNodeError):
            continue
    notify(zk, entity_path)


def notice_entity_paths(notices: list[bytes] | None) -> list[str] | None:
    """The entity paths change notices name (``users/alice``, ``groups/crew``), in order; None when
    there are none to go by (``notices`` None) or one cannot be read: the reader reads everything.
    Kafka wrote two layouts: version 2 ``{"entity_path": ...}`` and version 1 ``{"entity_type":
    "users", "entity_name": "alice"}`` (``ConfigEntityChangeNotificationSequenceZNode``)."""
    if notices is None:
        return None
    paths: list[str] = []
    for data in notices:
        try:
            doc = json.loads(data)
        except ValueError:
            log.warning("unreadable config change notice %r: reading every config again", data[:200])
            return None
        if not isinstance(doc, dict):
            return None
        if isinstance(doc.get("entity_path"), str):
            paths.append(doc["entity_path"])
        elif isinstance(doc.get("entity_type"), str) and isinstance(doc.get("entity_name"), str):
            paths.append(f"{doc['entity_type']}/{doc['entity_name']}")
        else:
            return None
    return paths


def notify(zk: ZooKeeperDeadline, entity_path: str) -> None:
    """Post a change notification for ``entity_path`` and drop the oldest beyond ``KEEP_CHANGES``."""
    zk.create(f"{CHANGES}/{CHANGE_PREFIX}",
              json.dumps({"version": 2, "entity_path": entity_path}).encode(), sequence=True, makepath=True)
    for name in sorted(zk.get_children(CHANGES))[:-KEEP_CHANGES]:
        with contextlib.suppress(NoNodeError):
            zk.delete(f"{CHANGES}/{name}")
