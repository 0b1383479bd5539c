"""The broker under test of the interop suite: logbroker, or Apache Kafka with ``--broker=kafka``.

Every fixture here hands tests a ``BrokerHandle`` (bootstrap address, port, start/stop/restart,
log text) whichever broker runs, so a test asserts one observable outcome for both. Overrides are
broker properties by Kafka's names and go to both brokers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BrokerFactory, BrokerHandle, launch_broker


def _factory(kind: str, base: Path, started: list[BrokerHandle]) -> BrokerFactory:
    def make(log_level: str | None = None, **overrides: str) -> BrokerHandle:
        n = len(started)
        props = {k.replace("_", "."): v for k, v in overrides.items()}
        b = launch_broker(kind, base / f"data{n}", base / f"broker{n}.log", props, log_level=log_level)
        started.append(b)
        return b

    return make


def _stop_all(started: list[BrokerHandle]) -> None:
    for b in started:
        if getattr(b, "proc", None) is not None:
            b.stop()


@pytest.fixture
def broker_factory(tmp_path: Path, broker_kind: str) -> Iterator[BrokerFactory]:
    """Start brokers of the kind under test, each with its own data directory; stops them after."""
    started: list[BrokerHandle] = []
    yield _factory(broker_kind, tmp_path, started)
    _stop_all(started)


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> BrokerHandle:
    """A fresh broker of the kind under test."""
    return broker_factory()


@pytest.fixture(scope="module")
def module_broker_factory(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[BrokerFactory]:
    """Like ``broker_factory``, for brokers a whole module shares."""
    started: list[BrokerHandle] = []
    yield _factory(broker_kind, tmp_path_factory.mktemp("shared"), started)
    _stop_all(started)
