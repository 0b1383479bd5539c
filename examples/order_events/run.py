"""The case study end to end: a burst of orders, the email service stopped for a while, then caught up.

    make run                                           # a broker (HTTP API on 127.0.0.1:8082)
    .venv/bin/python examples/order_events/run.py      # then open http://127.0.0.1:8082/#/groups/order-email

Starts the order service (aiohttp, on a free port) and the email, inventory and analytics services,
then sends ``--orders`` orders at ``--rate`` per second from concurrent clients. After
``--outage-after`` seconds the email service stops; ``--outage`` seconds later it starts again and
catches up from its group's committed offsets. Prints the order API's p50/p99 latency (overall and
during the outage), waits until every service has handled every order, and checks each handled
each order exactly once. While it runs, the console's group page shows the email group's lag
rising during the outage and falling after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from order_service import TOPIC, build
from services import Service


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> int:
    broker = args.broker.rstrip("/")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{broker}/topics", json={"name": TOPIC, "partitions": args.partitions}) as resp:
            if resp.status not in (201, 409):
                print(f"cannot create {TOPIC}: {resp.status} {await resp.text()}")
                return 1
        runner = web.AppRunner(build(broker))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        orders_url = f"http://127.0.0.1:{port}/orders"
        print(f"order service on {orders_url}, publishing to {broker}/topics/{TOPIC}")

        services = {name: Service(name, broker, session, work_ms=args.work_ms)
                    for name in ("email", "inventory", "analytics")}
        for s in services.values():
            s.start()
        await asyncio.sleep(1.0)  # let the groups form

        latencies: list[tuple[float, float, bool]] = []  # (sent at, seconds, during the outage)
        order_ids: list[str] = []
        outage = {"on": False}
        started = time.monotonic()

        async def one(i: int) -> None:
            body = {"customer": f"c{i % 37}", "items": [{"sku": f"sku-{i % 11}", "qty": 1 + i % 3}], "total": 10 + i}
            t0 = time.monotonic()
            async with session.post(orders_url, json=body) as resp:
                reply = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"order {i} refused: {resp.status} {reply}")
            latencies.append((t0 - started, time.monotonic() - t0, outage["on"]))
            order_ids.append(reply["order_id"])

        async def burst() -> None:
            pending = []
            for i in range(args.orders):
                pending.append(asyncio.create_task(one(i)))
                await asyncio.sleep(1 / args.rate)
            await asyncio.gather(*pending)

        async def email_outage() -> None:
            await asyncio.sleep(args.outage_after)
            await services["email"].stop()
            outage["on"] = True
            print(f"t={time.monotonic() - started:.1f}s email service stopped")
            await asyncio.sleep(args.outage)
            outage["on"] = False
            services["email"].start()
            print(f"t={time.monotonic() - started:.1f}s email service started again")

        await asyncio.gather(burst(), email_outage())
        sent_s = time.monotonic() - started
        all_ms = [s * 1000 for _, s, _ in latencies]
        during = [s * 1000 for _, s, on in latencies if on]
        print(f"{len(order_ids)} orders in {sent_s:.1f}s; order API latency p50 {percentile(all_ms, 0.5):.1f} ms, "
              f"p99 {percentile(all_ms, 0.99):.1f} ms, max {max(all_ms):.1f} ms")
        if during:
            print(f"during the email outage ({len(during)} orders): p50 {percentile(during, 0.5):.1f} ms, "
                  f"p99 {percentile(during, 0.99):.1f} ms")

        wanted = set(order_ids)
        deadline = time.monotonic() + args.catch_up_timeout
        while time.monotonic() < deadline:
            if all(wanted <= set(s.ledger.applied) for s in services.values()):
                break
            await asyncio.sleep(0.2)
        caught_up = time.monotonic() - started
        for s in services.values():
            await s.stop()
        await runner.cleanup()

        ok = True
        for s in services.values():
            applied = s.ledger.applied
            missing = len(wanted - set(applied))
            twice = sum(1 for o in wanted if applied[o] > 1)
            print(f"{s.name:>9}: handled {len(wanted & set(applied))}/{len(wanted)} orders, applied twice {twice}, "
                  f"missing {missing}, redeliveries recognised and skipped {s.ledger.skipped_redeliveries}")
            ok = ok and missing == 0 and twice == 0
        p99 = percentile(all_ms, 0.99)
        print(f"every service caught up {caught_up - sent_s:.1f}s after the last order "
              f"(mean {statistics.mean(all_ms):.1f} ms per order)")
        if p99 >= args.p99_goal_ms:
            print(f"order API p99 {p99:.1f} ms missed the {args.p99_goal_ms:.0f} ms goal")
        if args.cleanup:
            for name in services:
                await session.delete(f"{broker}/groups/order-{name}")
            await session.delete(f"{broker}/topics/{TOPIC}")
        if not ok:
            print("FAILED: some order was not handled exactly once by every service")
            return 1
        print(f"done: {len(wanted)} orders, each handled exactly once by email, inventory and analytics; "
              f"p99 {p99:.1f} ms")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="orders, three consumer groups, an email outage")
    parser.add_argument("--broker", default="http://127.0.0.1:8082", help="the broker's HTTP API")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--rate", type=float, default=40.0, help="orders per second")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--outage-after", type=float, default=1.0, help="seconds into the burst")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the email service is stopped")
    parser.add_argument("--work-ms", type=float, default=2.0, help="time each service spends per order")
    parser.add_argument("--catch-up-timeout", type=float, default=60.0)
    parser.add_argument("--p99-goal-ms", type=float, default=200.0)
    parser.add_argument("--cleanup", action="store_true", help="delete the topic and the groups at the end")
    sys.exit(asyncio.run(main(parser.parse_args())))
