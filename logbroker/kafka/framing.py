"""Sans-IO splitting of a Kafka byte stream into frames.

Every Kafka request and response on the wire is one frame:

    field   type     meaning
    ------  -------  --------------------------------------------------------------
    size    int32    number of bytes that follow (header + body), big-endian
    frame   size B   request/response header then body

`FrameDecoder.feed(data)` takes whatever the transport read and returns the complete frames it
now has, each as a `memoryview` of exactly `size` bytes. Invariants:

- The declared size is checked (0 <= size <= max_frame_bytes, Kafka's
  `socket.request.max.bytes`) as soon as its 4 bytes are known, before any of the body is
  buffered; a bad size raises `FrameTooLarge` and the decoder stays failed (the connection must be
  closed, there is no way to resynchronise a stream).
- Memory follows the bytes that arrived, never the size a peer declares: the pieces of a frame
  split across chunks are kept as they arrive; once half the frame is here they move into one
  `bytearray` of exactly its size, which the rest is copied into (so the buffer is at most twice
  the bytes received: a peer that sends a 4-byte prefix claiming 100 MiB and stops costs a few
  bytes, not 100 MiB). `buffered` says how many bytes arrived, so the transport can bound them
  across connections.
- A frame is copied at most once: frames lying wholly inside one `bytes` chunk are returned as
  zero-copy views of it; a split frame's pieces are views of their chunks until they are copied
  into its buffer (a piece shorter than half its chunk is copied at once instead, so a small piece
  never keeps a large chunk alive). Mutable inputs (`bytearray`, `memoryview`) are copied once on
  entry because the caller may reuse them.
"""

from __future__ import annotations

import struct

from logbroker.kafka.errors import FrameTooLarge, ProtocolError

_SIZE = struct.Struct(">i")

DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes default (104857600)


class FrameDecoder:
    """Incremental frame splitter. Not thread-safe; one per connection."""

    __slots__ = ("_body", "_failed", "_have", "_head", "_parts", "_size", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self.max_frame_bytes = max_frame_bytes
        # Partial size prefix (fewer than 4 bytes seen).
        self._head = b""
        # Pieces of a frame split across feeds (None between frames), their total and the declared size.
        # Once half the frame has arrived the pieces move into one bytearray of the frame's size
        # (``_body``), which the rest is copied into as it arrives.
        self._parts: list[bytes | memoryview] | None = None
        self._body: bytearray | None = None
        self._have = 0
        self._size = 0
        self._failed: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame (prefix included)."""
        if self._parts is not None:
            return 4 + self._have
        return len(self._head)

    @property
    def pending_frame_size(self) -> int | None:
        """Declared size of the frame being assembled, if its prefix has been read."""
        return None if self._parts is None else self._size

    def _check(self, size: int) -> None:
        if size < 0 or size > self.max_frame_bytes:
            self._failed = FrameTooLarge(size, self.max_frame_bytes)
            raise self._failed

    def _keep(self, view: memoryview, start: int, length: int) -> None:
        """Hold ``length`` bytes of the chunk from ``start`` for the frame being assembled."""
        if length <= 0:
            return
        piece = view[start : start + length]
        body = self._body
        if body is not None:
            body[self._have : self._have + length] = piece
            self._have += length
            return
        assert self._parts is not None
        self._parts.append(piece if 2 * length >= len(view) else bytes(piece))
        self._have += length
        if 2 * self._have >= self._size and self._have < self._size:
            # Half the frame is here: one buffer of its size now costs at most twice what arrived.
            body = self._body = bytearray(self._size)
            pos = 0
            for part in self._parts:
                body[pos : pos + len(part)] = part
                pos += len(part)
            self._parts = []

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Add bytes read from the peer; return every frame completed by them, in order."""
        if self._failed is not None:
            raise self._failed
        if type(data) is not bytes:
            data = bytes(data)
        view = memoryview(data)
        n = len(view)
        pos = 0
        frames: list[memoryview] = []

        # Finish the frame (or prefix) left over from earlier feeds.
        if self._head:
            need = 4 - len(self._head)
            self._head += bytes(view[:need])
            pos = min(need, n)
            if len(self._head) < 4:
                return frames
            size = _SIZE.unpack(self._head)[0]
            self._head = b""
            self._check(size)
            self._parts = []
            self._have = 0
            self._size = size
        if self._parts is not None:
            take = min(self._size - self._have, n - pos)
            self._keep(view, pos, take)
            pos += take
            if self._have < self._size:
                return frames
            body = self._body if self._body is not None else bytearray().join(self._parts)
            frames.append(memoryview(body))
            self._parts = self._body = None
            self._have = self._size = 0

        # Whole frames inside this chunk: zero-copy views.
        while n - pos >= 4:
            size = _SIZE.unpack_from(view, pos)[0]
            self._check(size)
            start = pos + 4
            end = start + size
            if end > n:
                self._parts = []
                self._have = 0
                self._size = size
                self._keep(view, start, n - start)
                return frames
            frames.append(view[start:end])
            pos = end
        if pos < n:
            self._head = bytes(view[pos:n])
        return frames


__all__ = ["DEFAULT_MAX_FRAME_BYTES", "FrameDecoder", "FrameTooLarge", "ProtocolError"]
