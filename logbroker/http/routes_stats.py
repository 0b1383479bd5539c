"""What a management view needs beyond the admin routes: live rates, latency percentiles, disk use,
paginated partitions of large topics, topic and group summaries, lag over time, adding partitions.

    GET  /stats                          identity, counts, disk, rates history, latency percentiles per API
    GET  /stats/topics                   a page of topics with records, size, retention and rates
                                         (?offset, limit, filter, sort, order, internal)
    GET  /stats/groups                   a page of groups with state, protocol, members and total lag
                                         (?offset, limit, filter)
    GET  /groups/{group}/lag-history     the group's total lag and lag per partition over the last minutes
    GET  /topics/{topic}/partitions      a page of partitions: log start/end offsets, size, segments, replicas
                                         (in a cluster, offsets of partitions held elsewhere from their leaders)
    POST /topics/{topic}/partitions      {"count": n, "validate_only"?} grow the topic to n partitions
    GET  /topics/{topic}/configs         the topic's configs (Kafka names, values, defaults, sources) alone,
                                         without opening every partition as GET /topics/{topic} does

Rates come from ``history.History``, sampled every ``interval_ms`` by a task this module attaches to
the application (``sampler``); lag history is sampled by the same task. Everything here reads the
broker core and the group coordinator, as every other route does, so what it shows matches the
Kafka API and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from logbroker.groups import GroupError
from logbroker.http.access import Op, require_cluster, require_group, require_topic, visible_groups, visible_topics
from logbroker.http.content import read_body, respond
from logbroker.http.context import CONTEXT, HttpContext, context, coordinator
from logbroker.http.errors import bad_request, group_error
from logbroker.http.history import MAX_GROUPS, Counters, History
from logbroker.http.params import body_object, field_int, leaders_timeout_ms, query_choice, query_int
from logbroker.http.routes_groups import leader_ends
from logbroker.http.routes_topics import configs_of, partition_offsets
from logbroker.metrics import Histogram
from logbroker.topics import MAX_PARTITIONS

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

HISTORY: web.AppKey[History] = web.AppKey("logbroker_history", History)

MAX_PAGE = 1000
TOPIC_SORTS = ("name", "partitions", "records", "size_bytes", "bytes_in_per_s", "bytes_out_per_s")
QUANTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("p999_ms", 0.999))


def counters(ctx: HttpContext) -> Counters:
    broker = ctx.broker
    return Counters(broker.bytes_in, broker.records_in, sum(broker.topic_bytes_out.values()),
                    sum(ctx.metrics.records_out.values()), dict(broker.topic_bytes_in),
                    dict(broker.topic_records_in), dict(broker.topic_bytes_out))


async def sample_once(ctx: HttpContext, history: History) -> None:
    now = ctx.clock()
    history.sample(now, counters(ctx))
    groups = ctx.coordinator
    if groups is not None:
        # Bounded like the history itself: lag is computed for at most MAX_GROUPS groups per sample.
        listed = groups.list_groups()[:MAX_GROUPS]
        lags_of = {g.group_id: groups.lag(g.group_id) for g in listed}
        # In a cluster the ends of partitions this coordinator does not hold come from their leaders,
        # for every group at once; a partition whose leader could not be asked is null, not 0.
        ends, errors = await leader_ends(ctx.broker, [lag for lags in lags_of.values() for lag in lags])
        sampled = []
        failed: dict[str, str] = {}
        for group_id, lags in lags_of.items():
            if ends:
                lags = groups.lag(group_id, ends)
            why = next((errors[(lag.topic, lag.partition)] for lag in lags if (lag.topic, lag.partition) in errors),
                       None)
            if why is not None:
                failed[group_id] = why
            sampled.append((group_id, [(lag.topic, lag.partition, lag.lag) for lag in lags]))
        history.sample_lag(now, sampled, failed)


def install_history(app: web.Application, history: History | None = None) -> None:
    """Keep rate and lag history for this application: a sampler task runs while the app runs."""
    app[HISTORY] = history if history is not None else History()

    async def sampler(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            ctx, hist = app[CONTEXT], app[HISTORY]
            while True:
                try:
                    await sample_once(ctx, hist)
                except Exception:  # a sampling bug must not end the history for good
                    log.exception("sampling broker counters failed")
                await asyncio.sleep(hist.interval_ms / 1000)

        task = asyncio.create_task(loop(), name="logbroker-http-history")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(sampler)


def _latency(front: str, items: dict[str, Histogram]) -> list[dict[str, Any]]:
    out = []
    for name, hist in sorted(items.items()):
        count = hist.count
        if count == 0:
            continue
        row: dict[str, Any] = {"front": front, "name": name, "count": count,
                               "mean_ms": round(hist.total / count * 1000, 3)}
        for key, q in QUANTILES:
            value = hist.quantile(q)
            row[key] = None if value is None else round(value * 1000, 3)
        out.append(row)
    return out


@routes.get("/stats", allow_head=False)
async def stats(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    require_cluster(request, Op.DESCRIBE)  # broker-wide figures: Kafka's DescribeCluster/metrics permission
    history = request.app[HISTORY]
    topics = broker.topics()
    used, free, total = broker.disk_usage()
    groups = ctx.coordinator.list_groups() if ctx.coordinator is not None else []
    http_latency = {f"{method} {route}": h for (route, method), h in ctx.metrics.latency.items()}
    latency = _latency("http", http_latency)
    if ctx.kafka_latency is not None:
        latency = _latency("kafka", ctx.kafka_latency.by_name) + latency
    return respond(request, {
        "node_id": broker.node_id, "cluster_id": broker.cluster_id, "status": "ok", "now_ms": ctx.clock(),
        # In a cluster every live broker (Kafka's DescribeCluster); alone, this one.
        "brokers": ([{"node_id": b.broker_id} for b in broker.ownership.live_brokers()]
                    if broker.ownership is not None else [{"node_id": broker.node_id}]),
        "topics": len(topics), "partitions": sum(t.partitions for t in topics), "groups": len(groups),
        "disk": {"log_bytes": used, "free_bytes": free, "total_bytes": total},
        "totals": {"bytes_in": broker.bytes_in, "records_in": broker.records_in,
                   "bytes_out": sum(broker.topic_bytes_out.values())},
        "rates": {"interval_ms": history.interval_ms, "window": history.window,
                  "samples": [{"time_ms": s.time_ms, "bytes_in": round(s.bytes_in, 1),
                               "records_in": round(s.records_in, 1), "bytes_out": round(s.bytes_out, 1),
                               "records_out": round(s.records_out, 1)} for s in history.rates]},
        "latency": latency,
    })


def _page(request: web.Request) -> tuple[int, int]:
    offset = query_int(request, "offset", 0, 0, 2**31 - 1)
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    assert offset is not None and limit is not None
    return offset, limit


@routes.get("/stats/topics", allow_head=False)
async def topic_stats(request: web.Request) -> web.Response:
    """Topics with their size and records (alone, over the partitions opened since start: a log is
    opened when first read or written; in a cluster, over every partition, asked of its leader),
    retention and current rates; filtered, sorted and paginated here so a broker with many topics
    never sends them all. A topic some of whose partitions could not be counted has ``error``
    naming the leader that could not be asked."""
    ctx = context(request)
    broker = ctx.broker
    history = request.app[HISTORY]
    offset, limit = _page(request)
    needle = request.query.get("filter", "").lower()
    sort = query_choice(request, "sort", TOPIC_SORTS, "name")
    order = query_choice(request, "order", ("asc", "desc"), "asc")
    internal = query_choice(request, "internal", ("true", "false"), "true") == "true"
    # Alone: the logs opened since start; in a cluster: every partition, through its leader.
    sizes, errors = await broker.cluster_topic_totals()
    rows = []
    all_topics = broker.topics()
    visible = visible_topics(request, (t.name for t in all_topics))
    for info in all_topics:
        if info.name not in visible or (needle and needle not in info.name.lower()):
            continue
        is_internal = broker.is_internal(info.name)
        if is_internal and not internal:
            continue
        records, size = sizes.get(info.name, (0, 0))
        rates = history.topic_rates.get(info.name)
        row: dict[str, Any] = {"name": info.name, "partitions": info.partitions, "internal": is_internal,
                     "records": records, "size_bytes": size,
                     "retention_ms": info.config.retention_ms, "cleanup_policy": ",".join(info.config.cleanup_policy),
                     "bytes_in_per_s": round(rates.bytes_in, 1) if rates else 0.0,
                     "records_in_per_s": round(rates.records_in, 1) if rates else 0.0,
                     "bytes_out_per_s": round(rates.bytes_out, 1) if rates else 0.0}
        if info.name in errors:
            row["error"] = errors[info.name]  # some partition's leader could not be asked: left out
        rows.append(row)
    rows.sort(key=lambda r: (r[sort], r["name"]), reverse=order == "desc")
    return respond(request, {"total": len(rows), "offset": offset, "limit": limit,
                             "topics": rows[offset:offset + limit]})


@routes.get("/stats/groups", allow_head=False)
async def group_stats(request: web.Request) -> web.Response:
    groups = coordinator(request)
    offset, limit = _page(request)
    needle = request.query.get("filter", "").lower()
    every = groups.list_groups()
    visible = visible_groups(request, (g.group_id for g in every))
    listed = [g for g in every if g.group_id in visible and (not needle or needle in g.group_id.lower())]
    page = listed[offset:offset + limit]
    lags_of = {g.group_id: groups.lag(g.group_id) for g in page}
    # In a cluster the ends of partitions this coordinator does not hold come from their leaders, for
    # the whole page at once; a partition whose leader could not be asked counts as unknown.
    ends, errors = await leader_ends(context(request).broker, [lag for lags in lags_of.values() for lag in lags])
    rows = []
    for g in page:
        desc = groups.describe_group(g.group_id)
        lags = groups.lag(g.group_id, ends) if ends else lags_of[g.group_id]
        unknown = sum(1 for lag in lags if (lag.topic, lag.partition) in errors)
        rows.append({"group_id": g.group_id, "state": g.state, "group_type": g.group_type,
                     "protocol_type": g.protocol_type, "members": len(desc.members) if desc else 0,
                     "topics": sorted({lag.topic for lag in lags}),
                     "total_lag": sum(lag.lag or 0 for lag in lags), **({"lag_unknown_partitions": unknown}
                                                                         if unknown else {})})
    return respond(request, {"total": len(listed), "offset": offset, "limit": limit, "groups": rows})


@routes.get("/groups/{group}/lag-history", allow_head=False)
async def lag_history(request: web.Request) -> web.Response:
    group_id = request.match_info["group"]
    require_group(request, Op.DESCRIBE, group_id)
    groups = coordinator(request)
    if groups.describe_group(group_id) is None:
        raise group_error(GroupError.GROUP_ID_NOT_FOUND, f"group {group_id!r}")
    history = request.app[HISTORY]
    hist = history.groups.get(group_id)
    if hist is None:
        return respond(request, {"group_id": group_id, "interval_ms": history.interval_ms, "partitions": [],
                                 "samples": []})
    return respond(request, {"group_id": group_id, "interval_ms": history.interval_ms,
                             "partitions": [{"topic": t, "partition": p} for t, p in hist.partitions],
                             "samples": [{"time_ms": s.time_ms, "total": s.total, "lags": list(s.lags),
                                          **({"error": s.error} if s.error is not None else {})}
                                         for s in hist.samples]})


@routes.get("/topics/{topic}/partitions", allow_head=False)
async def list_partitions(request: web.Request) -> web.Response:
    """One page of a topic's partitions: only the logs on the page are opened."""
    broker = context(request).broker
    name = request.match_info["topic"]
    require_topic(request, Op.DESCRIBE, name)
    info = broker.topic(name)
    offset, limit = _page(request)
    node = broker.node_id
    ownership = broker.ownership
    states = await broker.partition_states_async(name, offset, offset + limit)
    rows = []
    for s in states:
        row = {**partition_offsets(s), "segments": s.segments, "leader": node, "replicas": [node], "isr": [node]}
        view = ownership.partition_view(name, s.partition) if ownership is not None else None
        if view is not None:
            row.update(leader=view.leader, replicas=list(view.replicas), isr=list(view.isr))
        rows.append(row)
    return respond(request, {"topic": name, "total": info.partitions, "offset": offset, "limit": limit,
                             "partitions": rows})


