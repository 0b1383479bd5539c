"""Kafka's own Java clients, Streams and command-line tools, built once per test session.

``tests/java`` is a Maven project: its pom pulls kafka-clients, kafka-streams, kafka-tools and the
core module (for ``kafka.admin.ConfigCommand``) from Maven Central, compiles our check programs
(``ClientsCheck``, ``WordCount``) into ``tests/java/target/classes`` and copies every runtime jar
into ``tests/java/target/lib`` (gitignored). The build is skipped while its output is newer than
the pom and every source. Java and Maven must exist under CI=true (``.ci/run`` installs them); a
missing one fails there and skips elsewhere, like the other tools in ``tests/conftest.py``.

Every JVM runs with ``-Xmx256m`` and a timeout; the programs print JSON lines on stdout (one per
check) and log to stderr.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT
from tests.locks import exclusive

JAVA_DIR = ROOT / "tests" / "java"
TARGET = JAVA_DIR / "target"
BUILD_TIMEOUT_S = 900  # the first build downloads ~160 MB of jars into ~/.m2
# Small heaps (the machine is shared); C1 only, since the tools are short-lived.
JVM_OPTS = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


def require(command: str, package: str) -> str:
    """The path of ``command``; fail under CI, skip elsewhere."""
    path = shutil.which(command)
    if path is None:
        message = f"{command} is not installed (apt-get install {package}); .ci/run installs it in CI"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def _newest_input_mtime() -> float:
    inputs = [JAVA_DIR / "pom.xml", *(p for p in (JAVA_DIR / "src").rglob("*") if p.is_file())]
    return max(p.stat().st_mtime for p in inputs)


def _build_is_fresh() -> bool:
    stamp = TARGET / "lib" / ".complete"
    return stamp.exists() and stamp.stat().st_mtime >= _newest_input_mtime()


def build() -> None:
    """``mvn clean package`` unless the output is newer than every input."""
    if _build_is_fresh():
        return
    mvn = require("mvn", "maven")
    with exclusive(ROOT / "build" / "java-interop.lock"):  # parallel test processes build once
        if _build_is_fresh():
            return
        proc = subprocess.run([mvn, "-q", "-B", "clean", "package"], cwd=JAVA_DIR, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"mvn package failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        (TARGET / "lib" / ".complete").touch()


@dataclass(frozen=True, slots=True)
class Java:
    """Runs classes from the built classpath."""

    java: str
    classpath: str

    def run(self, main: str, *args: str, timeout: float = 120, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.java, *JVM_OPTS, "-cp", self.classpath, main, *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{main} {' '.join(args)} exited {proc.returncode}:\n"
                                 f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
        return proc

    def tool(self, main: str, *args: str, timeout: float = 90, stdin: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Kafka command-line tool by class name (kafka-topics is org.apache.kafka.tools.TopicCommand)."""
        return self.run(main, *args, timeout=timeout, stdin=stdin, check=check)


def checks(stdout: str) -> dict[str, dict[str, Any]]:
    """The JSON lines a check program printed, by check name."""
    out: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            record = json.loads(line)
            out[record["check"]] = record
    return out


def offsets_records(java: Java, segment: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (key, value) of each record of a ``__consumer_offsets`` segment file as Kafka's own decoder
    reads them (``kafka-dump-log --offsets-decoder``); raises when it read none."""
    out = java.run("kafka.tools.DumpLogSegments", "--files", str(segment), "--offsets-decoder").stdout
    records = [(json.loads(line.split(" key: ")[1].split(" payload: ")[0]), json.loads(line.split(" payload: ")[1]))
               for line in out.splitlines() if line.startswith("| offset:")]
    assert records, out
    return records


@pytest.fixture(scope="session")
def kafka_java() -> Java:
    java = require("java", "default-jdk-headless")
    build()
    return Java(java, f"{TARGET / 'classes'}:{TARGET / 'lib'}/*")


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


if __name__ == "__main__":
    # `make test-java` builds first, outside pytest's per-test timeout (the first build downloads).
    if shutil.which("mvn") and shutil.which("java"):
        build()
