"""Where the broker listens, what it advertises and where it stores data, from Kafka's own settings.

Kafka's ``server.properties`` says this with three properties; logbroker honours them as written, or
refuses them with a clear error before anything starts, never applying part of them:

    property              form                                   logbroker
    listeners             NAME://HOST:PORT[,NAME://HOST:PORT]    one client listener, PLAINTEXT; an
                                                                 empty HOST binds every interface;
                                                                 listeners named in
                                                                 controller.listener.names (KRaft's
                                                                 quorum) are not opened, and said so
    advertised.listeners  NAME://HOST:PORT[,...]                 the entry named like the listener is
                                                                 what Metadata tells clients; other
                                                                 names are refused (Kafka refuses them
                                                                 too); port 0 is refused
    log.dirs (log.dir)    DIR[,DIR]                              one directory; several are refused

The command line wins: ``--kafka-listen`` over ``listeners`` and ``--data-dir`` over ``log.dirs``.
``listener.security.protocol.map`` (``NAME:PROTOCOL,...``) maps a custom listener name to its
protocol; only PLAINTEXT is served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from logbroker.config import BrokerConfig
from segments.errors import InvalidConfigError

log = logging.getLogger(__name__)

DEFAULT_KAFKA_LISTEN = ("127.0.0.1", 9092)
DEFAULT_DATA_DIR = Path("./data")
_ALL_INTERFACES = ("", "0.0.0.0", "::")
# Kafka's default listener.security.protocol.map: each protocol names itself.
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One ``NAME://HOST:PORT`` entry (HOST may be empty: every interface)."""

    name: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """The effective listener, advertised address and data directory of one broker process."""

    listener_name: str
    listen: tuple[str, int]
    advertised: tuple[str, int] | None  # None: the listener's own address, once bound
    data_dir: Path

    def advertised_address(self, bound: tuple[str, int]) -> tuple[str, int]:
        return advertised_address(self.advertised, self.listen, bound)


def advertised_address(advertised: tuple[str, int] | None, listen: tuple[str, int],
                       bound: tuple[str, int]) -> tuple[str, int]:
    """What Metadata tells clients: advertised.listeners (an empty host filled in from the listener),
    else the listener's host and the port it actually bound (port 0 binds a free one)."""
    if advertised is not None and advertised[0]:
        return advertised
    host = listen[0]
    if host in _ALL_INTERFACES:
        host = "127.0.0.1"
    return host, advertised[1] if advertised is not None else bound[1]


def parse_endpoints(value: str, prop: str) -> list[Endpoint]:
    """``PLAINTEXT://host:9092,CONTROLLER://:9093`` -> endpoints; InvalidConfigError on a bad entry."""
    endpoints: list[Endpoint] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        name, sep, hostport = entry.partition("://")
        host, colon, port = hostport.rpartition(":")
        if not sep or not name or not colon or not port.isdigit() or int(port) > 65535:
            raise InvalidConfigError(f"{prop}: {entry!r} is not of the form NAME://HOST:PORT")
        if any(e.name == name for e in endpoints):
            raise InvalidConfigError(f"{prop}: listener name {name} appears twice")
        endpoints.append(Endpoint(name, host.strip("[]"), int(port)))
    return endpoints


def _protocol_map(config: BrokerConfig) -> dict[str, str]:
    mapping = {p: p for p in _PROTOCOLS}
    for entry in (e.strip() for e in config.get_str("listener.security.protocol.map").split(",")):
        if not entry:
            continue
        name, sep, protocol = entry.partition(":")
        if not sep or not name or not protocol:
            raise InvalidConfigError(f"listener.security.protocol.map: {entry!r} is not of the form NAME:PROTOCOL")
        mapping[name.strip()] = protocol.strip()
    return mapping


def _client_listener(config: BrokerConfig) -> Endpoint | None:
    endpoints = parse_endpoints(config.get_str("listeners"), "listeners")
    if not endpoints:
        return None
    controllers = {n.strip() for n in config.get_str("controller.listener.names").split(",") if n.strip()}
    clients = [e for e in endpoints if e.name not in controllers]
    if len(clients) != 1:
        names = ", ".join(e.name for e in clients) or "none"
        raise InvalidConfigError(
            f"listeners: logbroker serves exactly one client listener, this names {len(clients)} ({names})"
        )
    listener = clients[0]
    protocol = _protocol_map(config).get(listener.name)
    if protocol is None:
        raise InvalidConfigError(
            f"listeners: listener {listener.name} has no security protocol (add it to listener.security.protocol.map)"
        )
    if protocol != "PLAINTEXT":
        raise InvalidConfigError(
            f"listeners: listener {listener.name} uses {protocol}; logbroker serves PLAINTEXT only"
        )
    for e in endpoints:
        if e.name in controllers:
            log.warning("not opening listener %s://%s:%d: logbroker has no KRaft controller quorum",
                        e.name, e.host, e.port)
    return listener


def _advertised(config: BrokerConfig, listener_name: str) -> tuple[str, int] | None:
    endpoints = parse_endpoints(config.get_str("advertised.listeners"), "advertised.listeners")
    if not endpoints:
        return None
    others = [e.name for e in endpoints if e.name != listener_name]
    if others:
        raise InvalidConfigError(
            f"advertised.listeners: {', '.join(others)} is not the listener logbroker serves ({listener_name})"
        )
    advertised = endpoints[0]
    if advertised.port == 0:
        raise InvalidConfigError("advertised.listeners: port 0 cannot be advertised; give the port clients use")
    if advertised.host in ("0.0.0.0", "::"):
        raise InvalidConfigError(
            f"advertised.listeners: {advertised.host} is not an address clients can reach (Kafka refuses it too)"
        )
    return advertised.host, advertised.port  # an empty host is filled in from the listener


def _data_dir(config: BrokerConfig) -> Path | None:
    value = config.get_str("log.dirs").strip() or config.get_str("log.dir").strip()
    dirs = [d.strip() for d in value.split(",") if d.strip()]
    if len(dirs) > 1:
        raise InvalidConfigError(
            f"log.dirs lists {len(dirs)} directories ({', '.join(dirs)}); logbroker keeps one data directory "
            "(no JBOD): give one"
        )
    return Path(dirs[0]) if dirs else None


def resolve(config: BrokerConfig, *, kafka_listen: tuple[str, int] | None = None,
            data_dir: Path | None = None) -> NetworkSettings:
    """The effective settings: command-line values, else the config, else the embedded defaults.

    Every property is checked, even one a flag overrides, so a bad file is refused as a whole.
    """
    listener = _client_listener(config)
    name = listener.name if listener is not None else "PLAINTEXT"
    advertised = _advertised(config, name)
    configured_dir = _data_dir(config)
    if kafka_listen is not None:
        listen = kafka_listen
    elif listener is not None:
        listen = ("0.0.0.0" if listener.host == "" else listener.host, listener.port)
    else:
        listen = DEFAULT_KAFKA_LISTEN
    return NetworkSettings(
        listener_name=name,
        listen=listen,
        advertised=advertised,
        data_dir=data_dir if data_dir is not None else configured_dir or DEFAULT_DATA_DIR,
    )
