"""Routes decoded Kafka requests to handlers and encodes their responses.

``HANDLERS`` is the single table of what this broker serves: ApiVersions advertises exactly its
keys, each with the versions both the codec and the handler support (handler maxima below).
A request the codec cannot parse, or for an API/version not served, closes that connection
(Kafka's behaviour) after a log line, except ApiVersions, which is answered with
UNSUPPORTED_VERSION in the v0 body format so the client can fall back, and the APIs of
``handlers/not_served.py``, answered with their error instead of a dropped connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from logbroker.broker import Broker
from logbroker.groups import GroupCoordinator
from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.authentication import (
    AuthClose,
    Authenticator,
    ConnectionAuth,
    ListenerSecurity,
    connection_auth,
)
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.errors import ProtocolError, UnsupportedVersion
from logbroker.kafka.fetch_sessions import FetchSessionCache
from logbroker.kafka.handlers import Body, Handler, RequestContext
from logbroker.kafka.handlers.acls import handle_create_acls, handle_delete_acls, handle_describe_acls
from logbroker.kafka.handlers.client_quotas import handle_alter_client_quotas, handle_describe_client_quotas
from logbroker.kafka.handlers.configs import (
    handle_alter_configs,
    handle_describe_configs,
    handle_incremental_alter_configs,
    handle_list_config_resources,
)
from logbroker.kafka.handlers.consumer_groups import (
    handle_consumer_group_describe,
    handle_consumer_group_heartbeat,
)
from logbroker.kafka.handlers.fetch import handle_fetch
from logbroker.kafka.handlers.groups import (
    handle_delete_groups,
    handle_describe_groups,
    handle_find_coordinator,
    handle_heartbeat,
    handle_join_group,
    handle_leave_group,
    handle_list_groups,
    handle_offset_commit,
    handle_offset_delete,
    handle_offset_fetch,
    handle_sync_group,
)
from logbroker.kafka.handlers.log_dirs import handle_alter_replica_log_dirs, handle_describe_log_dirs
from logbroker.kafka.handlers.metadata import (
    handle_describe_cluster,
    handle_describe_topic_partitions,
    handle_metadata,
)
from logbroker.kafka.handlers.not_served import NOT_SERVED
from logbroker.kafka.handlers.offsets import (
    handle_delete_records,
    handle_list_offsets,
    handle_offset_for_leader_epoch,
)
from logbroker.kafka.handlers.partition_leadership import (
    handle_alter_partition_reassignments,
    handle_elect_leaders,
    handle_list_partition_reassignments,
)
from logbroker.kafka.handlers.produce import handle_produce
from logbroker.kafka.handlers.producer import handle_init_producer_id
from logbroker.kafka.handlers.scram_credentials import (
    handle_alter_user_scram_credentials,
    handle_describe_user_scram_credentials,
)
from logbroker.kafka.handlers.share import (
    handle_share_acknowledge,
    handle_share_fetch,
    handle_share_group_describe,
    handle_share_group_heartbeat,
)
from logbroker.kafka.handlers.share_coordinator import (
    handle_delete_share_group_state,
    handle_initialize_share_group_state,
    handle_read_share_group_state,
    handle_read_share_group_state_summary,
    handle_write_share_group_state,
)
from logbroker.kafka.handlers.share_offsets import (
    handle_alter_share_group_offsets,
    handle_delete_share_group_offsets,
    handle_describe_share_group_offsets,
)
from logbroker.kafka.handlers.topics import handle_create_partitions, handle_create_topics, handle_delete_topics
from logbroker.kafka.handlers.transactions import (
    handle_describe_producers,
    handle_describe_transactions,
    handle_list_transactions,
)
from logbroker.kafka.server import Chunk, CloseAfterResponse, CloseConnection, ConnectionInfo
from logbroker.metrics import RequestLatencies
from logbroker.security.sasl import AuthenticationFailed

log = logging.getLogger(__name__)

# api key -> (handler, highest version the handler implements)
HANDLERS: dict[int, tuple[Handler, int]] = {
    ApiKey.PRODUCE: (handle_produce, 13),
    ApiKey.FETCH: (handle_fetch, 18),
    ApiKey.LIST_OFFSETS: (handle_list_offsets, 10),
    ApiKey.METADATA: (handle_metadata, 13),
    ApiKey.CREATE_TOPICS: (handle_create_topics, 7),
    ApiKey.DELETE_TOPICS: (handle_delete_topics, 6),
    ApiKey.DELETE_RECORDS: (handle_delete_records, 2),
    ApiKey.INIT_PRODUCER_ID: (handle_init_producer_id, 5),
    ApiKey.OFFSET_FOR_LEADER_EPOCH: (handle_offset_for_leader_epoch, 4),
    ApiKey.DESCRIBE_CONFIGS: (handle_describe_configs, 4),
    ApiKey.ALTER_CONFIGS: (handle_alter_configs, 2),
    ApiKey.CREATE_PARTITIONS: (handle_create_partitions, 3),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: (handle_incremental_alter_configs, 1),
    ApiKey.DESCRIBE_CLUSTER: (handle_describe_cluster, 2),
    ApiKey.FIND_COORDINATOR: (handle_find_coordinator, 6),
    ApiKey.JOIN_GROUP: (handle_join_group, 9),
    ApiKey.HEARTBEAT: (handle_heartbeat, 4),
    ApiKey.LEAVE_GROUP: (handle_leave_group, 5),
    ApiKey.SYNC_GROUP: (handle_sync_group, 5),
    ApiKey.DESCRIBE_GROUPS: (handle_describe_groups, 6),
    ApiKey.LIST_GROUPS: (handle_list_groups, 5),
    ApiKey.OFFSET_COMMIT: (handle_offset_commit, 9),
    ApiKey.OFFSET_FETCH: (handle_offset_fetch, 9),
    ApiKey.DELETE_GROUPS: (handle_delete_groups, 2),
    ApiKey.OFFSET_DELETE: (handle_offset_delete, 0),
    ApiKey.CONSUMER_GROUP_HEARTBEAT: (handle_consumer_group_heartbeat, 1),
    ApiKey.CONSUMER_GROUP_DESCRIBE: (handle_consumer_group_describe, 1),
    ApiKey.DESCRIBE_ACLS: (handle_describe_acls, 3),
    ApiKey.CREATE_ACLS: (handle_create_acls, 3),
    ApiKey.DELETE_ACLS: (handle_delete_acls, 3),
    ApiKey.DESCRIBE_LOG_DIRS: (handle_describe_log_dirs, 4),
    ApiKey.ALTER_REPLICA_LOG_DIRS: (handle_alter_replica_log_dirs, 2),
    ApiKey.ELECT_LEADERS: (handle_elect_leaders, 2),
    ApiKey.ALTER_PARTITION_REASSIGNMENTS: (handle_alter_partition_reassignments, 1),
    ApiKey.LIST_PARTITION_REASSIGNMENTS: (handle_list_partition_reassignments, 0),
    ApiKey.DESCRIBE_PRODUCERS: (handle_describe_producers, 0),
    ApiKey.DESCRIBE_TRANSACTIONS: (handle_describe_transactions, 0),
    ApiKey.LIST_TRANSACTIONS: (handle_list_transactions, 2),
    ApiKey.LIST_CONFIG_RESOURCES: (handle_list_config_resources, 1),
    ApiKey.DESCRIBE_TOPIC_PARTITIONS: (handle_describe_topic_partitions, 0),
    ApiKey.SHARE_GROUP_HEARTBEAT: (handle_share_group_heartbeat, 1),
    ApiKey.SHARE_GROUP_DESCRIBE: (handle_share_group_describe, 1),
    ApiKey.SHARE_FETCH: (handle_share_fetch, 1),
    ApiKey.SHARE_ACKNOWLEDGE: (handle_share_acknowledge, 1),
    ApiKey.INITIALIZE_SHARE_GROUP_STATE: (handle_initialize_share_group_state, 0),
    ApiKey.READ_SHARE_GROUP_STATE: (handle_read_share_group_state, 0),
    ApiKey.WRITE_SHARE_GROUP_STATE: (handle_write_share_group_state, 0),
    ApiKey.DELETE_SHARE_GROUP_STATE: (handle_delete_share_group_state, 0),
    ApiKey.READ_SHARE_GROUP_STATE_SUMMARY: (handle_read_share_group_state_summary, 0),
    ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS: (handle_describe_share_group_offsets, 0),
    ApiKey.ALTER_SHARE_GROUP_OFFSETS: (handle_alter_share_group_offsets, 0),
    ApiKey.DELETE_SHARE_GROUP_OFFSETS: (handle_delete_share_group_offsets, 0),
    ApiKey.DESCRIBE_CLIENT_QUOTAS: (handle_describe_client_quotas, 1),
    ApiKey.ALTER_CLIENT_QUOTAS: (handle_alter_client_quotas, 1),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: (handle_describe_user_scram_credentials, 0),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: (handle_alter_user_scram_credentials, 0),
}
API_VERSIONS_MAX = 4
# APIs about the connection itself, answered by the dispatcher (authentication.py), not a handler.
CONNECTION_APIS: dict[int, int] = {ApiKey.SASL_HANDSHAKE: 1, ApiKey.SASL_AUTHENTICATE: 2}
# Kafka 4 lists Produce from v0 in its ApiVersions answer (ApiKeys.PRODUCE_API_VERSIONS_RESPONSE_MIN_VERSION,
# for old librdkafka: KAFKA-18659) though its validVersions are 3-13: a Produce v0-2 frame is still refused
# (the connection is closed), as here, where dispatch uses the served range, not the advertised one.
ADVERTISED_MIN_VERSIONS: dict[int, int] = {ApiKey.PRODUCE: 0}
# Kafka's names for the APIs (PRODUCE -> Produce), as metrics labels.
_API_NAMES = {int(k): "".join(part.capitalize() for part in k.name.split("_")) for k in ApiKey}


def served_versions() -> dict[int, tuple[int, int]]:
    """api key -> (min, max) versions served: the codec's range capped by the handler's maximum."""
    out: dict[int, tuple[int, int]] = {}
    maxima = {key: handler_max for key, (_, handler_max) in HANDLERS.items()} | CONNECTION_APIS
    for key, handler_max in maxima.items():
        known = codec.SUPPORTED.get(key)
        if known is None:
            continue
        low, high = known
        # Kafka 4's validVersions dropped the versions that carry magic 0/1 message sets (e.g.
        # Produce 0-2, Fetch 0-3); this broker stores record batch v2 only, so it does the same.
        low = max(low, codec.KAFKA_VALID_VERSIONS.get(key, (low, high))[0])
        if min(high, handler_max) >= low:
            out[key] = (low, min(high, handler_max))
    low, high = codec.SUPPORTED[ApiKey.API_VERSIONS]
    out[ApiKey.API_VERSIONS] = (low, min(high, API_VERSIONS_MAX))
    return out


class Dispatcher:
    """The server's request handler: bytes of one frame in, response chunks out."""

    def __init__(self, broker: Broker, advertised_host: str, advertised_port: int, *,
                 coordinator: GroupCoordinator | None = None,
                 latencies: RequestLatencies | None = None, security: ListenerSecurity | None = None,
                 fetch_sessions: FetchSessionCache | None = None, listener: str | None = None) -> None:
        self.broker = broker
        self.listener = listener
        self.authenticator = Authenticator(security if security is not None else ListenerSecurity())
        self.latencies = latencies
        self.coordinator = coordinator
        self.fetch_sessions = fetch_sessions if fetch_sessions is not None else FetchSessionCache(
            broker.config.get_int("max.incremental.fetch.session.cache.slots"))
        self.advertised_host = advertised_host
        self.advertised_port = advertised_port
        self.versions = served_versions()
        # Set while the broker is still joining its cluster: requests wait for it to open (see ``hold``).
        self.gate: asyncio.Event | None = None
        self._api_keys = [{"api_key": k, "min_version": ADVERTISED_MIN_VERSIONS.get(k, lo), "max_version": hi}
                          for k, (lo, hi) in sorted(self.versions.items())]

    def _unsupported_api_version(self, correlation_id: int) -> list[Chunk]:
        """ApiVersions of a version this broker does not serve: error 35 in the v0 body (KIP-511), so the
        client learns ApiVersions' own range and retries with a version both know. Like Kafka, the answer
        lists ApiVersions alone; the retried request gets the full list."""
        low, high = self.versions[ApiKey.API_VERSIONS]
        body = {"error_code": ErrorCode.UNSUPPORTED_VERSION, "throttle_time_ms": 0,
                "api_keys": [{"api_key": ApiKey.API_VERSIONS, "min_version": low, "max_version": high}]}
        return list(codec.encode_response(ApiKey.API_VERSIONS, 0, correlation_id, body))

    async def _hold_failure(self, auth: ConnectionAuth) -> None:
        """connection.failed.authentication.delay.ms: a refused authentication waits before its answer
        and the close (responses go out in request order, so nothing after it is answered sooner)."""
        delay = self.authenticator.failure_delay_s(auth)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _raw_token(self, auth: ConnectionAuth, frame: memoryview, conn: ConnectionInfo) -> list[Chunk]:
        """A bare SASL token after a v0 SaslHandshake; the answer is the server's token, size-prefixed.
        A failure closes the connection without an answer (v0 has no error field)."""
        try:
            out = await self.broker.password_checks.run(self.authenticator.step, auth, bytes(frame), conn.peer)
        except AuthenticationFailed as exc:
            await self._hold_failure(auth)
            raise CloseConnection(f"authentication failed: {exc}") from None
        return [len(out).to_bytes(4, "big") + out]

    async def _connection_api(self, auth: ConnectionAuth, key: int, version: int, correlation_id: int,
                              body: Body, conn: ConnectionInfo) -> list[Chunk]:
        """SaslHandshake and SaslAuthenticate; CloseAfterResponse when the connection must close."""
        try:
            if key == ApiKey.SASL_HANDSHAKE:
                response = self.authenticator.handshake(auth, version, str(body.get("mechanism", "")), conn.peer)
            else:
                # A PLAIN password checked against SCRAM credentials costs PBKDF2: off the loop.
                response = await self.broker.password_checks.run(
                    self.authenticator.authenticate, auth, version, bytes(body.get("auth_bytes") or b""), conn.peer)
        except AuthClose as exc:
            await self._hold_failure(auth)
            if exc.body is None:
                raise CloseConnection(str(exc)) from None
            raise CloseAfterResponse(str(exc), codec.encode_response(key, version, correlation_id, exc.body)) from None
        return list(codec.encode_response(key, version, correlation_id, response))

    def hold(self, gate: asyncio.Event) -> None:
        """Answer no request until ``gate`` is set: a broker joining a cluster knows neither the
        controller, the other brokers, its partitions' leaders nor the cluster's ACLs and credentials
        until its first view is applied, and an answer from before would be wrong (a Metadata without
        a controller, writes taken for partitions another broker leads). Connections are accepted
        meanwhile and their requests wait, as Kafka's do until its startup has finished."""
        self.gate = gate

    async def __call__(self, frame: memoryview, conn: ConnectionInfo) -> Sequence[Chunk] | None:
        if self.gate is not None:
            await self.gate.wait()
            self.gate = None
        auth = connection_auth(conn.state)
        if auth.raw_tokens:
            return await self._raw_token(auth, frame, conn)
        try:
            request = codec.decode_request(frame)
        except UnsupportedVersion as exc:
            if exc.api_key == ApiKey.API_VERSIONS:
                return self._unsupported_api_version(exc.correlation_id)
            raise CloseConnection(f"{exc} from client {exc.client_id!r}") from None
        except ProtocolError as exc:
            raise CloseConnection(f"malformed request: {exc}") from None
        key, version = request.api_key, request.api_version
        served = self.versions.get(key)
        if served is None or not served[0] <= version <= served[1]:
            if key == ApiKey.API_VERSIONS:
                return self._unsupported_api_version(request.correlation_id)
            if key in NOT_SERVED:
                log.info("api key %d is not served; answered UNSUPPORTED_VERSION (client %r)", key, request.client_id)
                return list(codec.encode_response(key, version, request.correlation_id, NOT_SERVED[key]))
            raise CloseConnection(f"api key {key} version {version} is not served (client {request.client_id!r})")
        try:
            self.authenticator.gate(auth, key)
            principal = self.authenticator.principal(auth, conn.peer, conn.peer_cert)
        except AuthClose as exc:
            # Not held: Kafka closes at once on a request before authentication (found by the reference run).
            raise CloseConnection(f"{exc} (client {request.client_id!r})") from None
        if key in CONNECTION_APIS:
            return await self._connection_api(auth, key, version, request.correlation_id, request.body, conn)
        ctx = RequestContext(self.broker, version, request.client_id, conn.peer, self.advertised_host,
                             self.advertised_port, self.coordinator, self.fetch_sessions, principal=principal,
                             listener=self.listener)
        if key == ApiKey.API_VERSIONS:
            response: Body | None = {"error_code": 0, "api_keys": self._api_keys, "throttle_time_ms": 0,
                                     "supported_features": [], "finalized_features_epoch": -1,
                                     "finalized_features": [], "zk_migration_ready": False}
        else:
            handler = HANDLERS[key][0]
            started = time.perf_counter()
            response = await handler(ctx, request.body)
            if self.latencies is not None:
                self.latencies.observe(_API_NAMES.get(key, str(key)), time.perf_counter() - started)
        if response is None:
            return None
        return list(codec.encode_response(key, version, request.correlation_id, response))
