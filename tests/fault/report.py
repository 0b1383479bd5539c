"""Render the fault suite's figures (JSON written by ``tests/fault/figures.py``) into docs/RELIABILITY.md.

    python -m tests.fault.report docs/reliability-figures.json docs/RELIABILITY.md

Replaces the text between the ``figures:start`` and ``figures:end`` markers with one table per
test; the rest of the page is prose kept by hand.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

START, END = "<!-- figures:start -->", "<!-- figures:end -->"

# Test entry -> (title, the test that measures it, figure keys in display order with their labels).
SECTIONS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("kill9_acks_all", "kill -9 under acks=all", "tests/fault/test_kill9.py", (
        ("rounds", "rounds (a kill -9 each)"), ("records_sent", "records sent"),
        ("records_acknowledged", "records acknowledged"), ("records_read_back", "records read back"),
        ("lost", "acknowledged records lost"), ("duplicated", "records read twice"))),
    ("torn_and_corrupted_tails", "torn and corrupted tails", "tests/fault/test_torn_tail.py", (
        ("rounds", "rounds (kill -9, damage, restart)"), ("damages", "damages"),
        ("bytes_of_damage", "bytes of damage appended"), ("records_acknowledged", "records acknowledged"),
        ("lost", "lost"), ("duplicated", "duplicated"))),
    ("disk_full", "disk full", "tests/fault/test_disk_full.py", (
        ("disk_mb", "data directory size (tmpfs, MB)"), ("records_acknowledged", "records acknowledged"),
        ("refused_with", "writes refused with"), ("resumed_after_freeing", "records acknowledged after space freed"),
        ("lost", "lost"), ("duplicated", "duplicated"))),
    ("hostile_frames", "hostile frames", "tests/fault/test_hostile_frames.py", (
        ("inputs_tried", "inputs tried"), ("answered", "answered with a response"),
        ("closed_without_answer", "connection closed without an answer"),
        ("probe_worst_ms", "slowest well-formed probe meanwhile (ms)"), ("tracebacks", "tracebacks logged"))),
    ("connection_flood", "connection flood", "tests/fault/test_connection_flood.py", (
        ("connections", "stalled connections"), ("claimed_bytes_each", "bytes claimed each"),
        ("rss_before_mb", "broker RSS before (MB)"), ("rss_peak_mb", "broker RSS peak (MB)"),
        ("served_records", "records a normal client produced and fetched meanwhile"),
        ("served_seconds", "in seconds"), ("closed_at_deadline", "stalled connections closed at the deadline"))),
    ("file_handles", "file handles under ulimit -n", "tests/fault/test_file_handles.py", (
        ("open_file_limit", "open-file limit"), ("partitions", "partitions described, produced to, read"),
        ("records", "records"), ("peak_open_fds", "peak descriptors open"),
        ("refused_partitions", "a create of this many partitions refused"),
        ("creates_after", "creates that worked after"))),
    ("kill9_during_compaction", "kill -9 during compaction", "tests/fault/test_compaction_crash.py", (
        ("rounds", "rounds (a kill -9 each, then a restart)"),
        ("kills_while_writing_cleaned", "kills while the cleaner wrote .cleaned files"),
        ("kills_during_a_swap", "kills while a .swap or .deleted file was on disk"),
        ("kills_at_random", "kills at a random moment"),
        ("interrupted_swaps_completed_by_recovery", "interrupted swaps finished by recovery"))),
)


def figure_text(v: Any) -> str:
    """A figure as a table shows it: lists joined, large counts with thousands separators, None as -."""
    if v is None:
        return "-"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    if isinstance(v, int) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def render(figures: dict[str, Any]) -> str:
    out: list[str] = []
    for key, title, test, fields in SECTIONS:
        entry = figures.get(key)
        out.append(f"### {title}\n")
        if entry is None:
            out.append(f"Not measured yet (`{test}`).\n")
            continue
        out.append(f"`{test}`, measured {entry.get('measured_at', '?')} on {entry.get('machine', '?')}, "
                   f"scale {entry.get('scale', 1)}.\n")
        out.append("| figure | value |\n|---|---|")
        out.extend(f"| {label} | {figure_text(entry[name])} |" for name, label in fields if name in entry)
        out.append("")
    return "\n".join(out)


def write_section(figures_path: Path, page_path: Path, markers: tuple[str, str],
                  render_figures: Callable[[dict[str, Any]], str]) -> int:
    """Replace the text between ``markers`` in ``page_path`` with ``render_figures`` of the JSON at
    ``figures_path`` (none yet: an empty dict); 1 when the page lacks the markers."""
    start, end = markers
    figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    page = page_path.read_text()
    if start not in page or end not in page:
        print(f"{page_path} has no {start} ... {end} markers", file=sys.stderr)
        return 1
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    page_path.write_text(f"{head}{start}\n{render_figures(figures)}\n{end}{tail}")
    return 0


def main(argv: list[str]) -> int:
    return write_section(Path(argv[0]), Path(argv[1]), (START, END), render)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
