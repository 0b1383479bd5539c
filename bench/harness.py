"""The benchmark harness every script in ``bench/`` uses: the broker process, meters and statistics.

- ``Broker``: a ``logbroker serve`` subprocess on 127.0.0.1 with free ports and its own data dir,
  stopped by the pid it started (SIGTERM, then SIGKILL after a grace period);
- ``CpuMeter``: CPU seconds of one process (all its threads) over a window, plus how busy the whole
  machine was meanwhile (so a noisy neighbour shows up next to the figure it may have spoiled);
- statistics: ``median``, ``percentile``, ``spread``;
- ``free_port``, ``port_open``, ``wait_listening``, ``stop_process`` (servers the benchmarks start),
  ``loadavg``, ``machine_line``, ``settle_disk`` (before a timed run that writes).

Nothing here imports confluent-kafka, so spawned worker processes stay light.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float, what: str) -> None:
    """Until the server ``proc`` started accepts on ``port``; RuntimeError if it exits first or
    ``timeout`` seconds pass (the caller stops it)."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM to the process the caller started, SIGKILL if it outlives ``timeout``; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return int(proc.returncode)


def settle_disk() -> None:
    """Write back every dirty page of the machine before a timed run that writes.

    Linux throttles writers once the dirty page cache passes its limits (``vm.dirty_ratio``: about
    4.8 GB on this machine), and a run of several seconds leaves gigabytes dirty: without this, each
    run would pay part of the previous one's writeback, so a figure would depend on what ran before it.
    """
    os.sync()


def settle_fsync(directory: Path, calm_s: float = 5.0, slow_ms: float = 30.0,
                 limit_s: float = 60.0) -> tuple[float, float, bool]:
    """Wait until fsyncs of 4 KiB appends in ``directory`` have run ``calm_s`` seconds without one
    slower than ``slow_ms``, or ``limit_s`` has passed (checked between fsyncs); return the seconds
    waited, the slowest fsync seen (ms) and whether they calmed down.

    For runs whose figure includes fsyncs (the latency run at a fixed rate). Some machines' fsyncs
    stall long after files were deleted, not written: on this project's build VM (ext4 mounted with
    ``discard``) fsyncs of 10,000-byte appends took up to 0.23 s every 2-2.5 s for 10-15 s after 3 GB
    of files were deleted, and none passed 20 ms in 12 s without the deletion. A latency run started then
    measures the earlier runs' deletions, not the broker; a broker that never fsyncs does not see them.
    """
    probe = directory / ".settle-fsync"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"\0" * 4096
    start = calm_since = time.monotonic()
    slowest = 0.0
    try:
        while True:
            now = time.monotonic()
            if now - calm_since >= calm_s:
                return now - start, slowest, True
            if now - start >= limit_s:
                return now - start, slowest, False
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fsync(fd)
            took_ms = (time.perf_counter() - t0) * 1000
            slowest = max(slowest, took_ms)
            if took_ms > slow_ms:
                calm_since = time.monotonic()
            time.sleep(0.002)
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


def wait_until_gone(data_dirs: Sequence[Path | str], topic: str, timeout_s: float) -> None:
    """Until no data directory holds a partition directory of ``topic`` (a deleted topic's files are
    removed in the background), at most ``timeout_s``; says so if they outlast it."""
    deadline = time.monotonic() + timeout_s
    while any(any(Path(d).glob(f"{topic}-*")) for d in data_dirs):
        if time.monotonic() > deadline:
            print(f"  ({topic}'s files were still there {timeout_s:.0f} s after its deletion)")
            return
        time.sleep(0.2)


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def machine_line() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def busy_processes(interval: float = 0.5, top: int = 4,
                   exclude: set[int] | None = None) -> list[tuple[str, int, float]]:
    """The processes using the most CPU over ``interval`` (name/cmdline, pid, % of one core): noise report."""
    skip = {os.getpid()} | (exclude or set())
    procs = []
    for p in psutil.process_iter(["pid"]):
        if p.pid in skip:
            continue
        try:
            p.cpu_percent(None)
            procs.append(p)
        except psutil.Error:
            pass
    time.sleep(interval)
    out = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
            if pct >= 5:
                cmd = " ".join(p.cmdline()[:4])[:70] or p.name()
                out.append((cmd, p.pid, pct))
        except psutil.Error:
            pass
    return sorted(out, key=lambda x: -x[2])[:top]


