"""Writes of the coordinator's records to ``__consumer_offsets``, answered once durable.

Every record of one group goes to the group's partition (``schema.partition_for``), one batch per
write, through ``offsets_topic.GroupLog``; ``on_done(error, base_offset)`` runs when the batch is as
durable as the topic's flush policy promises: at once when it needs no wait, else on the event loop
(durability completes on the flusher's thread). Errors are the coordinator's own (``GroupError``):
a batch too large for the topic is INVALID_COMMIT_OFFSET_SIZE, any storage failure
COORDINATOR_NOT_AVAILABLE (clients retry, as with Kafka).

In a cluster a write is answered once it is durable and every ISR member has it (acks=all): a broker
that no longer leads the group's partition answers NOT_COORDINATOR (the client finds the new
coordinator), an ISR below ``min.insync.replicas`` COORDINATOR_NOT_AVAILABLE (Kafka's mapping of
NOT_ENOUGH_REPLICAS for the coordinator's appends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from logbroker.errors import NotEnoughReplicasError, NotLeaderOrFollowerError
from logbroker.groups.errors import GroupError
from logbroker.groups.offsets_topic import GroupLog
from logbroker.groups.schema import partition_for
from segments.errors import RecordTooLargeError, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

Records = Sequence[tuple[bytes, bytes | None]]
OnDone = Callable[[GroupError, int], None]


def resolve(fut: asyncio.Future[T] | None, value: T) -> None:
    """Answer a waiting request once; a future already answered (or cancelled) is left alone."""
    if fut is not None and not fut.done():
        fut.set_result(value)


class RecordWriter:
    """The coordinator's way into ``__consumer_offsets``, and the event loop its answers run on."""

    def __init__(self, group_log: GroupLog, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.log = group_log
        self._loop = loop

    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def future(self) -> asyncio.Future[Any]:
        return self.loop().create_future()

    def answered(self, value: T) -> asyncio.Future[T]:
        fut: asyncio.Future[T] = self.future()
        fut.set_result(value)
        return fut

    def write(self, group_id: str, records: Records, now_ms: int, on_done: OnDone) -> None:
        """Append ``records`` to the group's partition, then ``on_done(error, base_offset)``."""
        try:
            partition = partition_for(group_id, self.log.partition_count())
        except (StorageError, OSError, ValueError) as exc:
            log.error("group %s: writing to __consumer_offsets failed: %s", group_id, exc)
            on_done(GroupError.COORDINATOR_NOT_AVAILABLE, -1)
            return
        self.write_to(partition, records, now_ms, on_done, what=f"group {group_id}")

    def write_to(self, partition: int, records: Records, now_ms: int, on_done: OnDone, *,
                 what: str = "records") -> None:
        """Append ``records`` to one partition of the log, then ``on_done(error, base_offset)``."""
        group_id = what
        try:
            appended = self.log.append(partition, records, now_ms)
        except RecordTooLargeError as exc:
            log.warning("%s: records for an internal topic refused: %s", group_id, exc)
            on_done(GroupError.INVALID_COMMIT_OFFSET_SIZE, -1)
            return
        except NotLeaderOrFollowerError as exc:
            log.info("%s: not written, this broker does not coordinate it: %s", group_id, exc)
            on_done(GroupError.NOT_COORDINATOR, -1)
            return
        except NotEnoughReplicasError as exc:
            log.warning("%s: not written: %s", group_id, exc)
            on_done(GroupError.COORDINATOR_NOT_AVAILABLE, -1)
            return
        except (StorageError, OSError, ValueError) as exc:
            log.error("group %s: writing to __consumer_offsets failed: %s", group_id, exc)
            on_done(GroupError.COORDINATOR_NOT_AVAILABLE, -1)
            return
        base = appended.base_offset
        durable = appended.durable
        replicated = appended.replicated

        def stored(error: GroupError, _base: int) -> None:
            """Durable here; now wait for the ISR (acks=all) when in a cluster."""
            if not error.ok or replicated is None:
                on_done(error, base)
            elif replicated.done():
                on_done(_replication_error(group_id, replicated), base)
            else:
                replicated.add_done_callback(lambda f: on_done(_replication_error(group_id, f), base))

        if durable is None:
            stored(GroupError.NONE, base)
        elif durable.done():
            stored(_durable_error(group_id, durable), base)
        else:
            loop = self.loop()

            def finished(f: Future[int]) -> None:
                # RuntimeError: the loop closed during shutdown; nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(stored, _durable_error(group_id, f), base)

            durable.add_done_callback(finished)


def _replication_error(what: str, f: asyncio.Future[None]) -> GroupError:
    if f.cancelled():
        return GroupError.COORDINATOR_NOT_AVAILABLE
    exc = f.exception()
    if exc is None:
        return GroupError.NONE
    log.info("%s: __consumer_offsets write not replicated: %s", what, exc)
    if isinstance(exc, NotLeaderOrFollowerError):
        return GroupError.NOT_COORDINATOR
    return GroupError.COORDINATOR_NOT_AVAILABLE  # NOT_ENOUGH_REPLICAS_AFTER_APPEND among others


def _durable_error(group_id: str, f: Future[int]) -> GroupError:
    if f.cancelled():
        return GroupError.COORDINATOR_NOT_AVAILABLE
    exc = f.exception()
    if exc is not None:
        log.error("group %s: __consumer_offsets write did not become durable: %s", group_id, exc)
        return GroupError.COORDINATOR_NOT_AVAILABLE
    return GroupError.NONE
