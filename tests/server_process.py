"""Servers the test suites start: waiting until they are ready, stopping the subprocesses' whole process
group, and their logs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

STOP_TIMEOUT = 10.0


def wait_until_ready(url: str, running: Callable[[], bool], why: Callable[[], str], timeout: float) -> None:
    """Poll `url`/readyz until 200; fail with `why()` if the server stops (`running()` false) or takes
    longer than `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running():
            raise AssertionError(f"the server stopped before it was ready: {why()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server was not ready within {timeout:.0f} s: {why()}")


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL if it lingers past `timeout`."""
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own meanwhile
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def log_tail(log: Path, lines: int = 30) -> str:
    """The last lines of a server's log, for a failure message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
