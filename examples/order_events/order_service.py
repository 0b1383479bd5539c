"""The order service: an aiohttp app that takes orders and publishes ``order.created`` to the log.

    POST /orders {"customer": str, "items": [{"sku": str, "qty": int}], "total": number}
      -> 201 {"order_id": str, "partition": int, "offset": int}

The order is accepted once the event is in the log (the broker's HTTP API, ``acks=all``: durable as
the topic's flush policy promises). Nothing else happens on the request path: email, inventory and
analytics read the event in their own time, so a slow or stopped consumer cannot slow orders down.
The order id is the record key, so every event of one order lands on one partition, in order.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp
from aiohttp import web

TOPIC = "order-events"
BROKER: web.AppKey[str] = web.AppKey("broker", str)
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


async def create_order(request: web.Request) -> web.Response:
    body: Any = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("customer"), str):
        raise web.HTTPBadRequest(text="an order needs a customer")
    order_id = str(uuid.uuid4())
    event = {"type": "order.created", "order_id": order_id, "customer": body["customer"],
             "items": body.get("items", []), "total": body.get("total", 0), "created_ms": int(time.time() * 1000)}
    record = {"key": order_id, "value": event,
              "headers": [{"key": "type", "value": "order.created"}, {"key": "source", "value": "order-service"}]}
    url = f"{request.app[BROKER]}/topics/{TOPIC}/records"
    async with request.app[SESSION].post(url, json={"value_format": "json", "records": [record]}) as resp:
        if resp.status != 200:
            raise web.HTTPServiceUnavailable(text=f"the log refused the event: {await resp.text()}")
        placed = (await resp.json())["records"][0]
    return web.json_response({"order_id": order_id, **placed}, status=201)


def build(broker: str) -> web.Application:
    app = web.Application()
    app[BROKER] = broker.rstrip("/")

    async def session(app: web.Application) -> Any:
        app[SESSION] = aiohttp.ClientSession(json_serialize=json.dumps)
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/orders", create_order)
    return app


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="http://127.0.0.1:8082", help="the broker's HTTP API")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    web.run_app(build(args.broker), host="127.0.0.1", port=args.port)
