"""The cluster figures' renderer: a row per fault, figures in place, the rest of the page kept."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cluster.fault.report import END, START, main, render


def test_render_puts_each_faults_figures_in_its_row() -> None:
    text = render({"cluster_kill_leader": {"faults": 4, "records_acknowledged": 12345, "acks_without_offset": 1,
                                           "lost": 0, "duplicated": 0,
                                           "unavailable_p50_ms": 3900, "unavailable_p99_ms": 4100,
                                           "measured_at": "T1", "machine": "M", "scale": 2, "rounds": 4}})
    row = next(line for line in text.splitlines() if line.startswith("| `kill -9` of a partition leader"))
    assert row.split(" | ")[1:6] == ["4", "12,345", "1", "0", "0"]
    assert row.endswith("| 3900 | 4100 |")
    assert "measured T1 to T1 on M, scale 2 (4 rounds per fault)" in text
    assert "| network: the leader's link cut, healed | not run |" in text.replace(" | not run" * 9, "")
    assert render({}).startswith("Not measured yet")


def test_main_replaces_only_the_marked_section(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"before\n{START}\nold\n{END}\nafter\n")
    figures = tmp_path / "f.json"
    figures.write_text(json.dumps({"cluster_kill_follower": {"faults": 2, "lost": 0}}))
    assert main([str(figures), str(page)]) == 0
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| `kill -9` of a follower, restarted after its session expired | 2 | - | - | 0 |" in text
    (tmp_path / "bare.md").write_text("no markers")
    assert main([str(figures), str(tmp_path / "bare.md")]) == 1
