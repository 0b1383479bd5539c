"""TLS against plaintext on the same broker, in the same run: ingest and fetch through each listener.

A broker with a PLAINTEXT and an SSL listener (certificates made for the run); rounds alternate
between the two so machine load hits both alike, and the report is the ratio TLS/plaintext of
the medians, with the broker's CPU seconds per GB moved (user + system, all its threads: less
sensitive to the machine's load than MB/s). Raw clients on logbroker's codec (pre-built ~1 MB
batches of 1 KB records, 8 produce requests in flight; fetches of 32 MiB), so the figures show the
broker, not a client library.
Fetch over TLS cannot use sendfile: the broker reads each file range in 1 MiB slices and
encrypts them (logbroker/kafka/server.py), which is what this measures. The clients are Python's
``ssl`` on the same cores: a TLS fetch is bounded by their decryption as much as by the broker.

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
    kinds = ("ingest", "fetch", "ingest_cpu_s_per_gb", "fetch_cpu_s_per_gb")
    results: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds} for p in ("PLAINTEXT", "SSL")}
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
                    ingest_cpu = produced["cpu"].per_gb(produced["bytes"])
                    fetch_cpu = fetched["cpu"].per_gb(fetched["bytes"])
                    results[protocol]["ingest_cpu_s_per_gb"].append(ingest_cpu)
                    results[protocol]["fetch_cpu_s_per_gb"].append(fetch_cpu)
                    print(f"round {r + 1} {protocol:9} ingest {produced['mb_s']:7.0f} MB/s ({ingest_cpu:.2f} broker "
                          f"CPU s/GB)  fetch {fetched['mb_s']:7.0f} MB/s ({fetch_cpu:.2f} CPU s/GB)  "
                          f"load {fetched['cpu'].load1:.1f}", flush=True)
        finally:
            broker.stop()
    summary: dict[str, Any] = {}
    for kind in ("ingest", "fetch"):
        plain, tls = median(results["PLAINTEXT"][kind]), median(results["SSL"][kind])
        cpu_plain = median(results["PLAINTEXT"][f"{kind}_cpu_s_per_gb"])
        cpu_tls = median(results["SSL"][f"{kind}_cpu_s_per_gb"])
        summary[kind] = {"plaintext_mb_s": plain, "tls_mb_s": tls, "ratio": tls / plain,
                         "plaintext_cpu_s_per_gb": cpu_plain, "tls_cpu_s_per_gb": cpu_tls}
        print(f"{kind:6}: plaintext {plain:7.0f} MB/s, TLS {tls:7.0f} MB/s, TLS/plaintext {tls / plain:.2f}; "
              f"broker CPU s/GB plaintext {cpu_plain:.2f}, TLS {cpu_tls:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": results, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
