"""Share sessions (KIP-932): what a share consumer's ShareFetch and ShareAcknowledge requests carry
between them, per (group, member).

A session is opened by a ShareFetch with epoch 0 (its partitions are those of the request), grows
and shrinks with later requests (``Topics`` add partitions, ``ForgottenTopicsData`` removes them),
and is closed by epoch -1. Every request after the opening one carries the next epoch (the previous
one plus one, wrapping to 1 after the int32 maximum, as Kafka's fetch sessions do); anything else
is INVALID_SHARE_SESSION_EPOCH, and a non-zero epoch without a session SHARE_SESSION_NOT_FOUND.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TopicPartition = tuple[str, int]

SHARE_SESSION_NOT_FOUND = 122
INVALID_SHARE_SESSION_EPOCH = 123
INT32_MAX = 2**31 - 1


@dataclass(slots=True)
class ShareSession:
    next_epoch: int = 1
    partitions: list[TopicPartition] = field(default_factory=list)  # in the order they were added


def next_epoch(epoch: int) -> int:
    return 1 if epoch >= INT32_MAX else epoch + 1


class ShareSessions:
    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], ShareSession] = {}

    def get(self, group_id: str, member_id: str) -> ShareSession | None:
        return self._sessions.get((group_id, member_id))

    def open(self, group_id: str, member_id: str) -> ShareSession:
        """Epoch 0: a new session replaces any earlier one of the member."""
        session = ShareSession()
        self._sessions[(group_id, member_id)] = session
        return session

    def advance(self, group_id: str, member_id: str, epoch: int) -> tuple[int, ShareSession | None]:
        """Check ``epoch`` against the member's session (0: fine); on success move to the next epoch."""
        session = self._sessions.get((group_id, member_id))
        if session is None:
            return SHARE_SESSION_NOT_FOUND, None
        if epoch != session.next_epoch:
            return INVALID_SHARE_SESSION_EPOCH, None
        session.next_epoch = next_epoch(epoch)
        return 0, session

    def close(self, group_id: str, member_id: str) -> ShareSession | None:
        return self._sessions.pop((group_id, member_id), None)

    def drop_group(self, group_id: str) -> None:
        for key in [k for k in self._sessions if k[0] == group_id]:
            del self._sessions[key]
