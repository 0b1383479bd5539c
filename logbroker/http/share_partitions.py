"""One share-partition's state as the HTTP front shows it (``GET /groups/{group}`` of a share group
and ``GET /share-groups/{group}``), so both routes and the console read the same fields."""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiohttp import web

from logbroker.groups.shares import PartitionShareState
from logbroker.http.context import context
from logbroker.http.forwarding import ask_brokers


def share_partition_json(s: PartitionShareState) -> dict[str, Any]:
    """Start offset (below it every record is finished), the end of the in-flight window, the log end,
    lag (records not finished), the window's records by state, and how many in-flight records have
    been delivered how many times."""
    return {"topic": s.topic, "partition": s.partition, "start_offset": s.start_offset,
            "end_offset": s.end_offset, "log_end_offset": s.log_end_offset, "lag": s.lag,
            "in_flight": s.acquired + s.available, "acquired": s.acquired, "available": s.available,
            "acknowledged": s.acknowledged, "archived": s.archived,
            "delivery_histogram": [{"delivery_count": c, "records": n} for c, n in s.histogram.items()]}


async def held_elsewhere(request: web.Request, group_id: str, have: set[tuple[str, int]],
                         topics: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """In a cluster, the group's share-partitions of ``topics`` that live on other brokers (each on
    its partition's leader), as those leaders describe them (``GET /share-groups/{group}``, answered
    from themselves); and why a leader could not be asked. Nothing alone, or when asked by another
    broker."""
    broker = context(request).broker
    ownership = broker.ownership
    if ownership is None:
        return [], []
    leaders: dict[tuple[str, int], int] = {}
    for topic in sorted(topics):
        if not broker.has_topic(topic):
            continue
        for p in range(broker.topic(topic).partitions):
            view = ownership.partition_view(topic, p)
            if view is not None and view.leader >= 0 and view.leader != broker.node_id and (topic, p) not in have:
                leaders[(topic, p)] = view.leader
    answers = await ask_brokers(request, f"/share-groups/{urllib.parse.quote(group_id, safe='')}",
                                sorted(set(leaders.values())))
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    for broker_id, answer in sorted(answers.items()):
        if isinstance(answer, str):
            errors.append(answer)
        elif isinstance(answer, dict):
            out += [s for s in answer.get("partitions", []) if isinstance(s, dict)
                    and leaders.get((str(s.get("topic")), int(s.get("partition", -1)))) == broker_id]
    return out, errors
