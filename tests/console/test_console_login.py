"""The console with authentication on: the login page, the HttpOnly session and CSRF protection."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion
from playwright.sync_api import expect

from tests.conftest import BrokerProcess
from tests.http.http_api import start_http_broker


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("console-auth"), **{"logbroker.http.auth.enable": "true"})
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    admin.alter_user_scram_credentials([UserScramCredentialUpsertion("alice", "SCRAM-SHA-256", "alice-secret")])
    admin.close()
    yield b
    b.stop()


def _logged_in(browser: Any, broker: BrokerProcess) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{broker.http_port}/#/topics")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.fill("#username", "alice")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("invalid user name or password")
    page.fill("#password", "alice-secret")
    page.click("button[type=submit]")
    page.wait_for_function("window.logbrokerConsole && window.logbrokerConsole.current !== null")
    expect(page.locator("h1")).to_have_text("Topics")
    return page


def test_login_page_then_the_console_with_no_password_kept(browser: Any, auth_broker: BrokerProcess) -> None:
    page = _logged_in(browser, auth_broker)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["logbroker_session"]["httpOnly"] and cookies["logbroker_session"]["sameSite"] == "Strict"
    visible = page.evaluate("document.cookie")
    assert "logbroker_session" not in visible and "logbroker_csrf" in visible
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "alice-secret" not in stored and "alice-secret" not in visible
    assert page.evaluate("fetch('/auth/whoami').then(r => r.json())")["principal"] == "User:alice"
    page.context.close()


def test_a_state_changing_request_without_the_csrf_token_is_403(browser: Any, auth_broker: BrokerProcess) -> None:
    page = _logged_in(browser, auth_broker)
    forged = page.evaluate("""fetch('/topics', {method: 'POST', headers: {'Content-Type': 'application/json'},
                               body: JSON.stringify({name: 'csrf-victim', partitions: 1})})
                             .then(async r => [r.status, await r.json()])""")
    assert forged[0] == 403 and forged[1]["error_code"] == "CSRF_TOKEN_INVALID"
    made = page.evaluate("""import('/console/api.js').then(m => m.post('/topics', {name: 'csrf-ok', partitions: 1}))
                           .then(r => r.name)""")
    assert made == "csrf-ok"
    page.context.close()


def test_log_out_revokes_the_session_on_the_broker(browser: Any, auth_broker: BrokerProcess) -> None:
    import urllib.error
    import urllib.request

    page = _logged_in(browser, auth_broker)
    session = {c["name"]: c["value"] for c in page.context.cookies()}["logbroker_session"]

    def whoami_with_copied_cookie() -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{auth_broker.http_port}/auth/whoami",
                                     headers={"Cookie": f"logbroker_session={session}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert whoami_with_copied_cookie() == 200
    page.click("#logout-button")
    page.wait_for_url(re.compile(r".*/login.*"))
    assert whoami_with_copied_cookie() == 401  # revoked on the broker, not only forgotten by the browser
    page.goto(f"http://127.0.0.1:{auth_broker.http_port}/#/topics")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.context.close()
