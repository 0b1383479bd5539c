"""The definition format (logbroker/kafka/schema.py): parsing, shared structs, and refusals with a line number."""

from __future__ import annotations

import pytest

from logbroker.kafka.schema import SchemaError, Versions, parse_definitions, shipped_catalog

TEXT = """
# a comment
struct Point
  X  int32  0+
  Y  int32  0+

request DrawRequest api=90 valid=0-2 flexible=2+
  Name      string   0+  nullable=1+ default=null
  Points    []Point  0+
  Origin    Point    1+
  Label     string   2+  tagged=2+ tag=3 default=""
  Legacy    int16    0   default=0x7fff
  Nested    []Line   0+
    Width   int8     0+  default=-1

response DrawResponse api=90 valid=0-2 flexible=2+
  ErrorCode  int16  0+
"""


def test_parses_blocks_fields_and_options() -> None:
    request, response = parse_definitions(TEXT, "draw.txt")
    assert (request.kind, request.api_key, request.valid, request.flexible) == (
        "request", 90, Versions(0, 2), Versions(2, 0x7FFF))
    fields = {f.name: f for f in request.fields}
    assert fields["Name"].key == "name" and fields["Name"].is_nullable(1) and not fields["Name"].is_nullable(0)
    assert fields["Name"].default_value() is None
    assert [c.name for c in fields["Points"].fields] == ["X", "Y"] == [c.name for c in fields["Origin"].fields]
    assert fields["Label"].is_tagged(2) and fields["Label"].tag == 3 and fields["Label"].default_value() == ""
    assert fields["Legacy"].versions == Versions(0, 0) and fields["Legacy"].default_value() == 0x7FFF
    assert fields["Nested"].fields[0].default_value() == -1
    assert response.fields[0].key == "error_code"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("request R api=1 valid=0\n  A int32\n", 2),  # no versions
        ("request R api=1 valid=0\n   A int32 0+\n", 2),  # odd indent
        ("request R api=1 valid=0\n  A int32 0+ tag=1\n", 2),  # tag without tagged
        ("request R api=1 valid=0\n  A Missing 0+\n", 2),  # unknown struct
        ("request R api=1 valid=0\n  A int32 0+\n    B int8 0+\n", 2),  # children of a primitive
        ("request R api=1 valid=0\n  A int32 0+ colour=red\n", 2),  # unknown option
        ("request R api=1 valid=0\n  A int32 x+\n", 2),  # bad versions
        ("request R valid=0\n  A int32 0+\n", 1),  # request without api
        ("table R valid=0\n", 1),  # unknown block kind
        ("request R api=1 valid=0\n  A []S 0+\n      B int8 0+\n", 3),  # skipped a level
    ],
)
def test_refusals_name_the_file_and_line(text: str, line: int) -> None:
    with pytest.raises(SchemaError, match=rf"^bad\.txt:{line}: "):
        parse_definitions(text, "bad.txt")


def test_shipped_definitions_pair_every_request_with_a_response() -> None:
    catalog = shipped_catalog()
    assert set(catalog.requests) == set(catalog.responses)
    assert set(catalog.headers) == {"RequestHeader", "ResponseHeader"}
    for key, spec in catalog.requests.items():
        assert spec.name.endswith("Request")
        assert catalog.responses[key].name == spec.name.removesuffix("Request") + "Response"
