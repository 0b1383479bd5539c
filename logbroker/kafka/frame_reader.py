"""Sans-IO splitting of a Kafka byte stream into frames, read straight into owned buffers.

The wire layout is the one of ``framing.py`` (an int32 size, then that many bytes of header and
body). Where ``FrameDecoder`` takes bytes someone else read, ``FrameReader`` owns the memory: the
transport asks ``read_buffer()`` where to put the next bytes, ``recv_into``s them there and calls
``commit(n)``, which returns the frames completed, each a writable ``memoryview`` of exactly its
``size`` bytes. So a request's bytes are written once, by the kernel, and a produced batch goes to
``Log.append`` (which patches offsets in place) without a user-space copy. Invariants:

- The declared size is checked (0 <= size <= ``max_frame_bytes``, Kafka's
  ``socket.request.max.bytes``) as soon as its 4 bytes are here, before any body byte is read
  into a buffer sized for it; a bad size raises ``FrameTooLarge`` and the reader stays failed
  (the stream cannot be resynchronised; the connection must be closed).
- Bytes before ``end`` of the current buffer are never written again, so frames already handed
  out stay intact while reading goes on behind them. A buffer left behind goes to the
  ``BufferCache``, which reuses it only once no view of it is alive.
- Memory follows the bytes that arrived, not the size a peer declares: small frames share a
  ``CHUNK`` buffer; a frame that does not fit moves (with the bytes it has so far) to a buffer of
  its full size when a free one is cached; otherwise it fills its buffer first, then moves to one
  of its full size if half of it is here, else to one twice the bytes it has (so a peer that sends
  a prefix claiming 100 MiB and stops costs one chunk).
  Moving copies only the incomplete frame's bytes; with a warm cache a large frame moves once,
  right after its prefix, with at most a chunk's worth of bytes.
- ``release()`` gives the buffer back when nothing is buffered, so an idle connection holds none.

Not thread-safe; one per connection.
"""

from __future__ import annotations

import struct

from logbroker.kafka.errors import FrameTooLarge
from logbroker.kafka.framing import DEFAULT_MAX_FRAME_BYTES
from logbroker.kafka.recv_buffers import BufferCache

_SIZE = struct.Struct(">i")
CHUNK = 64 * 1024  # the shared buffer of small frames; also the least a read asks for


class FrameReader:
    """Incremental frame splitter reading into its own reusable buffers."""

    __slots__ = ("_buf", "_cache", "_end", "_failed", "_start", "_view", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, cache: BufferCache | None = None) -> None:
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self.max_frame_bytes = max_frame_bytes
        self._cache = cache if cache is not None else BufferCache()
        self._buf: bytearray | None = None
        self._view = memoryview(b"")
        # Unparsed bytes of the current buffer: [_start, _end) (a size prefix and part of its frame).
        self._start = 0
        self._end = 0
        self._failed: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame (prefix included)."""
        return self._end - self._start

    @property
    def capacity(self) -> int:
        """Size of the buffer held now (0 when idle)."""
        return 0 if self._buf is None else len(self._buf)

    @property
    def pending_frame_size(self) -> int | None:
        """Declared size of the frame being received, if its prefix has arrived."""
        if self._end - self._start < 4:
            return None
        return int(_SIZE.unpack_from(self._view, self._start)[0])

    def _move(self, capacity: int, *, allocate: bool = True) -> bool:
        """Continue in a buffer of at least ``capacity`` bytes, taking the incomplete frame along."""
        new = self._cache.take(capacity, allocate=allocate)
        if new is None:
            return False
        pending = self._end - self._start
        if pending:
            new[:pending] = self._view[self._start : self._end]
        old = self._buf
        self._buf, self._view = new, memoryview(new)
        if old is not None:
            self._cache.give(old)
        self._start, self._end = 0, pending
        return True

    def read_buffer(self) -> memoryview:
        """Where the transport puts the next bytes (never empty). The view is only valid until
        the next call to any method of this reader."""
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        if buf is None:
            self._move(CHUNK)
            buf = self._buf
            assert buf is not None
        pending = self._end - self._start
        if pending >= 4:
            need = 4 + _SIZE.unpack_from(self._view, self._start)[0]
            if self._start + need > len(buf):
                if need <= CHUNK:
                    self._move(CHUNK)
                elif self._move(need, allocate=False):
                    pass  # a free cached buffer fits the whole frame: move now, while little is here
                elif self._end == len(buf):
                    # Grow with what arrived (at most twice it), never with what the peer declares.
                    self._move(need if 2 * pending >= need else max(CHUNK, 2 * pending))
        elif self._end == len(buf) or self._start + 4 > len(buf):
            self._move(CHUNK)
        return self._view[self._end :]

    def commit(self, nbytes: int) -> list[memoryview]:
        """``nbytes`` were written at the start of the last ``read_buffer()``; returns the frames
        they completed, in order."""
        view = self._view
        end = self._end = self._end + nbytes
        pos = self._start
        frames: list[memoryview] = []
        max_frame = self.max_frame_bytes
        while end - pos >= 4:
            size = _SIZE.unpack_from(view, pos)[0]
            if size < 0 or size > max_frame:
                self._start = pos
                self._failed = FrameTooLarge(size, max_frame)
                raise self._failed
            stop = pos + 4 + size
            if stop > end:
                break
            frames.append(view[pos + 4 : stop])
            pos = stop
        self._start = pos
        if pos == end and pos == len(view):
            self.release()
        return frames

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Copy ``data`` in as if it had been read (tests and in-memory transports)."""
        frames: list[memoryview] = []
        src = memoryview(data).cast("B")
        while src:
            target = self.read_buffer()
            n = min(len(target), len(src))
            target[:n] = src[:n]
            src = src[n:]
            frames += self.commit(n)
        return frames

    def release(self) -> None:
        """Give the buffer back if no incomplete frame is in it (the connection is idle)."""
        old = self._buf
        if old is not None and self._start == self._end:
            self._buf, self._view = None, memoryview(b"")
            self._cache.give(old)
            self._start = self._end = 0
