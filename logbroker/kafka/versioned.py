"""Version-prefixed records: an int16 version, then a body laid out by a `record` definition.

    field    type    meaning
    version  int16   layout version of the body
    body     -       the record definition's fields at that version (compact lengths and a
                     tagged-field section in its flexible versions)

Kafka stores the `__consumer_offsets` keys and values this way, and consumers exchange their
subscription and assignment this way inside JoinGroup and SyncGroup. The definitions are the
`record` blocks of `messages/*.txt`; bodies are compiled by the same compiler as the wire messages,
so they are dicts with snake_case keys.

Reading is lenient where Kafka is: bytes after a parsed body are ignored, and with
`newer_as_newest` a version above the newest known is read as the newest (the consumer protocol's
rule: later versions only append fields). Bad input raises only `ProtocolError`.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from logbroker.kafka.compiler import DECODE_ERRORS, CompiledMessage, compile_message
from logbroker.kafka.errors import EncodeError, ProtocolError
from logbroker.kafka.schema import MessageSpec, shipped_catalog

_VERSION = struct.Struct(">h")


def read_version(data: bytes | bytearray | memoryview) -> int:
    """The int16 version at the start of a record; ProtocolError when there is none."""
    if len(data) < 2:
        raise ProtocolError(f"record of {len(data)} bytes has no version")
    return int(_VERSION.unpack_from(data, 0)[0])


class RecordCodec:
    """Encoder and decoder of one version-prefixed record layout, compiled per version on first use."""

    def __init__(self, spec: MessageSpec) -> None:
        if spec.valid.empty:
            raise ValueError(f"{spec.name} declares no versions")
        self.spec = spec
        self._compiled: dict[int, CompiledMessage] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    def _at(self, version: int) -> CompiledMessage:
        compiled = self._compiled.get(version)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(version)
                if compiled is None:
                    compiled = compile_message(self.spec, version)
                    self._compiled[version] = compiled
        return compiled

    def encode(self, version: int, body: dict[str, Any]) -> bytes:
        """The version, then `body` at that version. Raises EncodeError when the body does not fit."""
        if version not in self.spec.valid:
            raise EncodeError(f"{self.name} has no version {version}")
        out: list[Any] = [_VERSION.pack(version)]
        try:
            self._at(version).encode(body, out)
        except EncodeError as exc:
            raise EncodeError(f"{self.name} v{version}: {exc}") from exc
        except (struct.error, TypeError, AttributeError, ValueError, OverflowError) as exc:
            raise EncodeError(f"{self.name} v{version}: {exc}") from exc
        return b"".join(out)

    def decode(
        self, data: bytes | bytearray | memoryview, *, newer_as_newest: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """(version as written, body). Raises ProtocolError for an unknown version or a bad body."""
        version = read_version(data)
        layout = version
        if newer_as_newest and version > self.spec.valid.hi:
            layout = self.spec.valid.hi
        if layout not in self.spec.valid:
            raise ProtocolError(f"{self.name} has no version {version}")
        return version, self.decode_body(data, layout)

    def decode_body(self, data: bytes | bytearray | memoryview, version: int) -> dict[str, Any]:
        """The body after the 2-byte version, read at `version` (which the caller has checked)."""
        view = data if isinstance(data, memoryview) else memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        try:
            body, _ = self._at(version).decode(view, 2)
        except DECODE_ERRORS as exc:
            raise ProtocolError(f"{self.name} v{version}: malformed ({exc})") from exc
        return body


_CODECS: dict[str, RecordCodec] = {}


def record_codec(name: str) -> RecordCodec:
    """The codec of the shipped `record` definition `name` (KeyError when there is none)."""
    codec = _CODECS.get(name)
    if codec is None:
        codec = _CODECS.setdefault(name, RecordCodec(shipped_catalog().records[name]))
    return codec
