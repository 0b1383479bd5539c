"""One share-partition's state as the HTTP front shows it (``GET /groups/{group}`` of a share group
and ``GET /share-groups/{group}``), so both routes and the console read the same fields."""

from __future__ import annotations

from typing import Any

from logbroker.groups.shares import PartitionShareState


def share_partition_json(s: PartitionShareState) -> dict[str, Any]:
    """Start offset (below it every record is finished), the end of the in-flight window, the log end,
    lag (records not finished), the window's records by state, and how many in-flight records have
    been delivered how many times."""
    return {"topic": s.topic, "partition": s.partition, "start_offset": s.start_offset,
            "end_offset": s.end_offset, "log_end_offset": s.log_end_offset, "lag": s.lag,
            "in_flight": s.acquired + s.available, "acquired": s.acquired, "available": s.available,
            "acknowledged": s.acknowledged, "archived": s.archived,
            "delivery_histogram": [{"delivery_count": c, "records": n} for c, n in s.histogram.items()]}
