"""The pool of inter-broker connections (``logbroker/cluster/peer_connections.py``) against a real
``logbroker serve``: concurrent requests share one connection and get their own answers, a request
out of time fails alone, an unreachable broker is not tried again before its backoff ends, a
broker that restarts is reconnected to, closing the pool fails what is in flight, and a SASL session
due for renewal moves new requests to a fresh connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logbroker.cluster.broker_connection import InterBrokerSecurity
from logbroker.cluster.peer_connections import PeerConnections, PeerUnavailable
from logbroker.kafka.api_keys import ApiKey
from logbroker.security.sasl_client import SaslCredentials
from tests.conftest import BrokerProcess, free_port
from tests.http.http_api import Api, start_http_broker

TOPIC = "asked"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path)
    Api(b.http_port).create_topic(TOPIC, partitions=2)
    yield b
    b.stop()


def _pool(port: int, backoff_ms: int = 50) -> PeerConnections:
    return PeerConnections(lambda _id: ("127.0.0.1", port), lambda: None, "peer-test", backoff_ms=backoff_ms,
                           backoff_max_ms=backoff_ms * 4)


def _connections(b: BrokerProcess) -> int:
    text = Api(b.http_port).get("/metrics").raw.decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("logbroker_kafka_connections_total"))
    return int(float(line.split()[-1]))


def _list_offsets(partition: int, timestamp: int) -> dict[str, Any]:
    return {"replica_id": -1, "topics": [{"name": TOPIC, "partitions": [
        {"partition_index": partition, "timestamp": timestamp}]}]}


def _fetch(wait_ms: int) -> dict[str, Any]:
    """A Fetch v4 of the empty partition 0 that waits ``wait_ms`` for data that never comes."""
    return {"replica_id": -1, "max_wait_ms": wait_ms, "min_bytes": 1, "max_bytes": 1024, "isolation_level": 0,
            "topics": [{"topic": TOPIC, "partitions": [{"partition": 0, "fetch_offset": 0,
                                                        "partition_max_bytes": 1024}]}]}


def test_concurrent_requests_share_one_connection_and_get_their_own_answers(peer: BrokerProcess) -> None:
    Api(peer.http_port).post(f"/topics/{TOPIC}/records", {"records": [{"value": "x", "partition": 1}] * 3})
    before = _connections(peer)

    async def run() -> list[dict[str, Any]]:
        pool = _pool(peer.port)
        try:
            asks = [pool.request(1, ApiKey.LIST_OFFSETS, 1, _list_offsets(i % 2, -1), 5) for i in range(20)]
            asks += [pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5) for _ in range(5)]
            return list(await asyncio.gather(*asks))
        finally:
            await pool.close()

    answers = asyncio.run(run())
    for i, answer in enumerate(answers[:20]):
        p = answer["topics"][0]["partitions"][0]
        assert (p["partition_index"], p["error_code"], p["offset"]) == (i % 2, 0, 3 if i % 2 else 0), answer
    assert all(a["error_code"] == 0 and a["api_keys"] for a in answers[20:]), answers[20:]
    assert _connections(peer) - before == 1  # every request on one connection


def test_a_request_out_of_time_fails_alone_and_its_late_answer_is_dropped(peer: BrokerProcess) -> None:
    async def run() -> tuple[BaseException | None, dict[str, Any], dict[str, Any]]:
        pool = _pool(peer.port)
        try:
            waiting = asyncio.ensure_future(pool.request(1, ApiKey.FETCH, 4, _fetch(1000), 0.2))
            await asyncio.sleep(0.05)
            # Asked behind the waiting fetch on the same connection: answered after it (in order).
            after = await pool.request(1, ApiKey.LIST_OFFSETS, 1, _list_offsets(0, -2), 5)
            failed = None
            try:
                await waiting
            except TimeoutError as exc:
                failed = exc
            again = await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
            return failed, after, again
        finally:
            await pool.close()

    failed, after, again = asyncio.run(run())
    assert isinstance(failed, TimeoutError)
    assert after["topics"][0]["partitions"][0]["error_code"] == 0, after
    assert again["error_code"] == 0 and again["api_keys"], again


def test_an_unreachable_broker_waits_out_its_backoff_then_a_restarted_one_is_reconnected(
        peer: BrokerProcess) -> None:
    async def run() -> None:
        pool = _pool(free_port(), backoff_ms=200)
        try:
            with pytest.raises(ConnectionRefusedError):
                await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
            started = time.monotonic()
            with pytest.raises(PeerUnavailable, match="trying again in"):
                await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
            assert time.monotonic() - started < 0.1  # refused at once, no connection tried
            await asyncio.sleep(0.3)  # past the first backoff (200 ms, 20% jitter)
            with pytest.raises(ConnectionRefusedError):  # tried again
                await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
        finally:
            await pool.close()

    asyncio.run(run())

    async def restarted() -> None:
        pool = _pool(peer.port, backoff_ms=50)
        try:
            assert (await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5))["error_code"] == 0
            await asyncio.to_thread(peer.stop)
            with pytest.raises(OSError):  # the connection is gone (ConnectionError is an OSError)
                await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
            await asyncio.to_thread(peer.start, same_ports=True)
            deadline = time.monotonic() + 20
            while True:
                try:
                    answer = await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "never reconnected"
                    await asyncio.sleep(0.1)
            assert answer["error_code"] == 0
        finally:
            await pool.close()

    asyncio.run(restarted())


def test_closing_the_pool_fails_what_is_in_flight(peer: BrokerProcess) -> None:
    async def run() -> None:
        pool = _pool(peer.port)
        waiting = asyncio.ensure_future(pool.request(1, ApiKey.FETCH, 4, _fetch(5000), 10))
        await asyncio.sleep(0.2)
        await pool.close()
        with pytest.raises(ConnectionError):
            await waiting
        with pytest.raises(PeerUnavailable):
            await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5)

    asyncio.run(run())


def test_closing_the_pool_while_it_connects_fails_the_waiting_request_with_connection_error() -> None:
    """A peer that accepts but never answers the SASL handshake keeps the pool connecting; close()
    then ends the connect, and the request waiting for it fails as a lost connection, not as a
    cancellation."""
    async def run() -> None:
        silent = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        security = InterBrokerSecurity(sasl=SaslCredentials("PLAIN", "broker", "broker-secret"))
        pool = PeerConnections(lambda _id: ("127.0.0.1", port), lambda: security, "peer-test")
        try:
            waiting = asyncio.ensure_future(pool.request(1, ApiKey.API_VERSIONS, 0, {}, 10))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await pool.close()
            with pytest.raises(PeerUnavailable, match="shutting down"):
                await waiting
        finally:
            silent.close()

    asyncio.run(run())


def test_a_sasl_session_due_for_renewal_moves_new_requests_to_a_fresh_connection(tmp_path: Path) -> None:
    """KIP-368: the peer ends a session after ``connections.max.reauth.ms``; with other requests
    possibly in flight, the pool does not renew it in place but authenticates a fresh connection."""
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" '
            'password="broker-secret" user_broker="broker-secret";')
    b = start_http_broker(tmp_path, **{
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas, "connections.max.reauth.ms": "1000"})
    try:
        port = b.listener_ports["SASL_PLAINTEXT"]
        security = InterBrokerSecurity(sasl=SaslCredentials("PLAIN", "broker", "broker-secret"))
        before = _connections(b)

        async def run() -> list[dict[str, Any]]:
            pool = PeerConnections(lambda _id: ("127.0.0.1", port), lambda: security, "peer-test")
            try:
                answers = [await pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5) for _ in range(3)]
                await asyncio.sleep(1.2)  # past 80 % of the session: due for renewal
                answers += await asyncio.gather(*(pool.request(1, ApiKey.API_VERSIONS, 0, {}, 5) for _ in range(3)))
                return answers
            finally:
                await pool.close()

        answers = asyncio.run(run())
        assert all(a["error_code"] == 0 for a in answers), answers
        assert _connections(b) - before == 2  # one per session, every request answered
        assert "SASL session expired" not in b.log_text()
    finally:
        b.stop()
