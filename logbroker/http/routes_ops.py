"""Operations: ``GET /health``, ``GET /metrics`` (Prometheus text format) and ``GET /openapi.json``."""

from __future__ import annotations

import logging

from aiohttp import web

from logbroker.http.content import respond
from logbroker.http.context import HttpContext, context
from logbroker.http.metrics import CONTENT_TYPE, Exposition
from logbroker.http.openapi import document

log = logging.getLogger(__name__)


routes = web.RouteTableDef()


@routes.get("/health", allow_head=False)
async def health(request: web.Request) -> web.Response:
    broker = context(request).broker
    return respond(request, {"status": "ok", "node_id": broker.node_id, "cluster_id": broker.cluster_id,
                             "topics": len(broker.topic_names())})


@routes.get("/openapi.json", allow_head=False)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


@routes.get("/metrics", allow_head=False)
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=render_metrics(context(request)).encode(), headers={"Content-Type": CONTENT_TYPE})


def render_metrics(ctx: HttpContext) -> str:
    """The whole exposition page, read from the broker's state when scraped."""
    broker = ctx.broker
    page = Exposition()
    live = set(broker.topic_names())

    def per_topic(counts: dict[str, int]) -> list[tuple[dict[str, object], float]]:
        return [({"topic": t}, n) for t, n in sorted(counts.items()) if t in live]

    page.family("logbroker_topic_bytes_in_total", "counter", "Record batch bytes appended to the topic.",
                per_topic(broker.topic_bytes_in))
    page.family("logbroker_topic_records_in_total", "counter", "Records appended to the topic.",
                per_topic(broker.topic_records_in))
    page.family("logbroker_topic_bytes_out_total", "counter",
                "Record batch bytes read from the topic by Kafka fetches and HTTP reads.",
                per_topic(broker.topic_bytes_out))
    page.family("logbroker_http_records_out_total", "counter", "Records returned by HTTP reads.",
                per_topic(ctx.metrics.records_out))
    page.family("logbroker_bytes_in_total", "counter", "Record batch bytes appended to all topics.",
                [({}, broker.bytes_in)])
    page.family("logbroker_records_in_total", "counter", "Records appended to all topics.",
                [({}, broker.records_in)])
    logs = broker.open_partitions()
    page.family("logbroker_log_size_bytes", "gauge", "Bytes on disk of each open partition log.",
                [({"topic": s.topic, "partition": s.partition}, s.size_bytes) for s in logs])
    page.family("logbroker_log_start_offset", "gauge", "First readable offset of each open partition log.",
                [({"topic": s.topic, "partition": s.partition}, s.log_start_offset) for s in logs])
    page.family("logbroker_log_end_offset", "gauge", "Offset of the next record of each open partition log.",
                [({"topic": s.topic, "partition": s.partition}, s.log_end_offset) for s in logs])
    page.family("logbroker_http_requests_total", "counter", "HTTP requests by route template, method and status.",
                [({"route": r, "method": m, "status": s}, n)
                 for (r, m, s), n in sorted(ctx.metrics.requests.items())])
    page.histograms("logbroker_http_request_duration_seconds", "HTTP request latency by route template.",
                    [({"route": r, "method": m}, h) for (r, m), h in sorted(ctx.metrics.latency.items())])
    if ctx.http_connections is not None:
        page.family("logbroker_http_connections", "gauge", "Open HTTP connections.", [({}, ctx.http_connections())])
    if ctx.kafka_stats is not None:
        for name, value in sorted(ctx.kafka_stats().items()):
            kind = "gauge" if name.endswith("_open") else "counter"
            suffix = "" if kind == "gauge" else "_total"
            metric = f"logbroker_kafka_{name.removesuffix('_total')}{suffix}"
            page.family(metric, kind, f"Kafka listener: {name.replace('_', ' ')}.", [({}, value)])
    if ctx.kafka_latency is not None:
        page.histograms("logbroker_kafka_request_duration_seconds",
                        "Kafka request latency by API, from decoded request to encoded response.",
                        [({"api": name}, h) for name, h in sorted(ctx.kafka_latency.by_name.items())])
    coordinator = ctx.coordinator
    if coordinator is not None:
        samples: list[tuple[dict[str, object], float]] = []
        for listed in coordinator.list_groups():
            for lag in coordinator.lag(listed.group_id):
                if lag.lag is not None:
                    samples.append(({"group": listed.group_id, "topic": lag.topic, "partition": lag.partition},
                                    lag.lag))
        page.family("logbroker_group_lag", "gauge",
                    "Records between a group's committed offset and the log end offset.", samples)
    return page.text()