# ------------------------------------------------------------------------------------- statistics
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how far repeated runs of one figure disagree."""
    if len(values) < 2:
        return 0.0
    m = median(values)
    return (max(values) - min(values)) / m if m else 0.0


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of already sorted values, by linear interpolation."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo))


# ------------------------------------------------------------------------------------------- CPU
@dataclass
class CpuSample:
    cpu_s: float  # CPU seconds (user + system) of the measured process over the window
    wall_s: float
    machine_busy: float  # fraction of all cores busy over the window (all processes, ours included)
    load1: float  # 1-minute load average at the end of the window

    @property
    def core_pct(self) -> float:
        """% of one core used by the measured process."""
        return 100 * self.cpu_s / self.wall_s if self.wall_s else 0.0

    def per_gb(self, nbytes: int) -> float:
        """CPU seconds per GB (1e9 bytes) moved."""
        return self.cpu_s / (nbytes / 1e9) if nbytes else float("nan")


class CpuMeter:
    """``with CpuMeter(pid) as m: ...`` then ``m.sample``; or ``start()`` / ``stop()``."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.sample: CpuSample | None = None
        self._t0 = 0.0
        self._c0 = 0.0
        self._m0: Any = None

    def _proc_cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def start(self) -> CpuMeter:
        self._m0 = psutil.cpu_times()
        self._c0 = self._proc_cpu()
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> CpuSample:
        wall = time.perf_counter() - self._t0
        cpu = self._proc_cpu() - self._c0
        m1 = psutil.cpu_times()
        assert self._m0 is not None
        busy0 = sum(self._m0) - self._m0.idle - getattr(self._m0, "iowait", 0.0)
        busy1 = sum(m1) - m1.idle - getattr(m1, "iowait", 0.0)
        total = sum(m1) - sum(self._m0)
        self.sample = CpuSample(cpu, wall, (busy1 - busy0) / total if total > 0 else 0.0, os.getloadavg()[0])
        return self.sample

    def __enter__(self) -> CpuMeter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------- broker
class CpuMeters:
    """``CpuMeter`` summed over several processes (the brokers of a cluster): one CpuSample whose
    ``cpu_s`` is the sum over ``pids``."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.meters = [CpuMeter(pid) for pid in pids]

    def start(self) -> CpuMeters:
        for m in self.meters:
            m.start()
        return self

    def stop(self) -> CpuSample:
        samples = [m.stop() for m in self.meters]
        first = samples[0]
        return CpuSample(sum(s.cpu_s for s in samples), first.wall_s, first.machine_busy, first.load1)


@dataclass
class Broker:
    """A ``logbroker serve`` subprocess on loopback; ``stop()`` is safe to call twice."""

    data_dir: Path
    overrides: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    port: int = 0
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> Broker:
        self.port = self.port or free_port()
        self.http_port = self.http_port or free_port()
        exe = Path(sys.executable).with_name("logbroker")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "logbroker.cli"]
        cmd += ["serve", "--data-dir", str(self.data_dir), "--kafka-listen", f"127.0.0.1:{self.port}",
                "--http-listen", f"127.0.0.1:{self.http_port}", "--log-level", "WARNING"]
        for k, v in self.overrides.items():
            cmd += ["--override", f"{k}={v}"]
        log_path = self.log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.log_path = log_path
        with open(log_path, "ab") as log_file:
            self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_listening(self.proc, self.port, timeout, "broker")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; see {log_path}") from None
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        return stop_process(proc, timeout)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
