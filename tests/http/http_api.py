"""A small client for the broker's HTTP API (urllib, JSON or msgpack) and a broker starter for the HTTP tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import msgpack

from tests.conftest import BrokerProcess, wait_for_port


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes

    @property
    def error_code(self) -> str | None:
        return self.body.get("error_code") if isinstance(self.body, dict) else None


class Api:
    """Calls the broker's HTTP API; never raises for an HTTP status."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None, *, use_msgpack: bool = False,
             raw: bytes | None = None, content_type: str | None = None, accept: str | None = None,
             timeout: float = 30, headers: dict[str, str] | None = None) -> Reply:
        data = raw
        headers = dict(headers or {})
        if body is not None:
            data = msgpack.packb(body, use_bin_type=True) if use_msgpack else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type or ("application/msgpack" if use_msgpack else "application/json")
        if accept or use_msgpack:
            headers["Accept"] = accept or "application/msgpack"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, rheaders, payload = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, rheaders, payload = exc.code, dict(exc.headers), exc.read()
        ctype = rheaders.get("Content-Type", "")
        decoded: Any = payload
        if payload and ctype.startswith("application/msgpack"):
            decoded = msgpack.unpackb(payload, raw=False)
        elif payload and ctype.startswith("application/json"):
            decoded = json.loads(payload)
        return Reply(status, rheaders, decoded, payload)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)

    def create_topic(self, name: str, partitions: int = 1, configs: dict[str, str] | None = None) -> None:
        reply = self.post("/topics", {"name": name, "partitions": partitions, "configs": configs or {}})
        assert reply.status == 201, reply.body


def start_http_broker(tmp: Any, **overrides: str) -> BrokerProcess:
    b = BrokerProcess(data_dir=tmp / "data", log_path=tmp / "broker.log", overrides=overrides)
    b.start()
    assert b.proc is not None
    wait_for_port(b.http_port, b.proc)  # the HTTP listener starts just after the Kafka one
    return b


def assert_error(reply: Reply, status: int, code: str | None = None) -> None:
    """An error answer: the status, the JSON (or msgpack) error body, no traceback."""
    assert reply.status == status, (reply.status, reply.body)
    assert isinstance(reply.body, dict) and set(reply.body) == {"error_code", "message"}, reply.raw[:300]
    if code is not None:
        assert reply.body["error_code"] == code, reply.body
    assert "Traceback" not in reply.body["message"]
