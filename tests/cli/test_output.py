"""Formatting without a broker: tables, record lines, JSON bytes and the progress meter."""

from __future__ import annotations

import json
from types import SimpleNamespace

from logbroker.tools.output import (
    Progress,
    RecordFields,
    format_record_json,
    format_record_text,
    render_table,
)


def record(**kw: object) -> SimpleNamespace:
    base: dict[str, object] = {"topic": "t", "partition": 2, "offset": 7, "timestamp": 1700000000000,
                               "timestamp_type": 0, "key": b"k", "value": b"v", "headers": [("h", b"1")]}
    base.update(kw)
    return SimpleNamespace(**base)


def test_table_aligns_columns_and_shows_missing_as_dash() -> None:
    lines = render_table(["A", "LONGER"], [[1, None], ["wide-cell", 22]])
    assert lines == ["A          LONGER", "1          -", "wide-cell  22"]


def test_text_record_follows_console_consumer_field_order() -> None:
    everything = RecordFields(timestamp=True, partition=True, offset=True, headers=True, key=True)
    assert format_record_text(record(), everything) == b"CreateTime:1700000000000\tPartition:2\tOffset:7\th:1\tk\tv\n"
    assert format_record_text(record(), RecordFields()) == b"v\n"
    assert format_record_text(record(key=None, headers=[]), RecordFields(key=True, headers=True)) == \
        b"NO_HEADERS\tnull\tv\n"


def test_text_record_writes_raw_bytes() -> None:
    raw = bytes(range(256))
    assert format_record_text(record(value=raw, key=b"\xff\xfe"), RecordFields(key=True)) == b"\xff\xfe\t" + raw + b"\n"
    assert format_record_text(record(headers=[("h", b"\x80"), ("n", None)]), RecordFields(headers=True)) == \
        b"h:\x80,n:null\tv\n"


def test_text_record_takes_the_formatter_properties() -> None:
    fields = RecordFields(key=True, offset=True, value=False, key_separator=b" | ", line_separator=b"\r\n",
                          null_literal=b"<none>")
    assert format_record_text(record(key=None), fields) == b"Offset:7 | <none>\r\n"
    assert format_record_text(record(timestamp_type=-1, timestamp=-1), RecordFields(timestamp=True)) == \
        b"NO_TIMESTAMP\tv\n"
    assert format_record_text(record(timestamp_type=1), RecordFields(timestamp=True, value=False)) == \
        b"LogAppendTime:1700000000000\n"


def test_json_record_keeps_every_field_and_marks_binary() -> None:
    doc = json.loads(format_record_json(record(value=b"\xff\x00", key=None)))
    assert doc == {"topic": "t", "partition": 2, "offset": 7, "timestamp": 1700000000000,
                   "timestamp_type": "CreateTime", "key": None, "value": {"base64": "/wA="},
                   "headers": [["h", "1"]]}


def test_progress_draws_only_when_enabled_and_clears_itself() -> None:
    now = [0.0]
    drawn: list[str] = []
    meter = Progress(drawn.append, enabled=True, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 0.1
        meter.add()
    meter.finish()
    assert drawn[0].startswith("\r5 records, ") and drawn[-1] == "\r\033[K"
    quiet: list[str] = []
    off = Progress(quiet.append, enabled=False, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1
        off.add()
    off.finish()
    assert quiet == [] and off.count == 10
