"""Fixtures of the console's browser tests: one broker per module, Debian's chromium driven by Playwright.

Playwright's own browser download does not work on these machines; the tests launch ``/usr/bin/chromium``
(installed by ``.ci/run``). Under ``CI=true`` a missing browser or Playwright fails the tests instead of
skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, start_http_broker

CHROMIUM = os.environ.get("LOGBROKER_CHROMIUM", "/usr/bin/chromium")
# Chromium as the machines here allow it: no sandbox (root), no GPU, no network beyond loopback.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


# Module scope, not session: Playwright's sync API runs an event loop on the main thread while it is
# open, and the rest of the suite calls asyncio.run(), which refuses to start inside a running loop.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install -e '.[dev]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"chromium ({CHROMIUM}; apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def console_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("console"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def api(console_broker: BrokerProcess) -> Api:
    return Api(console_broker.http_port)


class Page:
    """A browser page on the console that records console errors and uncaught exceptions."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, fragment: str = "#/") -> Any:
        self.page.goto(f"{self.base}/{fragment}")
        self.page.wait_for_function("window.logbrokerConsole && window.logbrokerConsole.current !== null")
        return self.page


@pytest.fixture
def page(browser: Any, api: Api) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = Page(context.new_page(), api.base)
    yield p
    context.close()
