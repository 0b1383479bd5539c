"""Fixtures of the HTTP API tests: one real `logbroker serve` per test module and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, start_http_broker


@pytest.fixture(scope="module")
def http_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("http"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def api(http_broker: BrokerProcess) -> Api:
    return Api(http_broker.http_port)
