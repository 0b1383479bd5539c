"""Regenerates the golden request frames in this directory from real Kafka clients.

Starts a throwaway broker stub on 127.0.0.1 that answers with the logbroker codec (ApiVersions,
Metadata, InitProducerId, Produce), points librdkafka (confluent-kafka) and kafka-python producers
at it, and stores every request frame they send, size prefix included, as
`<client>_<seq>_<api>_v<version>.bin`, plus `index.json` describing them.

Run: .venv/bin/python tests/kafka/golden/capture_golden.py
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from logbroker.kafka import (
    SUPPORTED,
    ApiKey,
    FrameDecoder,
    ProtocolError,
    UnsupportedVersion,
    decode_request,
    encode_response,
)

HERE = Path(__file__).resolve().parent
TOPIC_ID = uuid.UUID("6f1c1ab0-0000-4000-8000-00000000beef")


class Recorder:
    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []
        self.client = "none"
        self.port = 0


def _api_versions_body(error_code: int) -> dict[str, Any]:
    return {
        "error_code": error_code,
        "api_keys": [{"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in SUPPORTED.items()],
        "throttle_time_ms": 0,
    }


def _reply(rec: Recorder, frame: memoryview) -> list[Any] | None:
    try:
        req = decode_request(frame)
    except UnsupportedVersion as exc:
        if exc.api_key == ApiKey.API_VERSIONS:
            return encode_response(18, 0, exc.correlation_id, _api_versions_body(35))
        return None
    key, ver, cid, body = req.api_key, req.api_version, req.correlation_id, req.body
    if key == ApiKey.API_VERSIONS:
        return encode_response(key, ver, cid, _api_versions_body(0))
    if key == ApiKey.METADATA:
        names = [t["name"] for t in body["topics"]] if body.get("topics") else ["golden"]
        topics = [
            {
                "error_code": 0,
                "name": name,
                "topic_id": TOPIC_ID,
                "partitions": [
                    {"partition_index": 0, "leader_id": 1, "leader_epoch": 0, "replica_nodes": [1], "isr_nodes": [1]}
                ],
            }
            for name in names
        ]
        resp = {
            "brokers": [{"node_id": 1, "host": "127.0.0.1", "port": rec.port}],
            "cluster_id": "golden-cluster",
            "controller_id": 1,
            "topics": topics,
        }
        return encode_response(key, ver, cid, resp)
    if key == ApiKey.INIT_PRODUCER_ID:
        return encode_response(key, ver, cid, {"producer_id": 1000, "producer_epoch": 0})
    if key == ApiKey.PRODUCE:
        responses = [
            {
                "name": t.get("name", ""),
                "topic_id": t.get("topic_id"),
                "partition_responses": [{"index": p["index"], "base_offset": 0} for p in t["partition_data"]],
            }
            for t in body["topic_data"]
        ]
        if body["acks"] == 0:
            return []
        return encode_response(key, ver, cid, {"responses": responses})
    return None


async def _serve(rec: Recorder, ready: threading.Event, stop: asyncio.Event) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(1 << 20)
        try:
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    rec.frames.append((rec.client, len(frame).to_bytes(4, "big") + bytes(frame)))
                    chunks = _reply(rec, frame)
                    if chunks is None:
                        writer.close()
                        return
                    for chunk in chunks:
                        writer.write(bytes(chunk))
                await writer.drain()
        except (ProtocolError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    rec.port = server.sockets[0].getsockname()[1]
    ready.set()
    await stop.wait()
    server.close()


def main() -> None:
    import confluent_kafka
    import kafka

    rec = Recorder()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(_serve(rec, ready, stop)), daemon=True)
    thread.start()
    ready.wait()
    bootstrap = f"127.0.0.1:{rec.port}"

    rec.client = "librdkafka"
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "client.id": "golden-rdkafka", "linger.ms": 0}
    )
    producer.produce("golden", key=b"k1", value=b"hello from librdkafka")
    producer.flush(5)
    del producer

    rec.client = "kafka-python"
    kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, client_id="golden-kafka-python", linger_ms=0)
    kp.send("golden", key=b"k1", value=b"hello from kafka-python").get(timeout=5)
    kp.close(timeout=5)

    loop.call_soon_threadsafe(stop.set)
    thread.join(5)

    for old in HERE.glob("*.bin"):
        old.unlink()
    index = []
    seq: dict[str, int] = {}
    for client, raw in rec.frames:
        n = seq.get(client, 0)
        seq[client] = n + 1
        api_key = int.from_bytes(raw[4:6], "big", signed=True)
        version = int.from_bytes(raw[6:8], "big", signed=True)
        name = ApiKey(api_key).name.lower() if api_key in ApiKey.__members__.values() else str(api_key)
        fname = f"{client}_{n:02d}_{name}_v{version}.bin"
        (HERE / fname).write_bytes(raw)
        index.append({"file": fname, "client": client, "api_key": api_key, "api_version": version})
    (HERE / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
