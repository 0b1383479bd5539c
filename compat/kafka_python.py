"""Run kafka-python's own integration suite against a fresh logbroker and print a table (`make compat`).

kafka-python's source distribution on PyPI carries its integration tests (`test/integration`), which
run against an external broker when ``KAFKA_URI`` is set. This script:

1. downloads that sdist (the kafka-python version installed from pyproject.toml) into a cache
   directory outside the tree (``$LOGBROKER_COMPAT_CACHE``, default ``~/.cache/logbroker-compat``)
   and extracts its ``test/`` directory, adding the ``test/service.py`` the sdist leaves out;
2. starts ``logbroker serve`` on free loopback ports with the broker settings of kafka-python's
   own Kafka 4 test fixture (``servers/4.0.0/resources/kafka.properties``: 4 partitions per
   auto-created topic, 2 ``__consumer_offsets`` partitions, ``group.min.session.timeout.ms=1000``,
   ``group.initial.rebalance.delay.ms=0``, no log cleaner, ``advertised.listeners`` set);
3. runs the suite, prints one row per test and exits non-zero when a test fails that a single-node
   Kafka without SASL, SSL and transactions passes. The tests such a Kafka does not pass either, or
   that need a part logbroker leaves out on purpose, are listed with their reason in
   ``compat/kafka_python_known.txt``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KNOWN_FILE = HERE / "kafka_python_known.txt"
# The Kafka release the suite is told it talks to (it picks features and skips tests by it).
KAFKA_VERSION = "4.1.0"
# kafka-python's Kafka 4 fixture settings that logbroker has (the rest are about replication, threads
# and the KRaft controller, which a single logbroker node does not have).
FIXTURE_SETTINGS = {
    "num.partitions": "4",
    "default.replication.factor": "1",
    "log.retention.hours": "168",
    "log.segment.bytes": "1073741824",
    "log.retention.check.interval.ms": "300000",
    "log.cleaner.enable": "false",
    "offsets.topic.num.partitions": "2",
    "group.min.session.timeout.ms": "1000",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "true",
}
PER_TEST_TIMEOUT_S = 60
SUITE_TIMEOUT_S = 270  # the whole run stays under 5 minutes (about 1 minute here)


@dataclass(frozen=True, slots=True)
class Outcome:
    test: str  # file::name[params]
    status: str  # passed | failed | error | skipped
    detail: str


def cache_dir() -> Path:
    base = os.environ.get("LOGBROKER_COMPAT_CACHE") or str(Path.home() / ".cache" / "logbroker-compat")
    return Path(base)


def fetch_suite(version: str) -> Path:
    """The extracted ``test/`` of kafka-python ``version``'s sdist (downloaded once, then cached)."""
    root = cache_dir() / f"kafka-python-{version}"
    suite = root / "suite"
    if (suite / "test" / "integration" / "conftest.py").is_file():
        return suite
    root.mkdir(parents=True, exist_ok=True)
    downloads = root / "sdist"
    if not any(downloads.glob("*.tar.gz")):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        f"kafka-python=={version}", "-d", str(downloads)], check=True)
    archive = next(downloads.glob("*.tar.gz"))
    staging = Path(tempfile.mkdtemp(dir=root))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["test"]]
        tar.extractall(staging, members=members, filter="data")
    top = next(staging.iterdir())
    target = staging / "suite"
    target.mkdir()
    shutil.move(str(top / "test"), str(target / "test"))
    (target / "test" / "__init__.py").touch()
    shutil.copy(HERE / "kafka_python_service.py", target / "test" / "service.py")
    if suite.exists():
        shutil.rmtree(suite)
    shutil.move(str(target), str(suite))
    shutil.rmtree(staging, ignore_errors=True)
    return suite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"logbroker exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"logbroker did not listen on port {port} within {timeout_s:.0f}s")


def read_known() -> dict[str, str]:
    """test id -> why a single-node Kafka (or logbroker by design) does not pass it."""
    known: dict[str, str] = {}
    for line in KNOWN_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test, _, reason = line.partition(" ")
        known[test] = reason.strip()
    return known


