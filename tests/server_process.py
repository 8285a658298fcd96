"""Servers the test suites start as subprocesses in their own process group: stopping them, and their logs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

STOP_TIMEOUT = 10.0


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
