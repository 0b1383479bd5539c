"""A transactional producer is told the broker does not support it, in each client's own words,
and an idempotent producer beside it keeps working (logbroker/kafka/handlers/producer.py)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnsupportedForMessageFormatError as AioUnsupported
from confluent_kafka import KafkaException, Producer
from kafka import KafkaProducer
from kafka.errors import KafkaError

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerProcess
from tests.interop.rawclient import RawClient

pytestmark = [pytest.mark.interop,
              pytest.mark.logbroker_only("Apache Kafka serves transactions; these check how logbroker, which "
                                         "does not, refuses them")]
TXN_APIS = {ApiKey.ADD_PARTITIONS_TO_TXN, ApiKey.ADD_OFFSETS_TO_TXN, ApiKey.END_TXN, ApiKey.TXN_OFFSET_COMMIT,
            ApiKey.WRITE_TXN_MARKERS}


def test_transaction_apis_are_not_advertised(broker: BrokerProcess) -> None:
    with RawClient(broker.port) as c:
        body = c.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "raw", "client_software_version": "1"})
        assert not TXN_APIS & {k["api_key"] for k in body["api_keys"]}
        answer = c.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": "t", "transaction_timeout_ms": 60000,
                                                    "producer_id": -1, "producer_epoch": -1})
        assert answer["error_code"] == ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT
        idempotent = c.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": None, "transaction_timeout_ms": 60000,
                                                        "producer_id": -1, "producer_epoch": -1})
        assert idempotent["error_code"] == 0 and idempotent["producer_id"] >= 0


def test_kafka_python_reports_unsupported(broker: BrokerProcess) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id="kp-txn")
    try:
        with pytest.raises(KafkaError, match="UnsupportedForMessageFormat"):
            producer.init_transactions()
    finally:
        producer.close(timeout=5)


def test_aiokafka_reports_unsupported(broker: BrokerProcess) -> None:
    async def start() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id="aio-txn")
        try:
            await producer.start()
        finally:
            await producer.stop()

    with pytest.raises(AioUnsupported):
        asyncio.run(start())


def test_librdkafka_reports_unsupported(broker: BrokerProcess) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "rd-txn", "log_level": 0})
    with pytest.raises(KafkaException) as info:
        producer.init_transactions(3)
    error = info.value.args[0]
    assert error.code() == ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT
    assert "does not support" in error.str()
