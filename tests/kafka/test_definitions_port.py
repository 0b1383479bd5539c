"""Porting check: the text definitions compile to exactly the code the JSON definitions compiled to."""

from __future__ import annotations

from typing import Any

import port_json_definitions as old
import pytest

from logbroker.kafka import compiler
from logbroker.kafka.schema import load_catalog

OLD = old.load_catalog()
NEW = load_catalog()


def _span(v: Any) -> tuple[int, int] | None:
    return None if v is None or v.empty else (v.lo, v.hi)


def _fields(fs: Any) -> list[Any]:
    return [(f.name, f.key, f.type, _span(f.versions), _span(f.nullable), _span(f.tagged), f.tag,
             None if f.flexible_override is None else (_span(f.flexible_override),),
             f.default_is_null(), repr(f.default_value()), f.struct_name, _fields(f.fields)) for f in fs]


@pytest.mark.parametrize("kind", ["requests", "responses", "headers"])
def test_same_facts_and_same_generated_code(kind: str) -> None:
    before, after = getattr(OLD, kind), getattr(NEW, kind)
    assert set(before) == set(after)
    for key, a in before.items():
        b = after[key]
        assert (a.name, a.api_key, a.kind, _span(a.valid), _span(a.flexible)) == (
            b.name, b.api_key, b.kind, _span(b.valid), _span(b.flexible))
        assert _fields(a.fields) == _fields(b.fields), key
        for version in range(a.valid.hi + 1):
            assert compiler.compile_message(a, version).source == compiler.compile_message(b, version).source
