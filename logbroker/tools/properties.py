"""Kafka's ``--property key=value`` settings of the console consumer and producer.

kafka-console-consumer hands its ``--property`` values to the record formatter
(``DefaultMessageFormatter``) and kafka-console-producer to the line reader (``LineMessageReader``).
The names and defaults here are theirs:

    consumer property   default   meaning
    print.timestamp     false     CreateTime:ms / LogAppendTime:ms (NO_TIMESTAMP when there is none)
    print.partition     false     Partition:p
    print.offset        false     Offset:o
    print.headers       false     k:v pairs joined by headers.separator, NO_HEADERS when there are none
    print.key           false     the key
    print.value         true      the value
    key.separator       \\t        between the printed fields
    line.separator      \\n        after each record
    headers.separator   ,         between header pairs
    null.literal        null      printed for a null key, value or header value

    producer property       default   meaning
    parse.key               false     the line holds KEY<key.separator>VALUE
    key.separator           \\t
    parse.headers           false     the line starts with HEADERS<headers.delimiter>
    headers.delimiter       \\t        ends the headers part
    headers.separator       ,         between header pairs
    headers.key.separator   :         between a header's key and value
    null.marker             (none)    a key, value or header value equal to it is null
    ignore.error            false     a line without a separator is taken whole as the value (no key)

Booleans are true when the value is ``true`` in any case, as Kafka reads them. The ``*.deserializer``
properties are accepted when they name a deserializer that leaves bytes as they are (String,
ByteArray), since the tools print raw bytes anyway; any other name, and any unknown property, is an
error rather than a setting silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from logbroker.tools.errors import ToolError
from logbroker.tools.output import RecordFields

PASS_THROUGH_DESERIALIZERS = frozenset({
    "org.apache.kafka.common.serialization.StringDeserializer",
    "org.apache.kafka.common.serialization.ByteArrayDeserializer",
    "org.apache.kafka.common.serialization.BytesDeserializer",
})
DESERIALIZER_PROPERTIES = ("key.deserializer", "value.deserializer", "headers.deserializer")

_FORMATTER_FLAGS = {"print.timestamp": "timestamp", "print.partition": "partition", "print.offset": "offset",
                    "print.headers": "headers", "print.key": "key", "print.value": "value"}
_FORMATTER_BYTES = {"key.separator": "key_separator", "line.separator": "line_separator",
                    "headers.separator": "headers_separator", "null.literal": "null_literal"}


@dataclass(frozen=True, slots=True)
class LineFormat:
    """How the console producer splits an input line into headers, key and value (LineMessageReader)."""

    parse_key: bool = False
    key_separator: bytes = b"\t"
    parse_headers: bool = False
    headers_delimiter: bytes = b"\t"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_marker: bytes | None = None
    ignore_error: bool = False


_READER_FLAGS = {"parse.key": "parse_key", "parse.headers": "parse_headers", "ignore.error": "ignore_error"}
_READER_BYTES = {"key.separator": "key_separator", "headers.delimiter": "headers_delimiter",
                 "headers.separator": "headers_separator", "headers.key.separator": "headers_key_separator",
                 "null.marker": "null_marker"}


def parse_properties(values: Iterable[str]) -> dict[str, str]:
    """``key=value`` strings, in order (a later one wins); the value may itself contain ``=``."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ToolError(f"--property expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _flag(value: str) -> bool:
    return value.strip().lower() == "true"


def _unknown(name: str, known: Iterable[str], tool: str) -> ToolError:
    return ToolError(f"unknown {tool} property {name!r} (supported: {', '.join(sorted(known))})")


def formatter_fields(props: Mapping[str, str], base: RecordFields | None = None) -> RecordFields:
    """The console consumer's output settings from its ``--property`` values, on top of ``base``."""
    changes: dict[str, Any] = {}
    for name, value in props.items():
        if name in _FORMATTER_FLAGS:
            changes[_FORMATTER_FLAGS[name]] = _flag(value)
        elif name in _FORMATTER_BYTES:
            changes[_FORMATTER_BYTES[name]] = value.encode()
        elif name in DESERIALIZER_PROPERTIES:
            if value.strip() not in PASS_THROUGH_DESERIALIZERS:
                raise ToolError(f"{name}={value} is not supported: the console consumer prints raw bytes "
                                f"(StringDeserializer or ByteArrayDeserializer)")
        else:
            raise _unknown(name, [*_FORMATTER_FLAGS, *_FORMATTER_BYTES, *DESERIALIZER_PROPERTIES], "console consumer")
    return replace(base if base is not None else RecordFields(), **changes)


def line_format(props: Mapping[str, str], base: LineFormat | None = None) -> LineFormat:
    """The console producer's line parsing from its ``--property`` values, checked as Kafka checks them."""
    changes: dict[str, Any] = {}
    for name, value in props.items():
        if name in _READER_FLAGS:
            changes[_READER_FLAGS[name]] = _flag(value)
        elif name in _READER_BYTES:
            changes[_READER_BYTES[name]] = value.encode()
        else:
            raise _unknown(name, [*_READER_FLAGS, *_READER_BYTES], "console producer")
    fmt = replace(base if base is not None else LineFormat(), **changes)
    separators = {"key.separator": fmt.key_separator, "headers.delimiter": fmt.headers_delimiter,
                  "headers.separator": fmt.headers_separator, "headers.key.separator": fmt.headers_key_separator}
    for name, sep in separators.items():
        if not sep:
            raise ToolError(f"{name} must not be empty")
    pairs = [("headers.delimiter", "headers.separator"), ("headers.delimiter", "headers.key.separator"),
             ("headers.separator", "headers.key.separator")]
    for a, b in pairs:
        if separators[a] == separators[b]:
            raise ToolError(f"{a} and {b} may not be equal")
    if fmt.null_marker is not None:
        for name in ("key.separator", "headers.separator", "headers.delimiter", "headers.key.separator"):
            if separators[name] == fmt.null_marker:
                raise ToolError(f"null.marker and {name} may not be equal")
    return fmt
