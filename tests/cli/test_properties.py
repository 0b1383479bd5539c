"""``--property`` values of the console consumer and producer, without a broker."""

from __future__ import annotations

import pytest

from logbroker.tools.errors import ToolError
from logbroker.tools.output import RecordFields
from logbroker.tools.produce import parse_line
from logbroker.tools.properties import LineFormat, formatter_fields, line_format, parse_properties


def test_parse_properties_keeps_equals_in_values() -> None:
    assert parse_properties(["print.key=true", "key.separator==", "null.literal="]) == {
        "print.key": "true", "key.separator": "=", "null.literal": ""}
    with pytest.raises(ToolError, match="KEY=VALUE"):
        parse_properties(["print.key"])


def test_formatter_defaults_are_kafkas() -> None:
    fields = formatter_fields({})
    assert fields == RecordFields()
    assert (fields.key, fields.value, fields.timestamp, fields.partition, fields.offset, fields.headers) == \
        (False, True, False, False, False, False)
    assert (fields.key_separator, fields.line_separator, fields.headers_separator, fields.null_literal) == \
        (b"\t", b"\n", b",", b"null")


def test_formatter_properties() -> None:
    fields = formatter_fields({"print.key": "TRUE", "print.value": "false", "print.offset": "true",
                               "key.separator": ":", "line.separator": ";", "null.literal": "-",
                               "value.deserializer": "org.apache.kafka.common.serialization.StringDeserializer"})
    assert fields.key and not fields.value and fields.offset and not fields.partition
    assert (fields.key_separator, fields.line_separator, fields.null_literal) == (b":", b";", b"-")
    # A flag given on the command line is the base the properties apply to.
    assert formatter_fields({"print.key": "false"}, RecordFields(key=True, partition=True)).partition
    with pytest.raises(ToolError, match=r"unknown console consumer property 'print\.colour'"):
        formatter_fields({"print.colour": "true"})
    with pytest.raises(ToolError, match="LongDeserializer"):
        formatter_fields({"key.deserializer": "org.apache.kafka.common.serialization.LongDeserializer"})


def test_line_format_checks_what_kafka_checks() -> None:
    assert line_format({}) == LineFormat()
    fmt = line_format({"parse.key": "true", "key.separator": ":", "parse.headers": "true", "null.marker": "NULL"})
    assert fmt.parse_key and fmt.parse_headers and fmt.key_separator == b":" and fmt.null_marker == b"NULL"
    with pytest.raises(ToolError, match=r"headers\.delimiter and headers\.separator may not be equal"):
        line_format({"headers.separator": "\t"})
    with pytest.raises(ToolError, match=r"null\.marker and key\.separator may not be equal"):
        line_format({"null.marker": "\t"})
    with pytest.raises(ToolError, match="unknown console producer property"):
        line_format({"parse.value": "true"})


def test_parse_line_headers_key_value_and_null_marker() -> None:
    fmt = line_format({"parse.key": "true", "key.separator": ":", "parse.headers": "true", "null.marker": "NULL"})
    assert parse_line(b"h1:a,h2:NULL\tk:v:w\n", fmt, 1) == (b"k", b"v:w", [("h1", b"a"), ("h2", None)])
    assert parse_line(b"NULL\tNULL:NULL\r\n", fmt, 1) == (None, None, [])
    with pytest.raises(ToolError, match="no key separator ':' on line 3"):
        parse_line(b"h:1\tno-key-here\n", fmt, 3)
    with pytest.raises(ToolError, match="no headers delimiter"):
        parse_line(b"k:v\n", fmt, 1)
    lenient = line_format({"parse.key": "true", "ignore.error": "true"})
    assert parse_line(b"just a value\n", lenient, 1) == (None, b"just a value", [])
    assert parse_line(b"k\tv\n", line_format({"parse.key": "true"}), 1) == (b"k", b"v", [])
    assert parse_line(b"plain\n", LineFormat(), 1) == (None, b"plain", [])
