"""A TCP proxy on loopback that can hold back what clients send by a fixed delay, or cut them off.

Put between a broker and its ZooKeeper, it makes every ZooKeeper request of the broker slow on
demand (``delay_s``), or ZooKeeper unreachable (``cut``, until ``heal``), without touching either
process: a test can then see whether the broker's event loop waits on ZooKeeper and how it answers
without it. Each chunk read from a client is forwarded ``delay_s`` after it arrived (a latency, not a
throughput limit: chunks in flight do not wait for each other); what the server sends back passes at
once. Every thread and socket it opens it closes in ``close``.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time


class DelayProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.delay_s = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._start(self._accept)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, fn: object, *args: object) -> None:
        thread = threading.Thread(target=fn, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()  # as a ZooKeeper that is down: the connection ends at once
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            self._start(self._pump, client, server, True)
            self._start(self._pump, server, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, delayed: bool) -> None:
        pending: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        if delayed:
            self._start(self._send_later, pending, dst)
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delayed:
                    pending.put((time.monotonic() + self.delay_s, data))
                else:
                    dst.sendall(data)
        pending.put(None)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _send_later(pending: queue.Queue[tuple[float, bytes] | None], dst: socket.socket) -> None:
        """Send each chunk once its time came, in arrival order."""
        with contextlib.suppress(OSError):
            while (item := pending.get()) is not None:
                due, data = item
                time.sleep(max(0.0, due - time.monotonic()))
                dst.sendall(data)

    def cut(self) -> None:
        """End every connection and refuse new ones until ``heal``."""
        self._cut.set()
        with self._lock:
            sockets, self._sockets = list(self._sockets), []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def heal(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        # Closing a listening socket does not wake a thread blocked in accept(); shutting it down does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
        for t in threads:
            t.join(timeout=5)
