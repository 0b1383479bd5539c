"""Where the broker listens, what it advertises and where it stores data, from Kafka's own settings.

Kafka's ``server.properties`` says this with three properties; logbroker honours them as written, or
refuses them with a clear error before anything starts, never applying part of them:

    property              form                                   logbroker
    listeners             NAME://HOST:PORT[,NAME://HOST:PORT]    every client listener is opened, each
                                                                 with its security protocol; an empty
                                                                 HOST binds every interface; listeners
                                                                 named in controller.listener.names
                                                                 (KRaft's quorum) are not opened, and
                                                                 said so
    advertised.listeners  NAME://HOST:PORT[,...]                 per listener, what Metadata tells the
                                                                 clients connected to it; names that
                                                                 are not listeners are refused (Kafka
                                                                 refuses them too); port 0 is refused
    log.dirs (log.dir)    DIR[,DIR]                              one directory; several are refused

The command line wins: ``--kafka-listen`` over the first listener's address and ``--data-dir``
over ``log.dirs``. ``listener.security.protocol.map`` (``NAME:PROTOCOL,...``) maps a listener name
to PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (each protocol name maps to itself by default).
``inter.broker.listener.name`` names the listener brokers of a cluster use between them.
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
class ListenerSettings:
    """One client listener: its name, security protocol, address and what it advertises."""

    name: str
    protocol: str  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    listen: tuple[str, int]
    advertised: tuple[str, int] | None  # None: the listener's own address, once bound

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """The effective listeners, advertised addresses and data directory of one broker process.

    ``listener_name``, ``listen`` and ``advertised`` are the first listener's (the one
    ``--kafka-listen`` sets and the ready file's ``kafka_port`` names).
    """

    listener_name: str
    listen: tuple[str, int]
    advertised: tuple[str, int] | None  # None: the listener's own address, once bound
    data_dir: Path
    listeners: tuple[ListenerSettings, ...] = ()
    inter_broker_listener: str = "PLAINTEXT"

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


def protocol_map(config: BrokerConfig) -> dict[str, str]:
    """listener name -> security protocol: Kafka's default (each protocol names itself) plus
    ``listener.security.protocol.map``."""
    return _protocol_map(config)


def _client_listeners(config: BrokerConfig) -> list[tuple[Endpoint, str]]:
    """The listeners to open, with their security protocols, in the order written."""
    endpoints = parse_endpoints(config.get_str("listeners"), "listeners")
    controllers = {n.strip() for n in config.get_str("controller.listener.names").split(",") if n.strip()}
    mapping = _protocol_map(config)
    out: list[tuple[Endpoint, str]] = []
    for e in endpoints:
        if e.name in controllers:
            log.warning("not opening listener %s://%s:%d: logbroker has no KRaft controller quorum",
                        e.name, e.host, e.port)
            continue
        protocol = mapping.get(e.name)
        if protocol is None:
            raise InvalidConfigError(
                f"listeners: listener {e.name} has no security protocol (add it to listener.security.protocol.map)"
            )
        if protocol not in _PROTOCOLS:
            raise InvalidConfigError(f"listener.security.protocol.map: {e.name} maps to {protocol}, which is not "
                                     f"one of {', '.join(_PROTOCOLS)}")
        out.append((e, protocol))
    if endpoints and not out:
        raise InvalidConfigError("listeners: every listener is a controller listener; name a client listener")
    ports = [e.port for e, _ in out if e.port != 0]
    if len(ports) != len(set(ports)):
        raise InvalidConfigError("listeners: two listeners use the same port")
    return out


def _advertised(config: BrokerConfig, names: list[str]) -> dict[str, tuple[str, int]]:
    endpoints = parse_endpoints(config.get_str("advertised.listeners"), "advertised.listeners")
    out: dict[str, tuple[str, int]] = {}
    for advertised in endpoints:
        if advertised.name not in names:
            raise InvalidConfigError(
                f"advertised.listeners: {advertised.name} is not a listener logbroker serves ({', '.join(names)})"
            )
        if advertised.port == 0:
            raise InvalidConfigError("advertised.listeners: port 0 cannot be advertised; give the port clients use")
        if advertised.host in ("0.0.0.0", "::"):
            raise InvalidConfigError(
                f"advertised.listeners: {advertised.host} is not an address clients can reach (Kafka refuses it too)"
            )
        out[advertised.name] = (advertised.host, advertised.port)  # an empty host is filled in from the listener
    return out


def _inter_broker(config: BrokerConfig, listeners: list[ListenerSettings]) -> str:
    """The listener followers fetch over: ``inter.broker.listener.name``, else the one whose
    protocol is ``security.inter.broker.protocol`` (PLAINTEXT), else the first (Kafka refuses that
    case; a single node needs no inter-broker listener, so it is only checked in a cluster)."""
    names = [entry.name for entry in listeners]
    name = config.get_str("inter.broker.listener.name").strip()
    if name:
        if name not in names:
            raise InvalidConfigError(f"inter.broker.listener.name: {name} is not one of the listeners "
                                     f"({', '.join(names)})")
        return name
    protocol = config.get_str("security.inter.broker.protocol").strip() or "PLAINTEXT"
    for entry in listeners:
        if entry.protocol == protocol:
            return entry.name
    if config.get_str("zookeeper.connect"):
        raise InvalidConfigError(f"no listener uses security.inter.broker.protocol={protocol}; set "
                                 "inter.broker.listener.name to the listener brokers use between them")
    return names[0]


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
    ``kafka_listen`` replaces the first listener's address (or is the one PLAINTEXT listener when
    ``listeners`` is empty).
    """
    clients = _client_listeners(config)
    if not clients:
        clients = [(Endpoint("PLAINTEXT", *DEFAULT_KAFKA_LISTEN), "PLAINTEXT")]
    advertised = _advertised(config, [e.name for e, _ in clients])
    listeners: list[ListenerSettings] = []
    for i, (e, protocol) in enumerate(clients):
        listen = ("0.0.0.0" if e.host == "" else e.host, e.port)
        if i == 0 and kafka_listen is not None:
            listen = kafka_listen
        listeners.append(ListenerSettings(e.name, protocol, listen, advertised.get(e.name)))
    configured_dir = _data_dir(config)
    first = listeners[0]
    return NetworkSettings(
        listener_name=first.name,
        listen=first.listen,
        advertised=first.advertised,
        data_dir=data_dir if data_dir is not None else configured_dir or DEFAULT_DATA_DIR,
        listeners=tuple(listeners),
        inter_broker_listener=_inter_broker(config, listeners),
    )
