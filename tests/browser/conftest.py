"""The `browser` suite's fixtures: the real app on loopback and headless Chromium driven by Playwright.

The server is `support-router serve` in its own process group on a free port, with a private data dir,
the session's models and index, and keys of every role made in its store before it starts. Chromium
is the Debian package (`/usr/bin/chromium`, installed by `make browser`), launched with the flags a
closed network needs and a fresh profile per test; Playwright downloads no browser.
A failing test leaves a screenshot of each of its pages in its tmp dir, named in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import CUSTOMER_TOKEN_SECRET, Browser, Server
from playwright.sync_api import ConsoleMessage, Playwright, expect, sync_playwright
from server_process import log_tail, stop_process_group

from app.settings import Settings
from app.store.store import open_store
from evals.load import free_port
from graph.policy.deployment import DEFAULT_POLICY_FILE

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# What Chromium needs as root on a closed network: without these its background connections
# (component updates, sync, QUIC probes) fail and stall.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORTS = {"desktop": {"width": 1280, "height": 860}, "mobile": {"width": 360, "height": 740}}
HOST = "127.0.0.1"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
WAIT_MS = 15_000
"""The longest a single browser wait may take."""
KEY_ROLES = {
    "admin": "admin",
    "admin2": "admin",
    "reviewer": "reviewer",
    "widget": "widget",
}

expect.set_options(timeout=WAIT_MS)


async def _make_keys(settings: Settings) -> dict[str, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        return {name: (await store.keys.create(role, name)).secret for name, role in KEY_ROLES.items()}


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            message = f"the server exited with {process.returncode}; its log {log}:\n{log_tail(log)}"
            pytest.fail(message, pytrace=False)
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    message = f"the server was not ready in {START_TIMEOUT:.0f}s; its log {log}:\n{log_tail(log)}"
    pytest.fail(message, pytrace=False)


def _start_canary(server: Server) -> None:
    """Version 2 (the default policy under another name) on half the customers, so both versions serve."""
    document = DEFAULT_POLICY_FILE.read_text().replace("name: default", "name: default-canary", 1)
    with server.api("admin") as proposer, server.api("admin2") as approver:
        proposed = proposer.post("/v1/policies", json={"document": document})
        assert proposed.status_code == 201, proposed.text
        version = proposed.json()["version"]
        assert approver.post(f"/v1/policies/{version}/approve").status_code == 200
        canary = approver.post(f"/v1/policies/{version}/canary", json={"percent": 50})
        assert canary.status_code == 200, canary.text


@pytest.fixture(scope="session")
def server(head_dir: Path, index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`support-router serve` on loopback for the whole session, with a canary policy deployed."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    settings = Settings(data_dir=data_dir, triage_model=head_dir, index_dir_override=index_dir)
    # In a thread of its own: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        keys = thread.submit(asyncio.run, _make_keys(settings)).result()
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    log = data_dir / "server.log"
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(data_dir),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(head_dir),
        "SUPPORT_ROUTER_INDEX_DIR": str(index_dir),
        "SUPPORT_ROUTER_POLICY_REFRESH_SECONDS": "0.2",
        "SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET": CUSTOMER_TOKEN_SECRET,
    }
    command = [sys.executable, "-m", "app", "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(base_url, process, log)
        running = Server(base_url, keys, log)
        _start_canary(running)
        time.sleep(0.5)  # past the policy refresh interval: the canary serves from now on
        yield running
    finally:
        stop_process_group(process, STOP_TIMEOUT)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver; the browser is the system's Chromium.

    Per module, not per session: while the sync API runs, this thread counts as running an event loop,
    which the asyncio tests that run after these (the unit suite) could not start under.
    """
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium chromium-driver)"
        pytest.fail(message, pytrace=False)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def viewport() -> str:
    """desktop unless a test parametrizes `viewport`."""
    return "desktop"


def _record_errors(errors: list[str]) -> tuple[Callable[[Any], None], Callable[[ConsoleMessage], None]]:
    def on_web_error(error: Any) -> None:
        errors.append(f"uncaught: {error.error}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(f"CSP: {message.text}")

    return on_web_error, on_console


@pytest.fixture
def browser(playwright: Playwright, server: Server, viewport: str, tmp_path: Path) -> Iterator[Browser]:
    """Chromium with a fresh profile in the test's tmp dir; no page may raise or break the CSP."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=list(CHROMIUM_FLAGS),
        viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(WAIT_MS)
    session = Browser(context, server, tmp_path)
    on_web_error, on_console = _record_errors(session.errors)
    context.on("weberror", on_web_error)
    context.on("console", on_console)
    try:
        yield session
    finally:
        context.close()
    assert not session.errors, session.errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, a screenshot of every page the test had open, named in the report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    session = getattr(item, "funcargs", {}).get("browser")
    if report.when != "call" or not report.failed or not isinstance(session, Browser):
        return
    saved = []
    for index, page in enumerate(session.context.pages):
        path = session.shots / f"failure-{index}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # a crashed page still lets the others be saved
            saved.append(f"{page.url}: no screenshot ({error})")
            continue
        saved.append(f"{page.url}: {path}")
    if saved:
        text = "\n".join(saved)
        report.sections.append(("browser screenshots", text))
        print(f"\nscreenshots of {item.nodeid}:\n{text}", file=sys.stderr)
