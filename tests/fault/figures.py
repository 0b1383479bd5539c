"""Figures the fault tests measure, merged into one JSON file that ``docs/RELIABILITY.md`` is built from.

Each test records one entry under its own name: what it did (rounds, inputs, connections), what it
found (records acknowledged, lost, duplicated; peak memory) and when. The file is
``$LOGBROKER_FAULT_FIGURES`` (``make fault`` points it at ``docs/reliability-figures.json``), else
``build/fault-figures.json``, so an ordinary test run never edits the documentation.

``LOGBROKER_FAULT_SCALE`` (default 1) multiplies the rounds and inputs of the bounded runs;
``make fault`` raises it for the longer runs.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from tests.locks import exclusive

ROOT = Path(__file__).resolve().parents[2]
FIGURES_ENV = "LOGBROKER_FAULT_FIGURES"
SCALE_ENV = "LOGBROKER_FAULT_SCALE"


def scale() -> int:
    """How many times longer than the default bounded run (an integer >= 1)."""
    try:
        return max(1, int(os.environ.get(SCALE_ENV, "1")))
    except ValueError:
        return 1


def figures_path() -> Path:
    configured = os.environ.get(FIGURES_ENV)
    return Path(configured) if configured else ROOT / "build" / "fault-figures.json"


def record(name: str, **values: Any) -> None:
    """Store the figures of one test (replacing its previous entry), atomically."""
    path = figures_path()
    values["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    values["scale"] = scale()
    values["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    with exclusive(path.with_name(path.name + ".lock")):  # tests in parallel processes record at once
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        data[name] = values
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
