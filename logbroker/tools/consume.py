"""``logbroker consume``: print records as they arrive, like kafka-console-consumer.

Two ways to read:

* without ``--group`` the partitions are assigned directly (all partitions of the named topics,
  or of the topics matching ``--pattern`` when the run starts, or just ``--partition``) and the
  start position is ``--offset``/``--from-beginning``; nothing is committed;
* with ``--group`` the consumer subscribes (to the topics or the pattern), the group's committed
  offsets decide where to start (``--from-beginning`` only sets the reset policy for partitions
  without one) and offsets are committed synchronously after each batch is written and on exit.

A pattern must match the whole topic name (Java's ``Pattern.matches``); internal topics are skipped.

Once running, the consumer outlives a broker restart as Kafka's console consumer does: a poll or
commit that fails with a retriable error (connection refused, timeout, coordinator moving, a
rebalance that voided a commit) is retried with a backoff doubling from ``RETRY_BACKOFF_MS`` up to
``RETRY_BACKOFF_MAX_MS`` (Kafka's ``reconnect.backoff.ms``/``reconnect.backoff.max.ms`` defaults);
the group membership and positions stay in the client, so reading resumes where it stopped, and an
unsent commit is sent once the broker answers. ``--timeout-ms`` keeps counting meanwhile, so a run
with a timeout still ends if the broker stays away.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka import errors as kafka_errors

from logbroker.tools import clients
from logbroker.tools.errors import ToolError, explain
from logbroker.tools.output import RecordFields, format_record_json, format_record_text

POLL_MS = 200  # upper bound on how long a stop request or a timeout waits to be noticed
# While a group member waits for its first assignment (the coordinator's join, which includes
# group.initial.rebalance.delay.ms) the idle clock does not run, for at most this long (s).
ASSIGNMENT_GRACE_S = 60.0
RETRY_BACKOFF_MS = 50
RETRY_BACKOFF_MAX_MS = 1000

log = logging.getLogger(__name__)


def transient(exc: BaseException) -> bool:
    """Whether a client error may go away by itself (the broker restarting, a rebalance)."""
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, kafka_errors.CommitFailedError)


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    topics: tuple[str, ...] = ()
    pattern: str | None = None
    group: str | None = None
    partition: int | None = None
    offset: str = "latest"  # earliest | latest | a non-negative offset
    max_messages: int | None = None
    timeout_ms: int | None = None
    output_format: str = "text"
    fields: RecordFields = field(default_factory=RecordFields)


def validate(options: ConsumeOptions) -> None:
    """Reject the combinations kafka-console-consumer rejects, before connecting."""
    if bool(options.topics) == bool(options.pattern):
        raise ToolError("give either topic names or --pattern, not both and not neither")
    if options.pattern is not None:
        try:
            re.compile(options.pattern)
        except re.error as exc:
            raise ToolError(f"invalid --pattern {options.pattern!r}: {exc}") from None
    if options.group is not None and (options.partition is not None or options.offset not in ("earliest", "latest")):
        raise ToolError("--partition and --offset N cannot be combined with --group (the group assigns partitions "
                        "and keeps the offsets; use `logbroker groups reset-offsets` to move them)")
    if options.offset not in ("earliest", "latest"):
        if not options.offset.isdigit():
            raise ToolError(f"--offset must be earliest, latest or a non-negative number, got {options.offset!r}")
        if options.partition is None:
            raise ToolError("--offset N needs --partition")
    if options.partition is not None and len(options.topics) != 1:
        raise ToolError("--partition needs exactly one topic")


def left_ms_of(timeout_ms: int | None, idle_s: float) -> float | None:
    """What is left of the idle timeout after ``idle_s`` seconds without a record (None: no timeout)."""
    return None if timeout_ms is None else timeout_ms - idle_s * 1000


class ConsoleConsumer:
    """One run of the console consumer: ``lines()`` yields formatted records until a limit is hit,
    ``stop()`` (safe from a signal handler) ends it at the next poll, ``close()`` commits and closes."""

    def __init__(self, settings: clients.ClientSettings, options: ConsumeOptions,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 notice: Callable[[str], None] | None = None) -> None:
        validate(options)
        self.settings = settings
        self.options = options
        self.count = 0
        self.started = clock()
        self.retries = 0
        self._clock = clock
        self._sleep = sleep
        self._notice = notice
        self._backoff_ms = 0
        self._stopping = False
        self._consumer: KafkaConsumer | None = None
        self._pending_commit = False

    def __enter__(self) -> ConsoleConsumer:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        self._stopping = True

    def open(self) -> None:
        opts = self.options
        reset = "earliest" if opts.offset == "earliest" else "latest"
        admin = clients.admin_client(self.settings)
        try:
            topics = self._resolve_topics(admin)
        finally:
            admin.close()
        consumer = clients.consumer(self.settings, group_id=opts.group, enable_auto_commit=False,
                                    auto_offset_reset=reset, allow_auto_create_topics=False,
                                    reconnect_backoff_max_ms=RETRY_BACKOFF_MAX_MS)
        self._consumer = consumer
        try:
            if opts.group is not None:
                if opts.pattern is not None:
                    consumer.subscribe(pattern=rf"(?:{opts.pattern})\Z")
                else:
                    clients.subscribe_group(consumer, list(topics))
                return
            assigned = [TopicPartition(t, p) for t, ps in topics.items() for p in ps]
            consumer.assign(assigned)
            if opts.offset == "earliest":
                consumer.seek_to_beginning(*assigned)
            elif opts.offset == "latest":
                consumer.seek_to_end(*assigned)
            else:
                self._seek_exact(assigned[0], int(opts.offset))
        except kafka_errors.KafkaError as exc:
            raise ToolError(f"cannot start consuming: {explain(exc)}") from None

    def _resolve_topics(self, admin: Any) -> dict[str, list[int]]:
        """topic -> partitions to read (all, or ``--partition``); pattern matching happens here without a group."""
        opts = self.options
        if opts.pattern is not None:
            if opts.group is not None:
                return {}
            regex = re.compile(opts.pattern)
            names = sorted(t for t in admin.list_topics() if regex.fullmatch(t) and not t.startswith("__"))
            if not names:
                raise ToolError(f"no topic matches --pattern {opts.pattern!r}")
            return {name: clients.topic_partitions(admin, name) for name in names}
        out: dict[str, list[int]] = {}
        for topic in opts.topics:
            partitions = clients.topic_partitions(admin, topic)
            if opts.partition is not None:
                if opts.partition not in partitions:
                    raise ToolError(f"topic {topic!r} has no partition {opts.partition}")
                partitions = [opts.partition]
            out[topic] = partitions
        return out

    def _seek_exact(self, tp: TopicPartition, offset: int) -> None:
        assert self._consumer is not None
        start = self._consumer.beginning_offsets([tp])[tp]
        end = self._consumer.end_offsets([tp])[tp]
        if not start <= offset <= end:
            raise ToolError(f"offset {offset} is outside {tp.topic}-{tp.partition}'s log [{start}, {end}]")
        self._consumer.seek(tp, offset)

    def lines(self) -> Iterator[bytes]:
        """Formatted records as bytes, each with its line separator, ending on ``--max-messages``,
        ``--timeout-ms`` of silence, or ``stop()``.

        In a group the silence is counted from the first assignment: joining is not silence."""
        assert self._consumer is not None, "open() first"
        opts = self.options
        last_record = self._clock()
        waiting_for_assignment = opts.group is not None
        while not self._stopping:
            if opts.max_messages is not None and self.count >= opts.max_messages:
                return
            if waiting_for_assignment:
                if self._consumer.assignment() or self._clock() - self.started > ASSIGNMENT_GRACE_S:
                    waiting_for_assignment = False
                last_record = self._clock()
            wait_ms = POLL_MS
            left_ms = left_ms_of(opts.timeout_ms, self._clock() - last_record)
            if left_ms is not None:
                if left_ms <= 0:
                    return
                wait_ms = int(min(wait_ms, max(left_ms, 1)))
            if self._pending_commit and not self._commit():
                self._back_off(left_ms)
                continue
            max_records = None if opts.max_messages is None else opts.max_messages - self.count
            try:
                batch = self._consumer.poll(timeout_ms=wait_ms, max_records=max_records)
            except kafka_errors.KafkaError as exc:
                if not transient(exc):
                    raise ToolError(f"consuming failed: {explain(exc)}") from None
                self._unavailable(exc)
                self._back_off(left_ms)
                continue
            self._recovered()
            if not batch:
                continue
            last_record = self._clock()
            for records in batch.values():
                for record in records:
                    self.count += 1
                    if opts.output_format == "json":
                        yield format_record_json(record).encode() + b"\n"
                    else:
                        yield format_record_text(record, opts.fields)
            self._pending_commit = opts.group is not None
            self._commit()

    def _commit(self) -> bool:
        """Commit what was written; False (the commit stays pending) when the failure is transient."""
        if not self._pending_commit or self._consumer is None:
            return True
        try:
            self._consumer.commit()
        except kafka_errors.KafkaError as exc:
            if not transient(exc):
                raise ToolError(f"cannot commit offsets of group {self.options.group!r}: {explain(exc)}") from None
            self._unavailable(exc)
            return False
        self._pending_commit = False
        self._recovered()
        return True

    def _unavailable(self, exc: BaseException) -> None:
        """Note a transient failure; the first of an outage is reported once."""
        self.retries += 1
        if self._backoff_ms == 0:
            log.warning("broker unavailable (%s); retrying", explain(exc))
            if self._notice is not None:
                self._notice(f"broker unavailable ({explain(exc)}); retrying")
        self._backoff_ms = min(max(self._backoff_ms * 2, RETRY_BACKOFF_MS), RETRY_BACKOFF_MAX_MS)

    def _recovered(self) -> None:
        if self._backoff_ms:
            log.warning("broker available again after %d retries", self.retries)
            self._backoff_ms = 0

    def _back_off(self, left_ms: float | None) -> None:
        """Sleep the current backoff, never past the idle timeout, in slices that notice ``stop()``."""
        wait_ms = float(self._backoff_ms or RETRY_BACKOFF_MS)
        if left_ms is not None:
            wait_ms = min(wait_ms, max(left_ms, 0.0))
        deadline = self._clock() + wait_ms / 1000
        while not self._stopping:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._sleep(min(remaining, POLL_MS / 1000))

    def close(self) -> None:
        if self._consumer is None:
            return
        consumer, self._consumer = self._consumer, None
        try:
            if self._pending_commit:
                consumer.commit()
        except kafka_errors.KafkaError:
            pass  # best effort on the way out: the next run starts from the last successful commit
        finally:
            consumer.close(autocommit=False)

    def summary(self) -> str:
        seconds = self._clock() - self.started
        return f"Processed a total of {self.count} messages in {seconds:.2f} s"
