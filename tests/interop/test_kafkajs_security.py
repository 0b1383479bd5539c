"""kafkajs over SASL_SSL + SCRAM-SHA-512, SASL_PLAINTEXT + PLAIN and mutual TLS, against the broker
under test (logbroker, or Apache Kafka with ``--broker=kafka``, set up the same way by
``security_setup.py``): each produces and consumes one record; a wrong password is refused with
kafkajs's SASL authentication error on both (``js/kafkajs_security.js``)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.kafka_java import checks
from tests.interop.security_setup import PASSWORDS, Secured, start_secured, wait_for_scram
from tests.interop.test_kafkajs import kafkajs  # noqa: F401 - the fixture

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).parent / "js" / "kafkajs_security.js"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Secured]:
    s = start_secured(broker_kind, tmp_path_factory.mktemp("secured-kafkajs"))
    try:
        wait_for_scram(s, "alice", PASSWORDS["alice"])
        yield s
    finally:
        s.broker.stop()


def _settings(s: Secured, scenario: str, password: str) -> dict[str, Any]:
    ca = str(s.material.ca.cert_path)
    if scenario == "SASL_SSL+SCRAM-SHA-512":
        return {"bootstrap": s.bootstrap("SASL_SSL"), "ca": ca,
                "sasl": {"mechanism": "scram-sha-512", "username": "alice", "password": password}}
    if scenario == "SASL_PLAINTEXT+PLAIN":
        return {"bootstrap": s.bootstrap("SASL_PLAINTEXT"),
                "sasl": {"mechanism": "plain", "username": "alice", "password": password}}
    return {"bootstrap": s.bootstrap("SSL"), "ca": ca, "cert": str(s.material.alice.cert),
            "key": str(s.material.alice.key)}


def _run(kafkajs: tuple[str, Path], settings: dict[str, Any]) -> dict[str, dict[str, Any]]:  # noqa: F811
    node, modules = kafkajs
    proc = subprocess.run([node, str(SCRIPT), json.dumps(settings)], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "NODE_PATH": str(modules)}, check=False)
    out = checks(proc.stdout)
    assert "done" in out, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out


@pytest.mark.parametrize("scenario", ["SASL_SSL+SCRAM-SHA-512", "SASL_PLAINTEXT+PLAIN", "SSL+mutual-TLS"])
def test_kafkajs_produces_and_consumes(secured: Secured, kafkajs: tuple[str, Path],  # noqa: F811
                                       scenario: str) -> None:
    topic = f"kjs-sec-{uuid.uuid4().hex[:8]}"
    out = _run(kafkajs, {**_settings(secured, scenario, PASSWORDS["alice"]), "topic": topic})
    assert "failed" not in out, out["failed"]
    assert out["connect"]["ok"] and out["produce"]["ok"], out
    assert out["consume"]["value"] == "over-kafkajs"


@pytest.mark.parametrize("scenario", ["SASL_SSL+SCRAM-SHA-512", "SASL_PLAINTEXT+PLAIN"])
def test_kafkajs_with_a_wrong_password_is_refused(secured: Secured, kafkajs: tuple[str, Path],  # noqa: F811
                                                  scenario: str) -> None:
    out = _run(kafkajs, {**_settings(secured, scenario, "not-alices-password"), "topic": "never-made"})
    connect = out["connect"]
    assert connect["ok"] is False
    assert connect["error"] == "KafkaJSSASLAuthenticationError", connect
    # Kafka's own words, passed on by kafkajs: PLAIN and SCRAM word a refusal differently.
    expected = ("invalid credentials with SASL mechanism SCRAM-SHA-512" if "SCRAM" in scenario
                else "SASL PLAIN authentication failed: Authentication failed: Invalid username or password")
    assert expected in connect["message"], connect
