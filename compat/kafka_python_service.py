"""Stand-in for ``test/service.py`` of kafka-python's source tree, which its PyPI sdist leaves out.

The integration fixtures import ``ExternalService`` and ``SpawnedService`` from it; with
``KAFKA_URI`` set they only ever build an ``ExternalService`` (a broker someone else started), so
that is all this module provides. It is copied into the extracted suite as ``test/service.py``.
"""

from __future__ import annotations


class ExternalService:
    """A service already running at host:port; starting and stopping it are no-ops."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def wait_for(self, pattern: str, timeout: float = 30) -> bool:
        return True

    def dump_logs(self) -> None:
        pass


class SpawnedService:
    """Spawning a broker is the fixture's job only without ``KAFKA_URI``; this runner always sets it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the compat runner points the suite at an external broker (KAFKA_URI)")
