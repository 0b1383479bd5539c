"""Generates specialised encoder/decoder functions for one message version.

For a `MessageSpec` and a version, `compile_message` emits Python source with one decode and one
encode function per struct, `exec`s it once, and returns a `CompiledMessage`. The generated code
inlines every field read/write for that exact version, merges runs of consecutive fixed-width
fields into one `struct.Struct` call, and leaves absent fields out entirely, so the per-request
cost is close to hand-written code.

Wire layouts emitted (Kafka's `Type`/`ByteBufferAccessor` conventions, big-endian):

    type       classic (non-flexible) version        flexible version (KIP-482)
    ---------  ------------------------------------  -----------------------------------------
    int8..64   1/2/4/8 bytes, two's complement        same
    uint16/32  2/4 bytes unsigned                     same
    float64    8 bytes IEEE 754                       same
    bool       1 byte, 0 = false                      same
    uuid       16 bytes                               same
    string     int16 length, -1 = null, UTF-8         uvarint(length + 1), 0 = null, UTF-8
    bytes      int32 length, -1 = null                uvarint(length + 1), 0 = null
    records    int32 length, -1 = null (raw batches)  uvarint(length + 1), 0 = null
    []T        int32 count, -1 = null, elements       uvarint(count + 1), 0 = null, elements
    struct     fields in order                        fields in order, then a tagged-field section
    nullable   int8 -1 = null, 1 = present, fields    same
     struct
    tagged     -                                      uvarint count, then per field (ascending
     section                                          tag): uvarint tag, uvarint size, value

Decoders take `(buf, pos)` where `buf` is a one-dimensional byte `memoryview` of the whole frame
and return `(dict, new_pos)`. Every declared length or count is checked against the bytes left
before anything is allocated; reads past the end raise `struct.error` or `IndexError`, an overlong
varint `VarintError` and bad UTF-8 `UnicodeDecodeError` (together `DECODE_ERRORS`), which the
callers (`codec.py`, `versioned.py`) turn into `ProtocolError`. Varints are `segments/varint.py`'s.
`records` values decode to a `memoryview` slice of `buf` (no copy). Fields absent from the version
appear in the dict with their defaults.

Encoders take `(body, out)` and append pieces to the list `out`: `bytes` for everything except
`records` values, which are appended as the caller's own objects (bytes-like or `RecordsPart`)
after their length prefix, so a file range can later be sent with `sendfile`. A missing key takes
the schema default; fields the version does not carry are ignored.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.schema import NO_VERSIONS, FieldSpec, MessageSpec
from segments.varint import VarintError, encode_uvarint, read_uvarint

# What a generated decoder raises on bad input besides ProtocolError.
DECODE_ERRORS = (struct.error, IndexError, UnicodeDecodeError, VarintError)

DecodeFn = Callable[[memoryview, int], tuple[dict[str, Any], int]]
EncodeFn = Callable[[dict[str, Any], list[Any]], None]

# Fixed-width types: struct format character and size in bytes.
_FIXED: dict[str, tuple[str, int]] = {
    "int8": ("b", 1),
    "int16": ("h", 2),
    "int32": ("i", 4),
    "int64": ("q", 8),
    "uint16": ("H", 2),
    "uint32": ("I", 4),
    "float64": ("d", 8),
    "bool": ("?", 1),
    "uuid": ("16s", 16),
}

_UUID = uuid.UUID
_ZERO_UUID = uuid.UUID(int=0)
_ZERO_UUID_BYTES = bytes(16)
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I8 = struct.Struct(">b")

def _uuid_bytes(value: Any) -> bytes:
    if value is None:
        return _ZERO_UUID_BYTES
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, bytes | bytearray) and len(value) == 16:
        return bytes(value)
    return uuid.UUID(str(value)).bytes


def records_size(value: Any) -> int:
    """Byte length of a `records` value: bytes-like, a `RecordsPart`, or a list/tuple of those."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(records_size(v) for v in value)
    size = value.nbytes
    if not isinstance(size, int) or size < 0:
        raise EncodeError(f"records part {value!r} has invalid nbytes {size!r}")
    return size


def _is_default_struct(value: dict[str, Any], defaults: dict[str, Any]) -> bool:
    return all(value.get(k, dv) == dv for k, dv in defaults.items())


