"""Converts between codec dicts and kafka-python 3 message objects (test support only).

kafka-python 3 derives its request/response classes from Kafka's own definitions and has its own
encoder and decoder, so agreeing with it checks both our definitions and our compiler.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import kafka.protocol.admin
import kafka.protocol.consumer
import kafka.protocol.metadata
import kafka.protocol.producer
import kafka.protocol.sasl
from kafka.protocol.api_message import ApiMessage

from logbroker.kafka.schema import FieldSpec

# Importing the modules registers their message classes as ApiMessage subclasses.
_ = (
    kafka.protocol.admin,
    kafka.protocol.consumer,
    kafka.protocol.metadata,
    kafka.protocol.producer,
    kafka.protocol.sasl,
)


def _all_subclasses(cls: Any) -> list[Any]:
    out: list[Any] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def kafka_python_classes() -> dict[tuple[int, str], Any]:
    """(api_key, 'request'|'response') -> kafka-python primary message class."""
    classes: dict[tuple[int, str], Any] = {}
    for cls in _all_subclasses(ApiMessage):
        if getattr(cls, "_class_version", None) is None and getattr(cls, "_json", None):
            classes[(cls.API_KEY, cls.type)] = cls
    return classes


def to_kafka_python(kp_struct: Any, data: dict[str, Any], version: int, top_cls: Any = None) -> Any:
    kwargs: dict[str, Any] = {}
    for name, fld in kp_struct.fields.items():
        if name not in data or not fld.for_version_q(version):
            continue
        value = data[name]
        if value is not None:
            if fld.is_struct():
                value = to_kafka_python(fld, value, version)
            elif fld.is_struct_array():
                value = [to_kafka_python(fld, item, version) for item in value]
            elif isinstance(value, memoryview):
                value = bytes(value)
        kwargs[name] = value
    if top_cls is not None:
        return top_cls[version](**kwargs)
    return kp_struct.data_class(**kwargs)


def from_kafka_python(kp_struct: Any, obj: Any, version: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fld in kp_struct.fields.items():
        if not fld.for_version_q(version):
            continue
        value = getattr(obj, name)
        if value is not None:
            if fld.is_struct():
                value = from_kafka_python(fld, value, version)
            elif fld.is_struct_array():
                value = [from_kafka_python(fld, item, version) for item in value]
        out[name] = value
    return out


def project(fields: list[FieldSpec], data: dict[str, Any], version: int) -> dict[str, Any]:
    """Keep only the fields present in `version`; normalise bytes-like values to bytes."""
    out: dict[str, Any] = {}
    for f in fields:
        if not f.present(version):
            continue
        value = data.get(f.key, f.default_value())
        if value is None and f.is_struct and not f.is_array and not f.is_nullable(version):
            value = f.default_value()  # an absent tagged struct means its default
        if value is not None:
            if f.is_struct and f.is_array:
                value = [project(f.fields, item, version) for item in value]
            elif f.is_struct:
                value = project(f.fields, value, version)
            elif isinstance(value, memoryview | bytearray):
                value = bytes(value)
            elif isinstance(value, float):
                value = round(value, 6)
        out[f.key] = value
    return out


_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
}


def _random_scalar(rng: random.Random, ftype: str) -> Any:
    if ftype in _INT_RANGES:
        lo, hi = _INT_RANGES[ftype]
        return rng.choice([lo, hi, 0, -1 if lo < 0 else 1, rng.randint(lo, hi)])
    if ftype == "float64":
        return rng.choice([0.0, 1.5, -2.25, 1e300])
    if ftype == "bool":
        return rng.random() < 0.5
    if ftype == "string":
        alphabet = string.ascii_letters + "é-_.ü日本"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 40, 200])))
    if ftype in ("bytes", "records"):
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 3, 61, 300])))
    if ftype == "uuid":
        return uuid.UUID(int=rng.getrandbits(128))
    raise AssertionError(ftype)


def random_body(fields: list[FieldSpec], version: int, rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A random body with every field present in `version` set (nullable ones sometimes None)."""
    out: dict[str, Any] = {}
    for f in fields:
        if not f.present(version):
            continue
        if f.is_nullable(version) and rng.random() < 0.2:
            out[f.key] = None
            continue
        if f.is_tagged(version) and rng.random() < 0.3:
            continue  # leave at default
        if f.is_array:
            count = rng.choice([0, 1, 2, 3]) if depth < 3 else 0
            if f.is_struct:
                out[f.key] = [random_body(f.fields, version, rng, depth + 1) for _ in range(count)]
            else:
                out[f.key] = [_random_scalar(rng, f.element_type) for _ in range(count)]
        elif f.is_struct:
            out[f.key] = random_body(f.fields, version, rng, depth + 1)
        else:
            out[f.key] = _random_scalar(rng, f.type)
    return out


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Path and values of the first difference between two decoded structures, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: missing on one side"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
