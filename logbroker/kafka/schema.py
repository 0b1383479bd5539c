"""The message definitions in `logbroker/kafka/messages/*.txt`, parsed into a small typed model.

Every byte layout logbroker shares with Kafka is declared there in one terse text form (see
docs/CODEC.md for the format and for where the facts come from): the wire requests, responses and
headers, and the version-prefixed records (`__consumer_offsets` keys and values, the consumer
protocol's subscription and assignment). `compiler.py` turns one definition at one version into
encode/decode functions.

A file holds blocks; a block starts at column 0 and its fields follow, indented two spaces per
nesting level:

    request ProduceRequest api=0 valid=3-13 flexible=9+
      TransactionalId  string              3+   nullable=3+ default=null
      TopicData        []TopicProduceData  0+
        Name           string              0-12

    block kinds   request | response (with `api=`), header, record, struct (a named struct that
                  fields of any block in the same file may use as their type without children)
    field line    Name type versions [nullable=V] [tagged=V tag=N] [flexible=V] [default=X]

Types are int8/int16/int32/int64/uint16/uint32/float64/bool/string/bytes/uuid/records, `[]T` for
arrays, or a CamelCase struct name. Versions are `N`, `N+`, `N-M` or `none`. Field names are
CamelCase; the codec exposes them in snake_case (`PartitionIndex` -> `partition_index`). Words are
separated by spaces, values hold none (`default=""` is the empty string); `#` starts a comment line.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# Definitions ship as package data of logbroker.kafka (directory `messages/`, no __init__.py).
MESSAGES_PACKAGE = "logbroker.kafka"
MESSAGES_DIRECTORY = "messages"
DEFINITION_SUFFIX = ".txt"

# Upper bound standing in for "N+" (no Kafka version comes near it).
_OPEN_END = 0x7FFF

_SNAKE_RE = re.compile(r"(?<!^)(?=[A-Z])")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

PRIMITIVE_TYPES = frozenset(
    {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool", "string", "bytes", "uuid", "records"}
)
BLOCK_KINDS = frozenset({"request", "response", "header", "record", "struct"})
_FIELD_OPTIONS = frozenset({"nullable", "tagged", "tag", "flexible", "default"})

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

    @property
    def text(self) -> str:
        """The range as definitions write it: ``none``, ``N``, ``N-M`` or ``N+``."""
        if self.empty:
            return "none"
        if self.hi >= _OPEN_END:
            return f"{self.lo}+"
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"

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
    """One field of a message or struct, as declared in its definition."""

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
    """One block of a definition file: a request, response, header or version-prefixed record."""

    name: str
    api_key: int | None
    kind: str
    valid: Versions
    flexible: Versions
    fields: list[FieldSpec]


@dataclass(slots=True)
class _Line:
    number: int
    depth: int
    words: list[str]


@dataclass(slots=True)
class _RawField:
    line: _Line
    children: list[_RawField] = field(default_factory=list)


def _lines(text: str, source: str) -> list[_Line]:
    out: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent % 2 or "\t" in raw[:indent]:
            raise SchemaError(f"{source}:{number}: indent by two spaces per level")
        out.append(_Line(number, indent // 2, stripped.split()))
    return out


def _options(words: list[str], allowed: frozenset[str], where: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or key not in allowed or key in opts:
            raise SchemaError(f"{where}: unexpected {word!r}")
        opts[key] = "" if value == '""' else value  # `""` spells the empty string
    return opts


def _build_field(raw: _RawField, structs: dict[str, list[_RawField]], source: str) -> FieldSpec:
    where = f"{source}:{raw.line.number}"
    words = raw.line.words
    if len(words) < 3 or not _NAME_RE.match(words[0]):
        raise SchemaError(f"{where}: a field line is `Name type versions [options]`")
    name, ftype, versions = words[0], words[1], words[2]
    opts = _options(words[3:], _FIELD_OPTIONS, where)
    if ("tag" in opts) != ("tagged" in opts):
        raise SchemaError(f"{where}: `tag=` and `tagged=` go together")
    try:
        return _field_spec(raw, name, ftype, versions, opts, structs, source)
    except ValueError as exc:
        raise SchemaError(f"{where}: {exc}") from None


def _field_spec(
    raw: _RawField,
    name: str,
    ftype: str,
    versions: str,
    opts: dict[str, str],
    structs: dict[str, list[_RawField]],
    source: str,
) -> FieldSpec:
    where = f"{source}:{raw.line.number}"
    spec = FieldSpec(
        name=name,
        key=snake_case(name),
        type=ftype,
        versions=Versions.parse(versions),
        nullable=Versions.parse(opts.get("nullable")),
        tagged=Versions.parse(opts.get("tagged")),
        tag=int(opts["tag"]) if "tag" in opts else None,
        flexible_override=Versions.parse(opts["flexible"]) if "flexible" in opts else None,
        default_text=opts.get("default"),
    )
    elem = spec.element_type
    if elem in PRIMITIVE_TYPES:
        if raw.children:
            raise SchemaError(f"{where}: a {ftype} field has no child fields")
        return spec
    if not _NAME_RE.match(elem):
        raise SchemaError(f"{where}: unknown type {ftype!r}")
    spec.struct_name = elem
    children = raw.children
    if not children:
        if elem not in structs:
            raise SchemaError(f"{where}: struct {elem} has no fields here and is not declared in the file")
        children = structs[elem]
    spec.fields = [_build_field(c, structs, source) for c in children]
    return spec


def _nest(lines: list[_Line], source: str) -> list[tuple[_Line, list[_RawField]]]:
    """Group lines into (block header, field tree) pairs by indentation."""
    blocks: list[tuple[_Line, list[_RawField]]] = []
    stack: list[list[_RawField]] = []
    for line in lines:
        if line.depth == 0:
            top: list[_RawField] = []
            blocks.append((line, top))
            stack = [top]
            continue
        if not blocks or line.depth > len(stack):
            raise SchemaError(f"{source}:{line.number}: indented deeper than its parent")
        del stack[line.depth :]
        node = _RawField(line)
        stack[-1].append(node)
        stack.append(node.children)
    return blocks


def parse_definitions(text: str, source: str = "<definitions>") -> list[MessageSpec]:
    """Parse one definition file into its message specs (struct blocks only serve the others)."""
    blocks = _nest(_lines(text, source), source)
    structs: dict[str, list[_RawField]] = {}
    for head, fields in blocks:
        if head.words[0] == "struct":
            if len(head.words) != 2 or not fields:
                raise SchemaError(f"{source}:{head.number}: a struct block is `struct Name` and its fields")
            structs[head.words[1]] = fields
    specs: list[MessageSpec] = []
    for head, fields in blocks:
        where = f"{source}:{head.number}"
        kind = head.words[0]
        if kind not in BLOCK_KINDS:
            raise SchemaError(f"{where}: unknown block kind {kind!r}")
        if kind == "struct":
            continue
        if len(head.words) < 2 or not _NAME_RE.match(head.words[1]):
            raise SchemaError(f"{where}: a block is `{kind} Name options`")
        opts = _options(head.words[2:], frozenset({"api", "valid", "flexible"}), where)
        if (kind in ("request", "response")) != ("api" in opts) or "valid" not in opts:
            raise SchemaError(f"{where}: requests and responses take `api=`; every block takes `valid=`")
        specs.append(
            MessageSpec(
                name=head.words[1],
                api_key=int(opts["api"]) if "api" in opts else None,
                kind=kind,
                valid=Versions.parse(opts["valid"]),
                flexible=Versions.parse(opts.get("flexible")),
                fields=[_build_field(f, structs, source) for f in fields],
            )
        )
    return specs


@dataclass(slots=True)
class Catalog:
    """Every shipped definition: wire messages by api key, headers and records by name."""

    requests: dict[int, MessageSpec]
    responses: dict[int, MessageSpec]
    headers: dict[str, MessageSpec]
    records: dict[str, MessageSpec]


def load_catalog(package: str = MESSAGES_PACKAGE, directory: str = MESSAGES_DIRECTORY) -> Catalog:
    """Read and parse every definition file shipped in `package`/`directory`."""
    catalog = Catalog(requests={}, responses={}, headers={}, records={})
    for entry in sorted(resources.files(package).joinpath(directory).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(DEFINITION_SUFFIX):
            continue
        for spec in parse_definitions(entry.read_text(encoding="utf-8"), entry.name):
            if spec.kind in ("request", "response"):
                by_key = catalog.requests if spec.kind == "request" else catalog.responses
                assert spec.api_key is not None
                if spec.api_key in by_key:
                    raise SchemaError(f"{entry.name}: {spec.kind} for api key {spec.api_key} defined twice")
                by_key[spec.api_key] = spec
            else:
                by_name = catalog.headers if spec.kind == "header" else catalog.records
                if spec.name in by_name:
                    raise SchemaError(f"{entry.name}: {spec.name} defined twice")
                by_name[spec.name] = spec
    missing = set(catalog.requests) ^ set(catalog.responses)
    if missing:
        raise SchemaError(f"request/response definitions unpaired for api keys {sorted(missing)}")
    return catalog


@functools.cache
def shipped_catalog() -> Catalog:
    """The definitions shipped with logbroker, parsed once per process."""
    return load_catalog()
