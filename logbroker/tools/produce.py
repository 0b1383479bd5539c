"""``logbroker produce``: one record per input line, like kafka-console-producer.

A line is ``[HEADERS<headers.delimiter>][KEY<key.separator>]VALUE``, parsed as Kafka's
LineMessageReader does (``LineFormat``): with ``parse.headers`` the bytes before the first headers
delimiter are ``k:v`` pairs; with ``parse.key`` the bytes before the next key separator are the
key; a line missing a separator is an error naming the line number (with ``ignore.error`` the rest
of the line is the value). Line terminators (``\\n``, ``\\r\\n``) are not part of the record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import errors as kafka_errors

from logbroker.tools import clients
from logbroker.tools.errors import ToolError, explain
from logbroker.tools.output import Progress
from logbroker.tools.properties import LineFormat

ACKS = {"0": 0, "1": 1, "all": "all", "-1": "all"}
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True, slots=True)
class ProduceOptions:
    topic: str
    line_format: LineFormat = field(default_factory=LineFormat)
    partition: int | None = None
    acks: str = "all"
    compression: str = "none"
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(slots=True)
class ProduceSummary:
    """What a run delivered: records and bytes (keys plus values) acknowledged, per partition."""

    records: int = 0
    bytes: int = 0
    partitions: set[int] = field(default_factory=set)
    seconds: float = 0.0

    def line(self, topic: str) -> str:
        parts = ",".join(str(p) for p in sorted(self.partitions)) or "-"
        return (f"produced {self.records} records ({self.bytes} bytes) to {topic} "
                f"partitions [{parts}] in {self.seconds:.2f} s")


Headers = list[tuple[str, bytes | None]]


def _split(line: bytes, start: int, separator: bytes, what: str, fmt: LineFormat,
           number: int) -> tuple[bytes | None, int]:
    """The part of ``line`` from ``start`` up to ``separator`` and where the rest begins;
    (None, start) when the separator is missing and ``ignore.error`` is set."""
    at = line.find(separator, start)
    if at < 0:
        if fmt.ignore_error:
            return None, start
        raise ToolError(f"no {what} {separator.decode(errors='replace')!r} on line {number}")
    return line[start:at], at + len(separator)


def _parse_headers(text: bytes, fmt: LineFormat, number: int) -> Headers:
    out: Headers = []
    for pair in text.split(fmt.headers_separator):
        key, sep, value = pair.partition(fmt.headers_key_separator)
        if not sep and not fmt.ignore_error:
            raise ToolError(f"no header key separator {fmt.headers_key_separator.decode(errors='replace')!r} "
                            f"in {pair.decode(errors='replace')!r} on line {number}")
        if fmt.null_marker is not None and key == fmt.null_marker:
            raise ToolError(f"a header key equals null.marker on line {number}; header keys cannot be null")
        null = not sep or (fmt.null_marker is not None and value == fmt.null_marker)
        out.append((key.decode(errors="replace"), None if null else value))
    return out


def parse_line(line: bytes, fmt: LineFormat, number: int) -> tuple[bytes | None, bytes | None, Headers]:
    """(key, value, headers) of one input line; ``number`` (1-based) names the line in errors."""
    line = line.rstrip(b"\n")
    if line.endswith(b"\r"):
        line = line[:-1]
    headers: Headers = []
    pos = 0
    if fmt.parse_headers:
        raw_headers, pos = _split(line, 0, fmt.headers_delimiter, "headers delimiter", fmt, number)
        if raw_headers is not None and raw_headers != fmt.null_marker:
            headers = _parse_headers(raw_headers, fmt, number)
    key: bytes | None = None
    if fmt.parse_key:
        key, pos = _split(line, pos, fmt.key_separator, "key separator", fmt, number)
    value: bytes | None = line[pos:]
    if fmt.null_marker is not None:
        key = None if key == fmt.null_marker else key
        value = None if value == fmt.null_marker else value
    return key, value, headers


def _check_topic(settings: clients.ClientSettings, options: ProduceOptions) -> None:
    admin = clients.admin_client(settings)
    try:
        try:
            partitions = clients.topic_partitions(admin, options.topic)
        except ToolError:
            if not clients.broker_auto_creates_topics(admin):
                raise ToolError(f"unknown topic {options.topic!r} (the broker does not create topics on "
                                f"first use; create it with `logbroker topics create {options.topic}`)") from None
            if options.partition not in (None, 0):
                raise ToolError(f"unknown topic {options.topic!r}; an auto-created topic's partitions are not "
                                f"known in advance, create it first") from None
            return
        if options.partition is not None and options.partition not in partitions:
            raise ToolError(f"topic {options.topic!r} has no partition {options.partition} "
                            f"(partitions 0-{max(partitions)})")
    finally:
        admin.close()


def produce_lines(settings: clients.ClientSettings, options: ProduceOptions, lines: Iterable[bytes],
                  progress: Progress) -> ProduceSummary:
    """Send every line of ``lines`` and wait until all are acknowledged (or the first failure)."""
    if options.compression not in COMPRESSIONS:
        raise ToolError(f"unknown compression {options.compression!r}")
    _check_topic(settings, options)
    acks = ACKS[options.acks]
    config: dict[str, Any] = {
        "acks": acks,
        "compression_type": None if options.compression == "none" else options.compression,
        "linger_ms": 5,
        # Idempotence needs acks=all; weaker acks are an explicit choice of speed over it.
        "enable_idempotence": acks == "all",
    }
    try:
        producer = clients.producer(settings, **config)
    except (AssertionError, kafka_errors.UnsupportedCodecError) as exc:
        raise ToolError(f"cannot use compression {options.compression!r}: {exc}") from None
    summary = ProduceSummary()
    failures: list[BaseException] = []
    lock = threading.Lock()
    headers = list(options.headers)
    start = time.monotonic()

    def delivered(size: int, metadata: Any) -> None:
        with lock:
            summary.records += 1
            summary.bytes += size
            summary.partitions.add(metadata.partition)

    def failed(exc: BaseException) -> None:
        with lock:
            failures.append(exc)

    try:
        for number, raw in enumerate(lines, start=1):
            if failures:
                break
            key, value, parsed_headers = parse_line(raw, options.line_format, number)
            size = (len(value) if value is not None else 0) + (len(key) if key is not None else 0)
            try:
                future = producer.send(options.topic, value=value, key=key, partition=options.partition,
                                       headers=parsed_headers + headers if parsed_headers else headers)
            except kafka_errors.KafkaTimeoutError as exc:
                raise ToolError(f"no metadata for topic {options.topic!r} within {settings.timeout_ms} ms "
                                f"({explain(exc)})") from None
            except kafka_errors.KafkaError as exc:
                raise ToolError(f"cannot send line {number}: {explain(exc)}") from None
            future.add_callback(lambda md, size=size: delivered(size, md))
            future.add_errback(failed)
            progress.add()
        producer.flush()
    finally:
        producer.close(timeout=settings.timeout_ms / 1000)
        progress.finish()
    summary.seconds = time.monotonic() - start
    if failures:
        raise ToolError(f"delivery to {options.topic!r} failed after {summary.records} acknowledged records: "
                        f"{explain(failures[0])}")
    return summary
