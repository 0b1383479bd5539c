"""Apache Kafka as a peer in ``bench/compare.py``: one single-node KRaft broker for the whole comparison.

Started from the jars ``make kafka-jars`` caches (``tests/kafka_reference.py``), but with the JVM
options Kafka's own ``kafka-server-start.sh`` uses (``-Xmx1G -Xms1G``, G1 with a 20 ms pause
target) rather than the test harness's small-footprint ones, and Kafka's shipped broker defaults
except what a one-node cluster needs (replication factors 1) and the group join delay, which is set
as for logbroker (the clock starts once the group has settled, so it only costs set-up time).
Each run gets a fresh 4-partition topic, deleted afterwards. Stopped by its pid.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import kafka_reference as ref  # noqa: E402

# kafka-server-start.sh's KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
JVM_OPTS = ["-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true"]
OVERRIDES = {"group.initial.rebalance.delay.ms": "500"}


class ShippedJvmKafka(ref.KafkaBroker):
    def _java(self, main: str, *args: str) -> list[str]:
        java, _ = ref.java_and_maven()
        assert self.jars is not None
        return [java, *JVM_OPTS, f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", f"{self.jars}/*", main, *args]


def unavailable_reason() -> str | None:
    try:
        ref.java_and_maven()
    except Exception as exc:
        return f"Apache Kafka not runnable: {exc}"
    if not ref.jar_dir().joinpath(ref.COMPLETE_MARKER).exists():
        return "Apache Kafka jars not fetched (run `make kafka-jars`)"
    return None


class KafkaNode:
    """``with KafkaNode() as k: k.bootstrap, k.pid``; one broker, its own temporary data, stopped by pid."""

    def __init__(self, parent: Path | None = None, overrides: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="compare-kafka-", dir=parent))
        self.broker = ShippedJvmKafka(data_dir=self.root / "data", log_path=self.root / "kafka.log",
                                      overrides={**OVERRIDES, **(overrides or {})}, jars=ref.jar_dir(),
                                      start_timeout_s=180.0)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def pid(self) -> int | None:
        return self.broker.proc.pid if self.broker.proc is not None else None

    @property
    def version(self) -> str:
        return ref.KAFKA_VERSION

    def delete_topic(self, topic: str) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 3})
        try:
            admin.delete_topics([topic], operation_timeout=15, request_timeout=15)[topic].result(timeout=30)
        except Exception as exc:
            print(f"  Kafka: deleting {topic} failed: {exc}")

    def __enter__(self) -> KafkaNode:
        try:
            self.broker.start()
        except BaseException:
            self.broker.stop()
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.broker.stop()
        shutil.rmtree(self.root, ignore_errors=True)