def outcomes(junit: Path) -> list[Outcome]:
    found: list[Outcome] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = (case.get("classname") or "").rsplit(".", 1)[-1]
        test = f"{module}::{case.get('name')}"
        status, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed"}.get(child.tag, child.tag)
                detail = (child.get("message") or "").splitlines()[0][:100] if child.get("message") else ""
                break
        found.append(Outcome(test, status, detail))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default=None, help="only the tests matching this pytest -k expression")
    parser.add_argument("--keep", action="store_true", help="keep the broker's data dir and log")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", default=None,
                        help="run against this already running broker (e.g. Apache Kafka, to check the known "
                             "failures) instead of a fresh logbroker")
    args = parser.parse_args()

    version = importlib.metadata.version("kafka-python")
    suite = fetch_suite(version)
    work = Path(tempfile.mkdtemp(prefix="logbroker-compat-"))
    if args.bootstrap:
        return report(run_suite(suite, args.bootstrap, work, args.k), version, work, keep=True, broker_alive=True)
    kafka_port, http_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "logbroker.cli", "serve", "--data-dir", str(work / "data"),
           "--kafka-listen", f"127.0.0.1:{kafka_port}", "--http-listen", f"127.0.0.1:{http_port}",
           "--log-level", "WARNING"]
    settings = dict(FIXTURE_SETTINGS, **{"advertised.listeners": f"PLAINTEXT://127.0.0.1:{kafka_port}"})
    for key, value in settings.items():
        cmd += ["--override", f"{key}={value}"]
    log_path = work / "broker.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for_port(kafka_port, proc)
        outcome = run_suite(suite, f"127.0.0.1:{kafka_port}", work, args.k)
        broker_alive = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return report(outcome, version, work, keep=args.keep, broker_alive=broker_alive)


def run_suite(suite: Path, bootstrap: str, work: Path, expression: str | None) -> tuple[Path, float]:
    """Run the suite against ``bootstrap``; returns its JUnit XML path and the seconds it took."""
    junit = work / "junit.xml"
    env = dict(os.environ, KAFKA_URI=f"PLAINTEXT://{bootstrap}", KAFKA_VERSION=KAFKA_VERSION, KAFKA_ROOT=str(work))
    pytest_cmd = [sys.executable, "-m", "pytest", "test/integration", "-q", "-p", "no:cacheprovider",
                  "-o", "addopts=", f"--timeout={PER_TEST_TIMEOUT_S}", f"--junitxml={junit}", "--rootdir", str(suite)]
    if expression:
        pytest_cmd += ["-k", expression]
    started = time.monotonic()
    try:
        subprocess.run(pytest_cmd, cwd=suite, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                       timeout=SUITE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"the suite ran over {SUITE_TIMEOUT_S}s and was stopped", file=sys.stderr)
        junit.unlink(missing_ok=True)
    return junit, time.monotonic() - started


def report(outcome: tuple[Path, float], version: str, work: Path, *, keep: bool, broker_alive: bool) -> int:
    """Print the table; 1 when a test failed that is not a known failure (or the broker died)."""
    junit, elapsed = outcome
    log_path = work / "broker.log"
    if not junit.is_file():
        print(f"the suite did not run; broker log: {log_path}", file=sys.stderr)
        return 2
    results = outcomes(junit)
    known = read_known()
    unexpected = [r for r in results if r.status in ("failed", "error") and r.test not in known]
    width = max((len(r.test) for r in results), default=10)
    print(f"kafka-python {version} integration suite (told Kafka {KAFKA_VERSION}), "
          f"{elapsed:.0f}s")
    print(f"{'test'.ljust(width)}  result   note")
    for r in results:
        note = known.get(r.test, "") if r.status != "passed" else ""
        label = "known" if r.status in ("failed", "error") and r.test in known else r.status
        print(f"{r.test.ljust(width)}  {label:<7}  {note or r.detail}")
    counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "error", "skipped")}
    known_failed = sum(1 for r in results if r.status in ("failed", "error") and r.test in known)
    print(f"\n{counts['passed']} passed, {counts['skipped']} skipped, {known_failed} known failures "
          f"(listed in {KNOWN_FILE.relative_to(ROOT)}), {len(unexpected)} unexpected failures")
    if not broker_alive:
        print("the broker exited during the run", file=sys.stderr)
    if keep or unexpected or not broker_alive:
        print(f"broker log: {log_path}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if unexpected or not broker_alive else 0


if __name__ == "__main__":
    sys.exit(main())
