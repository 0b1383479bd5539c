"""The former JSON definition loader, kept only while the text definitions are checked against it."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# Definitions ship as package data of logbroker.kafka (directory `messages/`, no __init__.py).
MESSAGES_PACKAGE = "logbroker.kafka"
MESSAGES_DIRECTORY = "messages"

# Upper bound standing in for "N+" (no Kafka version comes near it).
_OPEN_END = 0x7FFF

_COMMENT_RE = re.compile(r"^\s*//.*$", re.MULTILINE)
_SNAKE_RE = re.compile(r"(?<!^)(?=[A-Z])")

PRIMITIVE_TYPES = frozenset(
    {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool", "string", "bytes", "uuid", "records"}
)

ZERO_UUID = uuid.UUID(int=0)


class SchemaError(Exception):
    """A message definition file is inconsistent (a packaging bug, never peer input)."""


@dataclass(frozen=True, slots=True)
class Versions:
    """An inclusive version range; `lo > hi` means no versions ("none")."""

    lo: int
    hi: int

    def __contains__(self, version: object) -> bool:
        return isinstance(version, int) and self.lo <= version <= self.hi

    @property
    def empty(self) -> bool:
        return self.lo > self.hi

    @classmethod
    def parse(cls, text: str | int | None) -> Versions:
        if text is None:
            return NO_VERSIONS
        text = str(text).strip()
        if text == "none" or text == "":
            return NO_VERSIONS
        if text.endswith("+"):
            return cls(int(text[:-1]), _OPEN_END)
        if "-" in text:
            lo, hi = text.split("-", 1)
            return cls(int(lo), int(hi))
        return cls(int(text), int(text))


NO_VERSIONS = Versions(1, 0)


def snake_case(name: str) -> str:
    """`PartitionIndex` -> `partition_index` (the same rule kafka-python uses)."""
    return _SNAKE_RE.sub("_", name).lower()


@dataclass(slots=True)
class FieldSpec:
    """One field of a message or struct, as declared in the JSON definition."""

    name: str
    key: str
    type: str
    versions: Versions
    nullable: Versions
    tagged: Versions
    tag: int | None
    flexible_override: Versions | None
    default_text: Any
    # For struct and struct-array fields: the struct's name and its fields.
    struct_name: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)

    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def element_type(self) -> str:
        """The element type of an array field, or the field's own type."""
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self) -> bool:
        """True for a struct or an array of structs."""
        return self.element_type not in PRIMITIVE_TYPES

    def present(self, version: int) -> bool:
        return version in self.versions

    def is_tagged(self, version: int) -> bool:
        return version in self.tagged and self.tag is not None

    def is_nullable(self, version: int) -> bool:
        return version in self.nullable

    def default_is_null(self) -> bool:
        return bool(self.default_text == "null")

    def default_value(self) -> Any:
        """A fresh Python value for the field's default."""
        d = self.default_text
        if self.is_array:
            return None if d == "null" else []
        t = self.type
        if self.is_struct:
            if d == "null":
                return None
            return {f.key: f.default_value() for f in self.fields}
        if t in ("int8", "int16", "int32", "int64", "uint16", "uint32"):
            if d is None or d == "":
                return 0
            if isinstance(d, bool):
                return int(d)
            if isinstance(d, int):
                return d
            return int(str(d), 0)
        if t == "float64":
            return 0.0 if d is None or d == "" else float(d)
        if t == "bool":
            return bool(d is True or (isinstance(d, str) and d.lower() == "true"))
        if t == "string":
            if d == "null":
                return None
            return "" if d is None else str(d)
        if t == "bytes":
            return None if d == "null" else b""
        if t == "records":
            return None
        if t == "uuid":
            return ZERO_UUID
        raise SchemaError(f"no default rule for type {t!r} of field {self.name}")


@dataclass(slots=True)
class MessageSpec:
    """One parsed JSON definition file."""

    name: str
    api_key: int | None
    kind: str
    valid: Versions
    flexible: Versions
    fields: list[FieldSpec]
    latest_version_unstable: bool

    @property
    def max_version(self) -> int:
        return self.valid.hi


def _strip_comments(text: str) -> str:
    return _COMMENT_RE.sub("", text)


def _parse_field(raw: dict[str, Any], common: dict[str, list[dict[str, Any]]]) -> FieldSpec:
    ftype = str(raw["type"])
    spec = FieldSpec(
        name=raw["name"],
        key=snake_case(raw["name"]),
        type=ftype,
        versions=Versions.parse(raw.get("versions")),
        nullable=Versions.parse(raw.get("nullableVersions")),
        tagged=Versions.parse(raw.get("taggedVersions")),
        tag=raw.get("tag"),
        flexible_override=Versions.parse(raw["flexibleVersions"]) if "flexibleVersions" in raw else None,
        default_text=raw.get("default"),
    )
    elem = ftype[2:] if ftype.startswith("[]") else ftype
    if elem not in PRIMITIVE_TYPES:
        spec.struct_name = elem
        children = raw.get("fields")
        if children is None:
            if elem not in common:
                raise SchemaError(f"field {spec.name}: unknown struct type {elem}")
            children = common[elem]
        spec.fields = [_parse_field(c, common) for c in children]
    return spec


def parse_message(text: str) -> MessageSpec:
    """Parse one JSON definition (with `//` comments) into a `MessageSpec`."""
    raw = json.loads(_strip_comments(text))
    common = {s["name"]: s["fields"] for s in raw.get("commonStructs", [])}
    return MessageSpec(
        name=raw["name"],
        api_key=raw.get("apiKey"),
        kind=raw["type"],
        valid=Versions.parse(raw.get("validVersions")),
        flexible=Versions.parse(raw.get("flexibleVersions")),
        fields=[_parse_field(f, common) for f in raw.get("fields", [])],
        latest_version_unstable=bool(raw.get("latestVersionUnstable", False)),
    )


@dataclass(slots=True)
class Catalog:
    """All vendored definitions, indexed by api key."""

    requests: dict[int, MessageSpec]
    responses: dict[int, MessageSpec]
    headers: dict[str, MessageSpec]


def load_catalog(package: str = MESSAGES_PACKAGE, directory: str = MESSAGES_DIRECTORY) -> Catalog:
    """Read and parse every `*.json` definition shipped in `package`/`directory`."""
    requests: dict[int, MessageSpec] = {}
    responses: dict[int, MessageSpec] = {}
    headers: dict[str, MessageSpec] = {}
    for entry in sorted(resources.files(package).joinpath(directory).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        spec = parse_message(entry.read_text(encoding="utf-8"))
        if spec.kind == "header":
            headers[spec.name] = spec
        elif spec.kind == "request" and spec.api_key is not None:
            requests[spec.api_key] = spec
        elif spec.kind == "response" and spec.api_key is not None:
            responses[spec.api_key] = spec
    missing = set(requests) ^ set(responses)
    if missing:
        raise SchemaError(f"request/response definitions unpaired for api keys {sorted(missing)}")
    return Catalog(requests=requests, responses=responses, headers=headers)
