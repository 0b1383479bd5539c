"""How fast the console renders large things, in Debian's chromium; and the docs' screenshots.

    .venv/bin/python bench/console.py                     # render timings -> stdout (figures in bench/README.md)
    .venv/bin/python bench/console.py --screenshots docs/console   # the case study run, then PNGs of each page

Render timing: a broker on free loopback ports, a topic with 1,000 partitions (and one with 10,000
with ``--huge``), a group with ``--members`` HTTP members; chromium (headless, Playwright) opens each
page ``--rounds`` times and the time from navigation to the table's rows being in the DOM is taken
(median and max). Bounded: a few hundred page loads at most, the broker stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Broker, machine_line

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=120) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def wait_http(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            call(base, "GET", "/health")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def time_page(page: Any, url: str, selector: str, rows: int, rounds: int) -> list[float]:
    """Milliseconds from the start of navigation (the page's own clock, ``performance.now()``) to the
    rows being in the DOM, seen by a MutationObserver installed before the page's scripts run."""
    page.add_init_script(f"""
        window.__rowsAt = new Promise((resolve) => {{
          const check = () => {{
            if (document.querySelectorAll({json.dumps(selector)}).length >= {rows}) {{
              resolve(performance.now()); return true; }}
            return false;
          }};
          new MutationObserver((_, obs) => {{ if (check()) obs.disconnect(); }})
            .observe(document, {{ childList: true, subtree: true }});
        }});""")
    out = []
    for _ in range(rounds):
        page.goto("about:blank")
        page.goto(url)
        out.append(float(page.evaluate("window.__rowsAt")))
    return out


def render_bench(args: argparse.Namespace, base: str) -> None:
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    call(base, "POST", "/topics", {"name": "wide-1000", "partitions": 1000})
    print(f"created a 1,000-partition topic in {time.perf_counter() - t0:.1f} s")
    call(base, "POST", "/topics/wide-1000/records",
         {"records": [{"value": f"v{i}", "partition": i % 1000} for i in range(5000)]})
    pages = [("topic page, 1,000 partitions (first 100 rows)", "#/topics/wide-1000", "#partitions tbody tr", 100),
             ("topics list", "#/topics", "#topics tbody tr", 1),
             ("overview", "#/", "#latency tbody tr", 1)]
    if args.huge:
        t0 = time.perf_counter()
        call(base, "POST", "/topics", {"name": "wide-10000", "partitions": 10000})
        print(f"created a 10,000-partition topic in {time.perf_counter() - t0:.1f} s")
        pages.append(("topic page, 10,000 partitions (first 100 rows)", "#/topics/wide-10000",
                      "#partitions tbody tr", 100))
    if args.members:
        t0 = time.perf_counter()
        for _ in range(args.members):
            call(base, "POST", "/groups/crowd/members", {"topics": ["wide-1000"], "session_timeout_ms": 600000})
        print(f"joined {args.members} HTTP members in {time.perf_counter() - t0:.1f} s")
        pages.append((f"group page, {args.members} members (first 50 rows)", "#/groups/crowd", "#members tbody tr", 50))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        time_page(page, f"{base}/#/", "#latency tbody tr", 1, 2)  # warm the browser and the broker
        print(f"\n{machine_line()}\nrounds per page: {args.rounds}\n")
        print("| page | median ms | max ms |\n|---|---:|---:|")
        page.close()
        for label, fragment, selector, rows in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            times = time_page(page, f"{base}/{fragment}", selector, rows, args.rounds)
            page.close()
            print(f"| {label} | {statistics.median(times):.0f} | {max(times):.0f} |")
        browser.close()


def screenshots(args: argparse.Namespace, base: str) -> None:
    """Run the case study with a long email outage and capture the console while and after it runs."""
    from playwright.sync_api import sync_playwright

    out = Path(args.screenshots)
    out.mkdir(parents=True, exist_ok=True)
    run = subprocess.Popen([sys.executable, str(ROOT / "examples" / "order_events" / "run.py"), "--broker", base,
                            "--orders", "1600", "--rate", "40", "--outage-after", "8", "--outage", "16"],
                           stdout=subprocess.PIPE, text=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        time.sleep(20)  # mid-outage: the email group is lagging
        page.goto(f"{base}/#/groups")
        page.wait_for_selector("#groups tbody tr")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "groups.png"))
        stdout, _ = run.communicate(timeout=180)
        print(stdout)
        time.sleep(6)  # a few lag samples after the catch-up
        shots = [("overview.png", "#/", "#latency tbody tr"), ("topics.png", "#/topics", "#topics tbody tr"),
                 ("topic.png", "#/topics/order-events", "#partitions tbody tr"),
                 ("messages.png", "#/browse/order-events?partition=0&from=end", "#record-table tbody tr"),
                 ("group-email-lag.png", "#/groups/order-email", "#offsets tbody tr")]
        for name, fragment, selector in shots:
            page.goto(f"{base}/{fragment}")
            page.wait_for_selector(selector)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / name))
        phone = browser.new_page(viewport={"width": 390, "height": 800}, is_mobile=True)
        phone.goto(f"{base}/#/groups/order-email")
        phone.wait_for_selector("#offsets tbody tr")
        phone.wait_for_timeout(1500)
        phone.screenshot(path=str(out / "phone-group.png"))
        browser.close()
    for f in sorted(out.glob("*.png")):
        print(f"{f} {f.stat().st_size // 1024} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--members", type=int, default=1000, help="HTTP members of one group (0: none)")
    parser.add_argument("--huge", action="store_true", help="also a 10,000-partition topic")
    parser.add_argument("--screenshots", metavar="DIR", help="run the order case study and write PNGs to DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "data").start()
        try:
            base = f"http://127.0.0.1:{broker.http_port}"
            wait_http(base)
            if args.screenshots:
                screenshots(args, base)
            else:
                render_bench(args, base)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
