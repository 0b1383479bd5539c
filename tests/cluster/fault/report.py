"""Render the cluster fault runs' figures (``tests/cluster/fault/test_faults.py``, recorded with
``tests/fault/figures.py``) into docs/RELIABILITY.md's cluster section.

    python -m tests.cluster.fault.report docs/cluster-fault-figures.json docs/RELIABILITY.md

Replaces the text between the ``cluster-figures:start`` and ``cluster-figures:end`` markers with
one table, a row per fault; the rest of the page is prose kept by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.fault.report import figure_text, write_section

START, END = "<!-- cluster-figures:start -->", "<!-- cluster-figures:end -->"

# Figure key (cluster_<fault>) -> what was done, in the order of the table.
FAULTS: tuple[tuple[str, str], ...] = (
    ("kill_leader", "`kill -9` of a partition leader, restarted"),
    ("kill_controller", "`kill -9` of the controller, restarted"),
    ("kill_follower", "`kill -9` of a follower, restarted after its session expired"),
    ("rolling_restart", "rolling restart (SIGTERM, start, full ISR; per broker)"),
    ("session_expiry", "ZooKeeper session expiry: leader paused (SIGSTOP) past the timeout"),
    ("partition_leader", "network: the leader's link cut, healed"),
    ("partition_follower", "network: a follower's link cut, healed"),
    ("leader_cut_from_followers", "network: leader cut from its followers only (still reaches ZooKeeper)"),
    ("flapping_leader_link", "network: the leader's link flapping (0.5 s down, 1 s up, 6 s)"),
)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("faults", "faults"), ("records_acknowledged", "acked"), ("acks_without_offset", "acked w/o offset"),
    ("lost", "lost"), ("duplicated", "dup."),
    ("reordered", "reord."), ("unstable_reads", "unstable reads"), ("offsets_backward", "offsets back"),
    ("unavailable_p50_ms", "unavail. p50 ms"), ("unavailable_p99_ms", "p99 ms"),
)


def render(figures: dict[str, Any]) -> str:
    rows = [(label, figures.get(f"cluster_{name}")) for name, label in FAULTS]
    measured = [e for _, e in rows if e is not None]
    if not measured:
        return "Not measured yet (`make fault-cluster`).\n"
    first = min(e.get("measured_at", "?") for e in measured)
    last = max(e.get("measured_at", "?") for e in measured)
    loads = [e["load_average"] for e in measured if "load_average" in e]
    load = f", load average {min(loads)} to {max(loads)}" if loads else ""
    out = [f"`tests/cluster/fault/test_faults.py`, measured {first} to {last} on "
           f"{measured[0].get('machine', '?')}{load}, scale {measured[0].get('scale', 1)} "
           f"({measured[0].get('rounds', '?')} rounds per fault).\n",
           "| fault | " + " | ".join(label for _, label in COLUMNS) + " |",
           "|---|" + "---|" * len(COLUMNS)]
    for label, entry in rows:
        cells = [figure_text(entry.get(key)) if entry else "not run" for key, _ in COLUMNS]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    return write_section(Path(argv[0]), Path(argv[1]), (START, END), render)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
