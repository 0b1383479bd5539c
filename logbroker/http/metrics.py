"""Prometheus text exposition (format 0.0.4) of the broker's state, for ``GET /metrics``.

Counters are read from the state the broker already keeps (per-topic bytes and records in, bytes
read for consumers, log offsets and sizes of open partitions) when the page is scraped; the only
metrics this module accumulates itself are the HTTP front's (requests and latency per route, records
returned per topic). Families::

    logbroker_topic_bytes_in_total{topic}              counter  record batch bytes appended
    logbroker_topic_records_in_total{topic}            counter  records appended
    logbroker_topic_bytes_out_total{topic}             counter  batch bytes read for Kafka fetches and HTTP reads
    logbroker_http_records_out_total{topic}            counter  records returned by HTTP reads
    logbroker_log_size_bytes{topic,partition}          gauge    bytes on disk of each open partition log
    logbroker_log_start_offset{topic,partition}        gauge
    logbroker_log_end_offset{topic,partition}          gauge
    logbroker_http_requests_total{route,method,status} counter
    logbroker_http_request_duration_seconds{route,method}  histogram
    logbroker_http_connections                         gauge    open HTTP connections
    logbroker_kafka_<stat>                             counters and gauges of the Kafka listener
    logbroker_kafka_request_duration_seconds{api}      histogram  Kafka request latency by API name
    logbroker_group_lag{group,topic,partition}         gauge    log end offset minus committed offset
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from logbroker.metrics import LATENCY_BUCKETS, Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

@dataclass(slots=True)
class HttpMetrics:
    """The HTTP front's own counters."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=dict)
    latency: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    records_out: dict[str, int] = field(default_factory=dict)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get((route, method))
        if hist is None:
            hist = self.latency[(route, method)] = Histogram()
        hist.observe(seconds)

    def count_records_out(self, topic: str, records: int) -> None:
        self.records_out[topic] = self.records_out.get(topic, 0) + records


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, object]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape(str(v))}"' for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Builds the text page family by family (HELP, TYPE, then the samples)."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[Mapping[str, object], float]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histograms(self, name: str, help_text: str, items: Iterable[tuple[Mapping[str, object], Histogram]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} histogram")
        for labels, hist in items:
            running = 0
            for bound, count in zip((*LATENCY_BUCKETS, math.inf), hist.counts, strict=True):
                running += count
                le = "+Inf" if math.isinf(bound) else repr(bound)
                self._lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {running}")
            self._lines.append(f"{name}_sum{_labels(labels)} {_number(hist.total)}")
            self._lines.append(f"{name}_count{_labels(labels)} {running}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