@routes.post("/topics/{topic}/partitions")
async def add_partitions(request: web.Request) -> web.Response:
    """Grow a topic (Kafka CreatePartitions): ``count`` is the new total, never fewer than today."""
    broker = context(request).broker
    name = request.match_info["topic"]
    require_topic(request, Op.ALTER, name)
    broker.topic(name)  # 404 before 400s about the body
    body = body_object(await read_body(request))
    count = field_int(body, "count", 1, MAX_PARTITIONS)
    if count is None:
        raise bad_request("count (the new total number of partitions) is required")
    validate_only = body.get("validate_only", False)
    if not isinstance(validate_only, bool):
        raise bad_request("validate_only must be a boolean")
    info = await broker.create_partitions_async(name, count, validate_only=validate_only,
                                                leaders_timeout_s=leaders_timeout_ms(body) / 1000)
    if not validate_only:
        log.info("topic %s grown to %d partitions over HTTP from %s", name, info.partitions, request.remote)
    return respond(request, {"name": name, "partitions": info.partitions, "validate_only": validate_only})


@routes.get("/topics/{topic}/configs", allow_head=False)
async def topic_configs(request: web.Request) -> web.Response:
    broker = context(request).broker
    name = request.match_info["topic"]
    require_topic(request, Op.DESCRIBE_CONFIGS, name)
    return respond(request, {"name": name, "configs": configs_of(broker.describe_configs(name))})