def _fail(message: str) -> ProtocolError:
    return ProtocolError(message)


def _encode_fail(message: str) -> EncodeError:
    return EncodeError(message)


def _element_field(f: FieldSpec, elem: str) -> FieldSpec:
    """A synthetic field for one element of an array of strings, bytes or uuids (coded one at a time)."""
    return FieldSpec(name=f.name + "[]", key=f.key, type=elem, versions=f.versions, nullable=NO_VERSIONS,
                     tagged=NO_VERSIONS, tag=None, flexible_override=f.flexible_override,
                     default_text=None)


@dataclass(frozen=True, slots=True)
class CompiledMessage:
    """Generated functions for one (message, version)."""

    name: str
    version: int
    flexible: bool
    has_records: bool
    decode: DecodeFn
    encode: EncodeFn
    source: str


class _Emitter:
    """Accumulates generated source lines and the globals they reference."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.globs: dict[str, Any] = {
            "_UUID": _UUID,
            "_ZU": _ZERO_UUID,
            "_ub": _uuid_bytes,
            "_rv": read_uvarint,
            "_uv": encode_uvarint,
            "_fail": _fail,
            "_efail": _encode_fail,
            "_unpack_from": struct.unpack_from,
            "_pack": struct.pack,
            "_i16": _I16.unpack_from,
            "_i32": _I32.unpack_from,
            "_i8": _I8.unpack_from,
            "_p16": _I16.pack,
            "_p32": _I32.pack,
            "_rsize": records_size,
            "_isdef": _is_default_struct,
        }
        self._counter = 0
        self._structs: dict[str, str] = {}
        self.has_records = False

    def var(self, prefix: str = "v") -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def struct_obj(self, fmt: str) -> str:
        """Name of a module-level `struct.Struct` for a big-endian format."""
        name = self._structs.get(fmt)
        if name is None:
            name = f"_S{len(self._structs)}"
            self._structs[fmt] = name
            self.globs[name] = struct.Struct(">" + fmt)
        return name

    def const(self, value: Any) -> str:
        name = f"_K{self._counter}"
        self._counter += 1
        self.globs[name] = value
        return name


def _default_expr(em: _Emitter, f: FieldSpec) -> str:
    """Source text evaluating to a fresh default value for `f`."""
    if f.is_array:
        return "None" if f.default_text == "null" else "[]"
    if f.is_struct:
        if f.default_text == "null":
            return "None"
        inner = ", ".join(f"{c.key!r}: {_default_expr(em, c)}" for c in f.fields)
        return "{" + inner + "}"
    value = f.default_value()
    if f.type == "uuid":
        return "_ZU"
    return repr(value)


class _MessageCompiler:
    def __init__(self, spec: MessageSpec, version: int) -> None:
        self.spec = spec
        self.version = version
        self.flexible = version in spec.flexible
        self.em = _Emitter()
        self._fn_counter = 0

    # ------------------------------------------------------------------ helpers
    def _compact(self, f: FieldSpec) -> bool:
        if f.flexible_override is not None:
            return self.version in f.flexible_override
        return self.flexible

    def _fields(self, fields: Sequence[FieldSpec]) -> tuple[list[FieldSpec], list[FieldSpec]]:
        v = self.version
        plain = [f for f in fields if f.present(v) and not f.is_tagged(v)]
        tagged = sorted((f for f in fields if f.present(v) and f.is_tagged(v)), key=lambda f: f.tag or 0)
        return plain, tagged

    def _fn_name(self, kind: str, struct_name: str) -> str:
        self._fn_counter += 1
        return f"_{kind}_{struct_name}_{self._fn_counter}"

    def _read_uvarint(self, ind: int, target: str, buf: str) -> None:
        em = self.em
        em.emit(ind, f"{target} = {buf}[pos]")
        em.emit(ind, f"if {target} < 128:")
        em.emit(ind + 1, "pos += 1")
        em.emit(ind, "else:")
        em.emit(ind + 1, f"{target}, pos = _rv({buf}, pos)")

    def _read_length(self, ind: int, target: str, buf: str, compact: bool, wide: bool) -> None:
        """Read a length/count: uvarint-1 when compact, else int32 (wide) or int16."""
        if compact:
            self._read_uvarint(ind, target, buf)
            self.em.emit(ind, f"{target} -= 1")
        elif wide:
            self.em.emit(ind, f"{target} = _i32({buf}, pos)[0]")
            self.em.emit(ind, "pos += 4")
        else:
            self.em.emit(ind, f"{target} = _i16({buf}, pos)[0]")
            self.em.emit(ind, "pos += 2")

    def _null_or_fail(self, ind: int, target: str, f: FieldSpec, what: str) -> None:
        if f.is_nullable(self.version):
            self.em.emit(ind, f"{target} = None")
        else:
            self.em.emit(ind, f"raise _fail({f'non-nullable {what} {f.name} is null'!r})")

    # ------------------------------------------------------------------ decoding
    def gen_decoder(self, name: str, fields: Sequence[FieldSpec]) -> str:
        """Emit a decode function for a struct; nested struct functions are emitted first."""
        em = self.em
        plain, tagged = self._fields(fields)
        sub_fns: dict[int, str] = {}
        for f in plain + tagged:
            if f.is_struct:
                sub_fns[id(f)] = self.gen_decoder(f.struct_name or "S", f.fields)
        fn = self._fn_name("d", name)
        em.emit(0, f"def {fn}(buf, pos):")
        values: dict[str, str] = {}
        i = 0
        while i < len(plain):
            f = plain[i]
            if f.type in _FIXED:
                run = [f]
                while i + 1 < len(plain) and plain[i + 1].type in _FIXED:
                    i += 1
                    run.append(plain[i])
                self._decode_fixed_run(1, run, values)
            else:
                target = em.var()
                self._decode_field(1, f, target, "buf", sub_fns)
                values[f.key] = target
            i += 1
        if self.flexible:
            for f in tagged:
                target = em.var()
                em.emit(1, f"{target} = {_default_expr(em, f)}")
                values[f.key] = target
            self._decode_tagged_section(1, tagged, values, sub_fns)
        items = []
        for f in fields:
            items.append(f"{f.key!r}: {values.get(f.key) or _default_expr(em, f)}")
        em.emit(1, "return {" + ", ".join(items) + "}, pos")
        em.emit(0, "")
        return fn

    def _decode_fixed_run(self, ind: int, run: list[FieldSpec], values: dict[str, str]) -> None:
        em = self.em
        fmt = "".join(_FIXED[f.type][0] for f in run)
        size = sum(_FIXED[f.type][1] for f in run)
        s = em.struct_obj(fmt)
        targets = [em.var() for _ in run]
        em.emit(ind, f"{', '.join(targets)}, = {s}.unpack_from(buf, pos)")
        em.emit(ind, f"pos += {size}")
        for f, t in zip(run, targets, strict=True):
            if f.type == "uuid":
                em.emit(ind, f"{t} = _UUID(bytes={t})")
            values[f.key] = t

    def _decode_field(self, ind: int, f: FieldSpec, target: str, buf: str, sub_fns: dict[int, str]) -> None:
        em = self.em
        compact = self._compact(f)
        if f.is_array:
            n = em.var("n")
            self._read_length(ind, n, buf, compact, wide=True)
            em.emit(ind, f"if {n} < 0:")
            self._null_or_fail(ind + 1, target, f, "array")
            em.emit(ind, "else:")
            em.emit(ind + 1, f"if {n} > len({buf}) - pos:")
            em.emit(ind + 2, f"raise _fail('array {f.name} count ' + str({n}) + ' exceeds remaining bytes')")
            self._decode_array_body(ind + 1, f, target, n, buf, sub_fns)
        elif f.is_struct:
            fn = sub_fns[id(f)]
            if f.is_nullable(self.version):
                m = em.var("m")
                em.emit(ind, f"{m} = _i8({buf}, pos)[0]")
                em.emit(ind, "pos += 1")
                em.emit(ind, f"if {m} < 0:")
                em.emit(ind + 1, f"{target} = None")
                em.emit(ind, "else:")
                em.emit(ind + 1, f"{target}, pos = {fn}({buf}, pos)")
            else:
                em.emit(ind, f"{target}, pos = {fn}({buf}, pos)")
        elif f.type in _FIXED:
            fmt, size = _FIXED[f.type]
            s = em.struct_obj(fmt)
            em.emit(ind, f"{target} = {s}.unpack_from({buf}, pos)[0]")
            em.emit(ind, f"pos += {size}")
            if f.type == "uuid":
                em.emit(ind, f"{target} = _UUID(bytes={target})")
        elif f.type in ("string", "bytes", "records"):
            n = em.var("n")
            self._read_length(ind, n, buf, compact, wide=f.type != "string")
            em.emit(ind, f"if {n} < 0:")
            self._null_or_fail(ind + 1, target, f, f.type)
            em.emit(ind, "else:")
            e = em.var("e")
            em.emit(ind + 1, f"{e} = pos + {n}")
            em.emit(ind + 1, f"if {e} > len({buf}):")
            em.emit(ind + 2, f"raise _fail('{f.type} {f.name} length ' + str({n}) + ' exceeds remaining bytes')")
            if f.type == "string":
                em.emit(ind + 1, f"{target} = str({buf}[pos:{e}], 'utf-8')")
            elif f.type == "bytes":
                em.emit(ind + 1, f"{target} = bytes({buf}[pos:{e}])")
            else:
                em.emit(ind + 1, f"{target} = {buf}[pos:{e}]")
            em.emit(ind + 1, f"pos = {e}")
        else:
            raise EncodeError(f"unsupported field type {f.type} ({f.name})")

    def _decode_array_body(
        self, ind: int, f: FieldSpec, target: str, n: str, buf: str, sub_fns: dict[int, str]
    ) -> None:
        em = self.em
        elem = f.element_type
        if f.is_struct:
            fn = sub_fns[id(f)]
            item = em.var("it")
            em.emit(ind, f"{target} = []")
            em.emit(ind, f"for _ in range({n}):")
            em.emit(ind + 1, f"{item}, pos = {fn}({buf}, pos)")
            em.emit(ind + 1, f"{target}.append({item})")
        elif elem in _FIXED and elem != "uuid":
            fmt, size = _FIXED[elem]
            em.emit(ind, f"if {n} * {size} > len({buf}) - pos:")
            em.emit(ind + 1, f"raise _fail('array {f.name} exceeds remaining bytes')")
            em.emit(ind, f"{target} = list(_unpack_from('>' + str({n}) + '{fmt}', {buf}, pos))")
            em.emit(ind, f"pos += {n} * {size}")
        else:
            # Strings, bytes and uuids: decode one element at a time through a synthetic field.
            elem_field = _element_field(f, elem)
            item = em.var("it")
            em.emit(ind, f"{target} = []")
            em.emit(ind, f"for _ in range({n}):")
            self._decode_field(ind + 1, elem_field, item, buf, sub_fns)
            em.emit(ind + 1, f"{target}.append({item})")

    def _decode_tagged_section(
        self, ind: int, tagged: list[FieldSpec], values: dict[str, str], sub_fns: dict[int, str]
    ) -> None:
        em = self.em
        nt, tag, size, end = em.var("nt"), em.var("tag"), em.var("sz"), em.var("e")
        self._read_uvarint(ind, nt, "buf")
        em.emit(ind, f"if {nt} > len(buf) - pos:")
        em.emit(ind + 1, f"raise _fail('tagged field count ' + str({nt}) + ' exceeds remaining bytes')")
        em.emit(ind, f"for _ in range({nt}):")
        self._read_uvarint(ind + 1, tag, "buf")
        self._read_uvarint(ind + 1, size, "buf")
        em.emit(ind + 1, f"{end} = pos + {size}")
        em.emit(ind + 1, f"if {end} > len(buf):")
        em.emit(ind + 2, f"raise _fail('tagged field size ' + str({size}) + ' exceeds remaining bytes')")
        for k, f in enumerate(tagged):
            kw = "if" if k == 0 else "elif"
            em.emit(ind + 1, f"{kw} {tag} == {f.tag}:")
            # Bound the field's decode to its declared size by decoding from a shorter view.
            em.emit(ind + 2, f"sub = buf[:{end}]")
            if f.type in _FIXED and not f.is_array:
                s = em.struct_obj(_FIXED[f.type][0])
                em.emit(ind + 2, f"{values[f.key]} = {s}.unpack_from(sub, pos)[0]")
                if f.type == "uuid":
                    em.emit(ind + 2, f"{values[f.key]} = _UUID(bytes={values[f.key]})")
            else:
                self._decode_field(ind + 2, f, values[f.key], "sub", sub_fns)
        em.emit(ind + 1, f"pos = {end}")

    # ------------------------------------------------------------------ encoding
    def gen_encoder(self, name: str, fields: Sequence[FieldSpec]) -> str:
        em = self.em
        plain, tagged = self._fields(fields)
        sub_fns: dict[int, str] = {}
        for f in plain + tagged:
            if f.is_struct:
                sub_fns[id(f)] = self.gen_encoder(f.struct_name or "S", f.fields)
        fn = self._fn_name("e", name)
        em.emit(0, f"def {fn}(d, out):")
        em.emit(1, "get = d.get")
        i = 0
        while i < len(plain):
            f = plain[i]
            if f.type in _FIXED:
                run = [f]
                while i + 1 < len(plain) and plain[i + 1].type in _FIXED:
                    i += 1
                    run.append(plain[i])
                fmt = "".join(_FIXED[r.type][0] for r in run)
                s = em.struct_obj(fmt)
                args = ", ".join(self._fixed_value_expr(r) for r in run)
                em.emit(1, f"out.append({s}.pack({args}))")
            else:
                v = em.var()
                em.emit(1, f"{v} = get({f.key!r}, {_default_expr(em, f)})")
                self._encode_field(1, f, v, "out", sub_fns)
            i += 1
        if self.flexible:
            if not tagged:
                em.emit(1, "out.append(b'\\x00')")
            else:
                tg = em.var("tg")
                em.emit(1, f"{tg} = []")
                for f in tagged:
                    v = em.var()
                    if f.is_struct and not f.is_array:
                        em.emit(1, f"{v} = get({f.key!r})")
                    else:
                        em.emit(1, f"{v} = get({f.key!r}, {_default_expr(em, f)})")
                    em.emit(1, f"if {self._non_default_cond(f, v)}:")
                    sub = em.var("sub")
                    em.emit(2, f"{sub} = []")
                    if f.type in _FIXED and not f.is_array:
                        s = em.struct_obj(_FIXED[f.type][0])
                        val = f"_ub({v})" if f.type == "uuid" else v
                        em.emit(2, f"{sub}.append({s}.pack({val}))")
                    else:
                        self._encode_field(2, f, v, sub, sub_fns)
                    data = em.var("data")
                    em.emit(2, f"{data} = b''.join({sub})")
                    em.emit(2, f"{tg}.append(_uv({f.tag}) + _uv(len({data})) + {data})")
                em.emit(1, f"out.append(_uv(len({tg})))")
                em.emit(1, f"out.extend({tg})")
        em.emit(1, "return None")
        em.emit(0, "")
        return fn

    def _fixed_value_expr(self, f: FieldSpec) -> str:
        expr = f"get({f.key!r}, {_default_expr(self.em, f)})"
        if f.type == "uuid":
            return f"_ub({expr})"
        return expr

    def _non_default_cond(self, f: FieldSpec, v: str) -> str:
        if f.is_array:
            return f"{v} is not None" if f.default_text == "null" else f"{v}"
        if f.is_struct:
            if f.default_text == "null":
                return f"{v} is not None"
            defaults = self.em.const(f.default_value())
            return f"{v} is not None and not _isdef({v}, {defaults})"
        if f.default_text == "null":
            return f"{v} is not None"
        return f"{v} != {_default_expr(self.em, f)}"

    def _write_length(self, ind: int, out: str, expr: str, compact: bool, wide: bool) -> None:
        if compact:
            self.em.emit(ind, f"{out}.append(_uv({expr} + 1))")
        elif wide:
            self.em.emit(ind, f"{out}.append(_p32({expr}))")
        else:
            self.em.emit(ind, f"{out}.append(_p16({expr}))")

    def _null_marker(self, ind: int, out: str, f: FieldSpec, compact: bool, wide: bool, what: str) -> None:
        em = self.em
        if not f.is_nullable(self.version):
            msg = f"{what} {f.name} is not nullable in version {self.version}"
            em.emit(ind, f"raise _efail({msg!r})")
        elif compact:
            em.emit(ind, f"{out}.append(b'\\x00')")
        elif wide:
            em.emit(ind, f"{out}.append(b'\\xff\\xff\\xff\\xff')")
        else:
            em.emit(ind, f"{out}.append(b'\\xff\\xff')")

    def _encode_field(self, ind: int, f: FieldSpec, v: str, out: str, sub_fns: dict[int, str]) -> None:
        em = self.em
        compact = self._compact(f)
        if f.is_array:
            em.emit(ind, f"if {v} is None:")
            self._null_marker(ind + 1, out, f, compact, True, "array")
            em.emit(ind, "else:")
            self._write_length(ind + 1, out, f"len({v})", compact, wide=True)
            elem = f.element_type
            if f.is_struct:
                fn = sub_fns[id(f)]
                item = em.var("it")
                em.emit(ind + 1, f"for {item} in {v}:")
                em.emit(ind + 2, f"{fn}({item}, {out})")
            elif elem in _FIXED and elem != "uuid":
                fmt = _FIXED[elem][0]
                em.emit(ind + 1, f"{out}.append(_pack('>' + str(len({v})) + '{fmt}', *{v}))")
            else:
                elem_field = _element_field(f, elem)
                item = em.var("it")
                em.emit(ind + 1, f"for {item} in {v}:")
                self._encode_field(ind + 2, elem_field, item, out, sub_fns)
        elif f.is_struct:
            fn = sub_fns[id(f)]
            nullable = f.is_nullable(self.version)
            em.emit(ind, f"if {v} is None:")
            if nullable:
                em.emit(ind + 1, f"{out}.append(b'\\xff')")
            else:
                em.emit(ind + 1, f"{fn}({{}}, {out})")
            em.emit(ind, "else:")
            if nullable:
                em.emit(ind + 1, f"{out}.append(b'\\x01')")
            em.emit(ind + 1, f"{fn}({v}, {out})")
        elif f.type in _FIXED:
            s = em.struct_obj(_FIXED[f.type][0])
            val = f"_ub({v})" if f.type == "uuid" else v
            em.emit(ind, f"{out}.append({s}.pack({val}))")
        elif f.type == "string":
            em.emit(ind, f"if {v} is None:")
            self._null_marker(ind + 1, out, f, compact, False, "string")
            em.emit(ind, "else:")
            b = em.var("b")
            em.emit(ind + 1, f"{b} = {v}.encode('utf-8')")
            self._write_length(ind + 1, out, f"len({b})", compact, wide=False)
            em.emit(ind + 1, f"{out}.append({b})")
        elif f.type == "bytes":
            em.emit(ind, f"if {v} is None:")
            self._null_marker(ind + 1, out, f, compact, True, "bytes")
            em.emit(ind, "else:")
            self._write_length(ind + 1, out, f"len({v})", compact, wide=True)
            em.emit(ind + 1, f"{out}.append(bytes({v}))")
        elif f.type == "records":
            em.has_records = True
            em.emit(ind, f"if {v} is None:")
            self._null_marker(ind + 1, out, f, compact, True, "records")
            em.emit(ind, "else:")
            size = em.var("rs")
            em.emit(ind + 1, f"{size} = len({v}) if type({v}) is bytes else _rsize({v})")
            self._write_length(ind + 1, out, size, compact, wide=True)
            em.emit(ind + 1, f"if type({v}) is list or type({v}) is tuple:")
            em.emit(ind + 2, f"{out}.extend({v})")
            em.emit(ind + 1, "else:")
            em.emit(ind + 2, f"{out}.append({v})")
        else:
            raise EncodeError(f"unsupported field type {f.type} ({f.name})")


def compile_message(spec: MessageSpec, version: int) -> CompiledMessage:
    """Generate, compile and return the codec functions for `spec` at `version`."""
    mc = _MessageCompiler(spec, version)
    dec = mc.gen_decoder(spec.name, spec.fields)
    enc = mc.gen_encoder(spec.name, spec.fields)
    source = "\n".join(mc.em.lines)
    namespace = dict(mc.em.globs)
    code = compile(source, f"<kafka codec {spec.name} v{version}>", "exec")
    exec(code, namespace)
    return CompiledMessage(
        name=spec.name,
        version=version,
        flexible=mc.flexible,
        has_records=mc.em.has_records,
        decode=namespace[dec],
        encode=namespace[enc],
        source=source,
    )
