"""Close the confluent-kafka consumers a test left open, while its brokers still run.

A librdkafka consumer destroyed after its group coordinator is gone can spin for ever in its group
termination (``rd_kafka_cgrp_try_terminate``), and confluent-kafka destroys it while holding the GIL:
when the garbage collector reaches a consumer a failed test left behind (its traceback keeps it alive
past the test), the whole pytest process stops, and with it pytest-timeout. So ``confluent_kafka.Consumer``
is replaced, for the test process only, by a subclass that remembers its open instances, and each test's
call phase ends by closing the ones it opened (``tests/conftest.py``), before any fixture stops a broker.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import confluent_kafka

log = logging.getLogger(__name__)

_open: weakref.WeakSet[Any] = weakref.WeakSet()
_Base: Any = confluent_kafka.Consumer


class ClosedAtTestEnd(_Base):  # type: ignore[misc]
    """A confluent consumer that ``close_left_open`` closes if its test did not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _open.add(self)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        _open.discard(self)
        return super().close(*args, **kwargs)


def install() -> None:
    confluent_kafka.Consumer = ClosedAtTestEnd  # type: ignore[misc]


def opened() -> set[int]:
    """The ids of the consumers open now (to tell apart those a test opens)."""
    return {id(c) for c in _open}


def close_left_open(before: set[int]) -> int:
    """Close every consumer still open that was not open in ``before``; returns how many."""
    left = [c for c in list(_open) if id(c) not in before]
    for consumer in left:
        try:
            consumer.close()
        except Exception as exc:  # an already broken client: it is being dropped anyway
            log.warning("closing a consumer a test left open failed: %s", exc)
    return len(left)
