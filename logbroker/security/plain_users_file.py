"""The PLAIN users file an operator names (``logbroker.sasl.plain.users.file``), kept current.

The file holds ``user_NAME="password"`` entries, as in Kafka's PlainLoginModule JAAS block. It is read
at start-up (unreadable: the broker does not start) and then looked at again before each PLAIN
authentication: one ``stat``, and a new read only when its modification time, size or inode
changed (an edit in place or a replacement by rename), so a user removed from the file is refused
from the next authentication on, and one added is accepted, without a restart. The cost stays
bounded: a file over ``MAX_BYTES`` is not read, and a file that has become unreadable or too large
fails closed, PLAIN refusing every user (one error line per change) until it is readable again,
rather than keeping users the operator may have meant to remove.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from logbroker.security.sasl import plain_users

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 20

_Stamp = tuple[int, int, int]  # mtime in ns, size, inode


class PlainUsersFile:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._users: dict[str, str] = {}
        self._stamp: _Stamp | None = None
        self._failed: str | None = None
        self._stamp, self._users = self._read(self._stat())  # OSError at start-up: the caller refuses to start

    def _stat(self) -> _Stamp:
        st = os.stat(self._path)
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _read(self, stamp: _Stamp) -> tuple[_Stamp, dict[str, str]]:
        if stamp[1] > MAX_BYTES:
            raise OSError(f"larger than {MAX_BYTES} bytes")
        return stamp, plain_users(self._path.read_text(encoding="utf-8"))

    def password_of(self, user: str) -> str | None:
        self._refresh()
        return self._users.get(user)

    def _refresh(self) -> None:
        try:
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp, self._users = self._read(stamp)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            if self._failed != reason:
                log.error("PLAIN users file %s cannot be read (%s): PLAIN refuses every user until it can",
                          self._path, reason)
            self._failed, self._stamp, self._users = reason, None, {}
            return
        self._failed = None
        log.info("PLAIN users file %s changed: %d user(s)", self._path, len(self._users))
