"""One broker process: the store, the durability policy, the broker core, listeners, the sweeper.

``App`` owns every task and resource, so shutdown is one call and a test could run two brokers in
one process. Shutdown order (SIGINT/SIGTERM): stop the cleaner, stop accepting, let in-flight
requests finish, flush every log, write checkpoints and the clean-shutdown marker, so the next start
scans nothing.

Admin work stays off the event loop (see docs/ARCHITECTURE.md, "Threads and locks"): retention and
compaction run on one cleaner thread (the decoding of records in a child process,
``segments/cleaner.py``), the checkpoint and producer-snapshot files are written by worker threads;
the loop only takes in-memory snapshots and opens logs, a few milliseconds at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import resource
import signal
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logbroker.broker import Broker, wall_clock_ms
from logbroker.change_follower import ChangeFollower
from logbroker.config import BrokerConfig
from logbroker.groups import GroupCoordinator
from logbroker.groups.share_state import SHARE_STATE_TOPIC
from logbroker.http.app import HttpContext, HttpServer
from logbroker.kafka.authentication import ListenerSecurity, listener_security
from logbroker.kafka.dispatch import Dispatcher
from logbroker.kafka.fetch_sessions import FetchSessionCache
from logbroker.kafka.memory_pool import RequestMemoryPool
from logbroker.kafka.server import KafkaServer, ServerStats, open_listener
from logbroker.listeners import ListenerSettings, advertised_address
from logbroker.metrics import RequestLatencies
from logbroker.security.sasl_client import inter_broker_credentials
from logbroker.security.scram_store import CredentialStore
from logbroker.security.tls import client_context, server_context
from segments.checkpoint import TopicPartition
from segments.cleaner import CleanerProcess
from segments.errors import StorageError
from segments.flush import Durability, GroupCommitter
from segments.log import Log
from segments.retention import SweepStats, sweep_logs
from segments.store import Store
from segments.writer import AppendWriter

if TYPE_CHECKING:
    from logbroker.cluster.broker_connection import InterBrokerSecurity
    from logbroker.cluster.node import ClusterNode
    from logbroker.cluster.share_forwarder import ShareForwarder
    from logbroker.cluster.share_persister import ClusterSharePersister
    from logbroker.security.scram_zookeeper import ScramZooKeeperStore

log = logging.getLogger(__name__)

DEFAULT_INFLIGHT_BYTES = 64 * 1024 * 1024  # per connection; the total is queued.max.request.bytes
GROUPS_TICK_MS = 100  # how often group sessions and join deadlines are checked
SHARE_SWEEP_MS = 1000  # how often the share sessions of HTTP members gone at the coordinator are closed
# File descriptors kept out of the segment budget for sockets (Kafka and HTTP clients), checkpoints,
# snapshots and the loop itself: a quarter of the open-file limit, at least 64, at most 4096.
MIN_HANDLE_RESERVE, MAX_HANDLE_RESERVE = 64, 4096
# Opening logs for the cleaner yields to other tasks after this long on the loop (seconds).
OPEN_SLICE_S = 0.002


@dataclass(frozen=True, slots=True)
class AppSettings:
    data_dir: Path
    kafka_listen: tuple[str, int]
    http_listen: tuple[str, int]
    config: BrokerConfig
    advertised: tuple[str, int] | None = None  # advertised.listeners (logbroker.listeners); None: the listener
    ready_file: Path | None = None  # written with the bound ports once both listeners are up
    # Every Kafka listener (logbroker.listeners.resolve); empty: one PLAINTEXT listener on kafka_listen.
    listeners: tuple[ListenerSettings, ...] = ()
    inter_broker_listener: str = "PLAINTEXT"

    def kafka_listeners(self) -> tuple[ListenerSettings, ...]:
        if self.listeners:
            return self.listeners
        return (ListenerSettings("PLAINTEXT", "PLAINTEXT", self.kafka_listen, self.advertised),)


def handle_budget(nofile: int | None = None) -> tuple[int, int]:
    """(open segments the store may keep, descriptors reserved for everything else) from RLIMIT_NOFILE."""
    if nofile is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        nofile = soft if soft != resource.RLIM_INFINITY else 1 << 20
    reserve = min(max(MIN_HANDLE_RESERVE, nofile // 4), MAX_HANDLE_RESERVE)
    return max(1, nofile - reserve), reserve


def _write_ready_file(path: Path, kafka: tuple[str, int], http: tuple[str, int],
                      listeners: dict[str, tuple[str, int]] | None = None) -> None:
    """The bound ports as JSON, renamed into place so a reader never sees a partial file.

    Listening on port 0 and reading this back is how tests start brokers without a free-port race.
    ``kafka_*`` is the first listener; ``listeners`` maps every listener name to its bound port.
    """
    body = json.dumps({"kafka_host": kafka[0], "kafka_port": kafka[1], "http_host": http[0], "http_port": http[1],
                       "pid": os.getpid(),
                       "listeners": {name: {"host": h, "port": p} for name, (h, p) in (listeners or {}).items()}})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(body + "\n")
    tmp.replace(path)
    log.info("ready file %s written", path)


def _inter_broker_security(config: BrokerConfig, s: AppSettings) -> InterBrokerSecurity | None:
    """How followers connect to leaders on the inter-broker listener: its TLS client context (SSL,
    SASL_SSL) and this broker's own SASL credentials (SASL_PLAINTEXT, SASL_SSL); settings that do not
    hold stop the broker at start-up rather than failing every fetch."""
    from logbroker.cluster.broker_connection import InterBrokerSecurity  # a cluster only

    listener = next((entry for entry in s.kafka_listeners() if entry.name == s.inter_broker_listener), None)
    if listener is None or listener.protocol == "PLAINTEXT":
        return None
    tls = client_context(config.props, f"listener.name.{listener.name.lower()}.") if listener.tls else None
    sasl = inter_broker_credentials(config.props, listener.name) if listener.sasl else None
    return InterBrokerSecurity(tls, sasl)


def _sum_stats(servers: list[KafkaServer]) -> dict[str, int]:
    """Transport counters of every listener added up (the memory pool is shared: its gauge once)."""
    total: dict[str, int] = dict.fromkeys(dataclasses.asdict(ServerStats()), 0)
    for server in servers:
        for key, value in dataclasses.asdict(server.stats).items():
            total[key] += value
    if servers:
        total["request_bytes_queued"] = servers[0].stats.request_bytes_queued
    return total


class App:
    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self._writer: AppendWriter | None = None
        self.broker: Broker | None = None
        self.kafka: KafkaServer | None = None  # the first listener's server
        self.kafka_servers: list[KafkaServer] = []  # one per listener, the first first
        self.kafka_latency = RequestLatencies()
        self.http: HttpServer | None = None
        self.groups: GroupCoordinator | None = None
        self.cluster: ClusterNode | None = None  # set when zookeeper.connect is
        self._share_persister: ClusterSharePersister | None = None  # a cluster's way to share coordinators
        self._share_forwarder: ShareForwarder | None = None  # HTTP share members at other brokers' partitions
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()  # one-off work (reloads) started by a callback
        self._followers: list[ChangeFollower] = []  # the ZooKeeper-backed stores' catch-ups
        self._stop_event: asyncio.Event | None = None
        self._securities: list[tuple[ListenerSecurity, ssl.SSLContext | None]] = []
        self._inter_broker: InterBrokerSecurity | None = None
        self._http_tls: ssl.SSLContext | None = None
        # Kafka's log cleaner thread: retention and compaction, one log at a time, never two at once.
        self._cleaner_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-cleaner")
        self._cleaner = CleanerProcess()
        self._stop_cleaning = threading.Event()

    def run(self) -> None:
        """Run until SIGINT/SIGTERM (blocking)."""
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
            asyncio.run(self._main())
        else:
            uvloop.run(self._main())

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop_event.set)
        await self.start()
        try:
            await self._stop_event.wait()
            log.info("shutting down")
        finally:
            await self.stop()

    async def start(self) -> None:
        s = self.settings
        # Both ports are claimed before the data directory is touched: a broker that cannot listen
        # exits with the address in its message and leaves no directory behind.
        # TLS and SASL settings are checked (key stores loaded, users files read) before any port
        # or the data directory is touched: a broker that cannot serve them says so and leaves nothing.
        self._securities = [listener_security(s.config, listener, self._credentials)
                            for listener in s.kafka_listeners()]
        self._inter_broker = (_inter_broker_security(s.config, s) if s.config.get_str("zookeeper.connect")
                              else None)
        self._http_tls = (server_context(s.config.props, "logbroker.http.", what="HTTP listener").context
                          if s.config.get_bool("logbroker.http.ssl.enable") else None)
        sockets: list[socket.socket] = []
        try:
            for listener in s.kafka_listeners():
                sockets.append(open_listener(*listener.listen, f"Kafka clients ({listener.name})"))
            open_listener(*s.http_listen, "HTTP").close()  # aiohttp binds it again below
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        try:
            await self._start(sockets)
        except BaseException:
            for sock in sockets[len(self.kafka_servers):]:
                sock.close()
            raise

    async def _start(self, sockets: list[socket.socket]) -> None:
        s = self.settings
        config = s.config
        s.data_dir.mkdir(parents=True, exist_ok=True)
        now = wall_clock_ms()
        budget, reserve = handle_budget()
        log.info("file handle budget: %d open segments, %d descriptors kept for connections and files",
                 budget, reserve)
        self.store = Store.open(s.data_dir, config.log_defaults, now_ms=now, clock=wall_clock_ms,
                                max_open_segments=budget)
        # Large appends' pwrite runs on the writer thread; fetch wake-ups and answers come back to the loop.
        writer_min_bytes = config.get_int("logbroker.append.writer.min.bytes")
        if writer_min_bytes >= 0:
            self._writer = AppendWriter(asyncio.get_running_loop().call_soon_threadsafe, min_bytes=writer_min_bytes)
            self.store.use_writer(self._writer)
        durability = Durability(GroupCommitter(threads=config.get_int("logbroker.flush.threads")))
        self.broker = Broker(self.store, config, durability, s.data_dir)
        topics = self.store.list_topics()
        log.info("data directory %s holds %d topic(s)", s.data_dir.resolve(), len(topics))
        self.groups = GroupCoordinator.for_broker(self.broker)
        clustered = bool(config.get_str("zookeeper.connect"))
        if clustered:
            # In a cluster, groups are loaded partition by partition as this broker comes to lead them.
            self.groups.coordinate_partitions(set())
        self.groups.load(wall_clock_ms())
        pool = RequestMemoryPool(config.get_int("queued.max.request.bytes"))
        fetch_sessions = FetchSessionCache(config.get_int("max.incremental.fetch.session.cache.slots"))
        addresses: dict[str, tuple[str, int]] = {}
        joined = asyncio.Event()  # a cluster's broker answers requests once it has joined (Dispatcher.hold)
        for listener, sock, (security, tls) in zip(s.kafka_listeners(), sockets, self._securities, strict=True):
            dispatcher = Dispatcher(self.broker, "", 0, coordinator=self.groups, latencies=self.kafka_latency,
                                    security=security, fetch_sessions=fetch_sessions, listener=listener.name)
            if clustered:
                dispatcher.hold(joined)
            server = KafkaServer(
                dispatcher,
                max_frame_bytes=config.get_int("socket.request.max.bytes"),
                max_inflight_bytes=DEFAULT_INFLIGHT_BYTES,
                request_timeout_s=config.get_int("request.receive.timeout.ms") / 1000,
                idle_timeout_s=config.get_int("connections.max.idle.ms") / 1000,
                tls=tls, pool=pool, name=f"Kafka clients ({listener.name})",
            )
            await server.start(*listener.listen, listener=sock)
            self.kafka_servers.append(server)
            host, port = advertised_address(listener.advertised, listener.listen, server.address)
            dispatcher.advertised_host, dispatcher.advertised_port = host, port
            addresses[listener.name] = (host, port)
            log.info("Kafka listener on %s:%d (%s, %s; advertised as %s:%d)", *server.address, listener.name,
                     listener.protocol, host, port)
        self.kafka = self.kafka_servers[0]
        # Brokers of a cluster reach each other (and register) on the inter-broker listener.
        host, port = addresses.get(s.inter_broker_listener, next(iter(addresses.values())))
        if clustered:
            from logbroker.cluster.node import ClusterNode  # only a cluster needs kazoo

            self.cluster = ClusterNode(self.broker, config, host, port, endpoints=addresses,
                                       protocols={e.name: e.protocol for e in s.kafka_listeners()})
            self.cluster.inter_broker_security = self._inter_broker
            self.broker.ownership = self.cluster
            self.broker.producer_ids.claim_block = self.cluster.claim_producer_id_block
            self.cluster.on_leadership = self._offsets_leadership
            if self.groups.share_state is not None:
                from logbroker.cluster.share_persister import ClusterSharePersister

                self._share_persister = ClusterSharePersister(self.cluster, self.broker, self.groups.share_state)
                self.groups.share.persister = self._share_persister
            from logbroker.cluster.share_forwarder import ShareForwarder

            self._share_forwarder = ShareForwarder.of(self.cluster, self.broker)
            self._share_forwarder.is_member = self.groups.share.is_member
            await self.cluster.start()
            await self._group_configs_in_zookeeper(self.cluster)
            self._carry_group_configs()  # those of the __share_group_state partitions led already
            if self.broker.authorizer.enabled:
                await self._acls_in_zookeeper(self.cluster)
            await self._credentials_in_zookeeper(self.cluster)
            await self._client_quotas_in_zookeeper(self.cluster)
            await self._token_revocations_in_zookeeper(self.cluster)
            joined.set()
            log.info("Kafka requests served: broker %d has joined the cluster", self.broker.node_id)
        servers = self.kafka_servers
        self.http = HttpServer(HttpContext(self.broker, coordinator=self.groups,
                                           kafka_stats=lambda: _sum_stats(servers),
                                           kafka_latency=self.kafka_latency, share_remote=self._share_forwarder),
                               tls=self._http_tls)
        await self.http.start(*s.http_listen)
        log.info("HTTP listener on %s:%d", *self.http.address)
        if self.cluster is not None:
            http_host, http_port = self.http.address
            if http_host in ("", "0.0.0.0", "::"):  # every interface: the brokers reach it where they reach this one
                http_host = host
            if ":" in http_host:
                http_host = f"[{http_host}]"  # an IPv6 address in a URL
            await self.cluster.advertise_http(f"{'https' if self._http_tls else 'http'}://{http_host}:{http_port}")
        if s.ready_file is not None:
            _write_ready_file(s.ready_file, self.kafka.address, self.http.address,
                              {name: server.address for name, server in zip(addresses, servers, strict=True)})
        self._every(config.get_int("log.retention.check.interval.ms"), self._sweep, "retention")
        if config.get_bool("log.cleaner.enable"):
            self._every(max(1, config.get_int("log.cleaner.backoff.ms")), self._clean, "log-cleaner")
        self._every(config.get_int("log.flush.scheduler.interval.ms"), self._flush_tick, "flush-scheduler")
        self._every(config.get_int("log.flush.offset.checkpoint.interval.ms"), self._checkpoint, "checkpoint")
        self._every(GROUPS_TICK_MS, self._groups_tick, "groups")
        if self._share_forwarder is not None:
            self._every(SHARE_SWEEP_MS, self._share_forwarder.sweep, "share-forwarder-sweep")

    async def _acls_in_zookeeper(self, cluster: ClusterNode) -> None:
        """A cluster keeps its ACLs in ZooKeeper; a change notification (or a lost connection, which
        drops the watches) reloads them, ZooKeeper read in a worker thread, again until it answers,
        the new set taken on the loop."""
        from logbroker.security.acl_zookeeper import AclZooKeeperStore  # kazoo: a cluster only

        assert self.broker is not None
        authorizer = self.broker.authorizer
        follower = ChangeFollower(asyncio.get_running_loop(), authorizer.reload_async, "ACL reload",
                                  self._in_background)
        self._followers.append(follower)
        timeout_s = self.broker.config.get_int("request.timeout.ms") / 1000
        store = await asyncio.to_thread(AclZooKeeperStore, cluster.zk, follower.signal, timeout_s)
        await authorizer.use_store_async(store)

    def _in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` as a task of this application (kept until done; a failure is logged)."""
        task = asyncio.get_running_loop().create_task(work, name=what)
        self._background.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    def _credentials(self) -> CredentialStore:
        """The SCRAM store, looked up per authentication: a cluster swaps in ZooKeeper's after start."""
        assert self.broker is not None
        return self.broker.credentials

    def _offsets_leadership(self, topic: str, partition: int, leading: bool) -> None:
        """The cluster says this broker started or stopped leading a partition: the group
        coordinator loads or drops the groups of a ``__consumer_offsets`` partition, the share
        coordinator the states of a ``__share_group_state`` partition, and share-partitions go with
        the leadership of their partition (``GroupCoordinator.leadership_changed``)."""
        if self.groups is not None:
            self.groups.leadership_changed(topic, partition, leading, wall_clock_ms())
            if leading and topic == SHARE_STATE_TOPIC:
                self._carry_group_configs()

    def _carry_group_configs(self) -> None:
        """Group configs a cluster kept in ``__share_group_state`` before they moved to ZooKeeper go
        there (``ShareGroups.carry_configs``), in the background."""
        if self.groups is not None and self.groups.share.shared_configs is not None:
            self._in_background(self._carried(self.groups.share.carry_configs(wall_clock_ms())),
                                "group configs to ZooKeeper")

    @staticmethod
    async def _carried(moving: Coroutine[Any, Any, int]) -> None:
        await moving

    async def _credentials_in_zookeeper(self, cluster: ClusterNode) -> None:
        """A cluster keeps SCRAM credentials in ZooKeeper (/config/users), read and written in worker
        threads, each change or reload within ``request.timeout.ms``; a change notification (or a
        lost connection, which drops the watch) reloads them, again until ZooKeeper answers."""
        from logbroker.security.scram_zookeeper import ScramZooKeeperStore  # kazoo: a cluster only

        assert self.broker is not None
        holder: list[ScramZooKeeperStore] = []
        follower = ChangeFollower(asyncio.get_running_loop(), lambda: asyncio.to_thread(holder[0].catch_up),
                                  "SCRAM credential reload", self._in_background)
        self._followers.append(follower)
        timeout_s = self.broker.config.get_int("request.timeout.ms") / 1000
        store = await asyncio.to_thread(ScramZooKeeperStore, cluster.zk, follower.signal, timeout_s)
        holder.append(store)
        self.broker.credentials = store

    async def _group_configs_in_zookeeper(self, cluster: ClusterNode) -> None:
        """A cluster keeps group configs (``share.*``) in ZooKeeper's config znodes, so every broker
        describes, alters and applies the same; a change notification (or a lost connection, which
        drops the watch) reloads them in a worker thread, again until ZooKeeper answers."""
        from logbroker.group_configs_zookeeper import GroupConfigZooKeeperStore  # kazoo: a cluster only

        if self.groups is None:
            return
        holder: list[GroupConfigZooKeeperStore] = []
        follower = ChangeFollower(asyncio.get_running_loop(), lambda: asyncio.to_thread(holder[0].catch_up),
                                  "group config reload", self._in_background)
        self._followers.append(follower)
        store = await asyncio.to_thread(GroupConfigZooKeeperStore, cluster.zk, follower.signal)
        holder.append(store)
        self.groups.share.shared_configs = store

    async def _client_quotas_in_zookeeper(self, cluster: ClusterNode) -> None:
        """A cluster keeps client quotas in ZooKeeper's config znodes, read and written there by every
        broker (worker threads, each call within ``request.timeout.ms``)."""
        from logbroker.client_quotas_zookeeper import ClientQuotaZooKeeperStore  # kazoo: a cluster only

        assert self.broker is not None
        timeout_s = self.broker.config.get_int("request.timeout.ms") / 1000
        self.broker.client_quotas = await asyncio.to_thread(ClientQuotaZooKeeperStore, cluster.zk, timeout_s)

    async def _token_revocations_in_zookeeper(self, cluster: ClusterNode) -> None:
        """A cluster keeps revoked HTTP tokens in ZooKeeper (/config/http_token_revocations), so a
        logout or a revocation on one broker holds on all of them."""
        from logbroker.security.token_revocations import TokenRevocations
        from logbroker.security.token_revocations_zookeeper import ZooKeeperTokenRevocations  # kazoo

        assert self.broker is not None
        lifetime = self.broker.config.get_int("logbroker.http.token.lifetime.ms")
        local = TokenRevocations(self.broker.data_dir, lifetime)  # what this broker revoked before it joined
        self.broker.token_revocations = await asyncio.to_thread(ZooKeeperTokenRevocations, cluster.zk, lifetime,
                                                                local)

    def _every(self, interval_ms: int, fn: Callable[[], Awaitable[None]], name: str) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_ms / 1000)
                try:
                    await fn()
                except Exception:
                    log.exception("periodic task %s failed; it will run again", name)

        self._tasks.append(asyncio.create_task(loop(), name=name))

    async def _sweep(self) -> None:
        """Retention over every partition (``log.retention.check.interval.ms``), on the cleaner thread."""
        assert self.store is not None
        store = self.store
        opened = store.open_logs()
        unopened = [key for key in store.partitions() if key not in opened]
        # Partitions never written to are not opened (a worker thread looks at their directories).
        logs = opened | await self._open_logs(await asyncio.to_thread(store.partitions_with_data, unopened))
        stats = await self._on_cleaner_thread(logs, retention=True)
        if stats.retention.segments_deleted or stats.errors:
            log.info("retention sweep: %s", stats)
        await self._write_checkpoint()

    async def _clean(self) -> None:
        """Compaction of compacted partitions when due (Kafka's cleaner, every ``log.cleaner.backoff.ms``)."""
        assert self.store is not None
        store = self.store
        keys = [(info.name, p) for info in store.topics() if info.config.compact for p in range(info.partitions)]
        if not keys:
            return
        stats = await self._on_cleaner_thread(await self._open_logs(keys), retention=False)
        if stats.compacted_partitions or stats.errors:
            log.info("log cleaner: %s", stats)
            await self._write_checkpoint()

    async def _open_logs(self, keys: list[TopicPartition]) -> dict[TopicPartition, Log]:
        """The logs of ``keys``, opening those not open yet on the loop (the store's maps live there), a
        slice of a few milliseconds at a time so requests keep being served in between."""
        assert self.store is not None
        logs: dict[TopicPartition, Log] = {}
        slice_end = time.monotonic() + OPEN_SLICE_S
        for topic, partition in keys:
            try:
                logs[(topic, partition)] = self.store.log(topic, partition)
            except (StorageError, OSError) as exc:  # deleted meanwhile, or unreadable: the next pass retries
                log.info("cleaner skips %s-%d: %s", topic, partition, exc)
            if time.monotonic() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.monotonic() + OPEN_SLICE_S
        return logs

    async def _on_cleaner_thread(self, logs: dict[TopicPartition, Log], *, retention: bool) -> SweepStats:
        assert self.store is not None
        job = functools.partial(sweep_logs, self.store, logs, wall_clock_ms(), retention=retention,
                                compaction=not retention, runner=self._cleaner,
                                cancelled=self._stop_cleaning.is_set)
        return await asyncio.get_running_loop().run_in_executor(self._cleaner_thread, job)

    async def _flush_tick(self) -> None:
        assert self.broker is not None
        self.broker.durability.tick(wall_clock_ms())

    async def _groups_tick(self) -> None:
        assert self.groups is not None
        self.groups.tick(wall_clock_ms())
        forwarder = self._share_forwarder
        if forwarder is not None:
            for group_id, member_id, partitions in self.groups.share.take_expired():
                self._in_background(forwarder.release(group_id, member_id, partitions), "share member release")

    async def _checkpoint(self) -> None:
        assert self.store is not None and self.broker is not None
        await self._write_checkpoint()
        snapshots = self.broker.producer_snapshots()
        if snapshots:
            await asyncio.to_thread(self.broker.write_producer_snapshots, snapshots)

    async def _write_checkpoint(self) -> None:
        """The offset checkpoints: a snapshot from memory on the loop, the fsync + rename of the files
        in a worker thread, so a slow disk does not stall produce, fetch and /health."""
        assert self.store is not None
        snapshot = self.store.checkpoint_snapshot()
        await asyncio.to_thread(self.store.write_checkpoint, snapshot)

    async def stop(self) -> None:
        self._stop_cleaning.set()
        self._cleaner.close()
        for follower in self._followers:
            follower.close()
        background = list(self._background)
        for task in (*self._tasks, *background):
            task.cancel()
        for task in (*self._tasks, *background):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        # No cleaner work may touch a log once the store starts closing them.
        await asyncio.to_thread(self._cleaner_thread.shutdown, wait=True)
        if self.cluster is not None:
            await self.cluster.stop()
        if self._share_persister is not None:
            await self._share_persister.close()
        if self.groups is not None:
            # answers waiting JoinGroup/SyncGroup so in-flight requests can finish
            self.groups.close(wall_clock_ms())
        if self.http is not None:
            await self.http.close()
        if self._share_forwarder is not None:
            await self._share_forwarder.close()
        for server in self.kafka_servers:
            await server.close()
        if self.broker is not None:
            self.broker.close()
            self.broker.durability.close()
        if self.store is not None:
            self.store.close()  # every log first waits for its pending writes
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
        log.info("stopped cleanly")
