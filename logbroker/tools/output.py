"""Formatting shared by the tools: aligned tables, records as text or JSON, and a progress meter.

Nothing here writes to a stream itself; callers hand in an ``emit`` function (the CLI's echo),
so the tools stay free of printing.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Emit = Callable[[str], None]


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Lines of a left-aligned table, columns separated by two spaces (kafka-consumer-groups' look)."""
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]


def to_json(value: Any) -> str:
    """One compact JSON document on one line."""
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def json_bytes(data: bytes | None) -> str | dict[str, str] | None:
    """Bytes for JSON output: a string when they are UTF-8, else ``{"base64": ...}``; ``None`` stays null."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


@dataclass(frozen=True, slots=True)
class RecordFields:
    """What text output shows and how it separates it: kafka-console-consumer's DefaultMessageFormatter
    properties (``print.*``, ``key.separator``, ``line.separator``, ``headers.separator``,
    ``null.literal``) with Kafka's defaults."""

    timestamp: bool = False
    partition: bool = False
    offset: bool = False
    headers: bool = False
    key: bool = False
    value: bool = True
    key_separator: bytes = b"\t"
    line_separator: bytes = b"\n"
    headers_separator: bytes = b","
    null_literal: bytes = b"null"


TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime"}


def format_record_text(record: Any, fields: RecordFields) -> bytes:
    """One record as kafka-console-consumer's DefaultMessageFormatter writes it, line separator included:
    ``CreateTime:ms``, ``Partition:p``, ``Offset:o``, headers ``k:v,...``, key, value, each shown only
    when asked, joined by ``key.separator``. Keys, values and header values are written as their raw
    bytes (no decoding, so binary data survives a pipe); null ones as ``null.literal``."""
    parts: list[bytes] = []
    if fields.timestamp:
        kind = TIMESTAMP_TYPES.get(record.timestamp_type)
        parts.append(b"NO_TIMESTAMP" if kind is None else f"{kind}:{record.timestamp}".encode())
    if fields.partition:
        parts.append(b"Partition:%d" % record.partition)
    if fields.offset:
        parts.append(b"Offset:%d" % record.offset)
    if fields.headers:
        headers = record.headers or []
        parts.append(fields.headers_separator.join(
            k.encode() + b":" + (fields.null_literal if v is None else bytes(v)) for k, v in headers)
            if headers else b"NO_HEADERS")
    if fields.key:
        parts.append(fields.null_literal if record.key is None else bytes(record.key))
    if fields.value:
        parts.append(fields.null_literal if record.value is None else bytes(record.value))
    return fields.key_separator.join(parts) + fields.line_separator


def format_record_json(record: Any) -> str:
    """One record as a JSON object with every field, whatever the ``--print-*`` flags say."""
    return to_json({
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestamp_type": TIMESTAMP_TYPES.get(record.timestamp_type, "NoTimestampType"),
        "key": json_bytes(record.key),
        "value": json_bytes(record.value),
        "headers": [[k, json_bytes(v)] for k, v in (record.headers or [])],
    })


class Progress:
    """Records and records/s on one self-overwriting line, at most every ``interval_s`` seconds.

    Disabled (all methods no-ops) unless the CLI found a terminal to draw on; piped output stays clean.
    """

    def __init__(self, emit: Emit, enabled: bool, unit: str = "records", interval_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self.enabled = enabled
        self._unit = unit
        self._interval = interval_s
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._drawn = False
        self.count = 0

    def add(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            rate = self.count / max(now - self._start, 1e-9)
            self._emit(f"\r{self.count} {self._unit}, {rate:,.0f} {self._unit}/s ")
            self._drawn = True

    def finish(self) -> None:
        """Clear the meter so the summary that follows starts on a clean line."""
        if self.enabled and self._drawn:
            self._emit("\r\033[K")
            self._drawn = False
