"""TLS against plaintext on the same broker, in the same run: ingest and fetch through each listener.

A broker with a PLAINTEXT and an SSL listener (certificates made for the run); rounds alternate
between the two so machine load hits both alike, and the report is the ratio TLS/plaintext of
the medians. Raw clients on logbroker's codec (pre-built ~1 MB batches of 1 KB records, 8 produce
requests in flight; fetches of 32 MiB), so the figures show the broker, not a client library.
Fetch over TLS cannot use sendfile: the broker reads each file range in 1 MiB slices and
encrypts them (logbroker/kafka/server.py), which is what this measures.

    python bench/tls.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import MB, Broker, free_port, machine_line, median
from limits import end_offsets, raw_fetch, raw_produce

from tests.tls_material import make_material


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 200 MB instead of 3 of 500 MB")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    rounds, total = (2, 200 * MB) if args.quick else (3, 500 * MB)
    results: dict[str, dict[str, list[float]]] = {p: {"ingest": [], "fetch": []} for p in ("PLAINTEXT", "SSL")}
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="tls-bench-") as tmp:
        material = make_material(Path(tmp) / "certs")
        client = ssl.create_default_context(cafile=str(material.ca.cert_path))
        port, tls_port = free_port(), free_port()
        broker = Broker(Path(tmp) / "data", overrides={
            "listeners": f"PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{tls_port}",
            "ssl.keystore.location": str(material.server.both)}, port=port).start()
        try:
            for r in range(rounds):
                for protocol, via, ctx in (("PLAINTEXT", port, None), ("SSL", tls_port, client)):
                    topic = f"tls-bench-{protocol.lower()}-{r}"
                    produced = raw_produce(broker, topic, total, acks=1, seconds=30, port=via, tls=ctx)
                    end = end_offsets(port, topic, 1)[0]
                    fetched = raw_fetch(broker, topic, end, 32 * 1024 * 1024, port=via, tls=ctx)
                    results[protocol]["ingest"].append(produced["mb_s"])
                    results[protocol]["fetch"].append(fetched["mb_s"])
                    print(f"round {r + 1} {protocol:9} ingest {produced['mb_s']:7.0f} MB/s  "
                          f"fetch {fetched['mb_s']:7.0f} MB/s", flush=True)
        finally:
            broker.stop()
    summary: dict[str, Any] = {}
    for kind in ("ingest", "fetch"):
        plain, tls = median(results["PLAINTEXT"][kind]), median(results["SSL"][kind])
        summary[kind] = {"plaintext_mb_s": plain, "tls_mb_s": tls, "ratio": tls / plain}
        print(f"{kind:6}: plaintext {plain:7.0f} MB/s, TLS {tls:7.0f} MB/s, TLS/plaintext {tls / plain:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": results, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
