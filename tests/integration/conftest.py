"""The `llm` suite's server: llama.cpp on a free loopback port, serving the model `make llm` assembles."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_process import log_tail, stop_process_group

from app.local_llm import DEFAULT_MODEL_FILE, server_command, wait_until_ready
from evals.load import free_port

HOST = "127.0.0.1"
# Loading a 0.5B model takes a few seconds; the margin is for a busy 2-core CI machine.
START_TIMEOUT = 180.0
# Seconds per measured step, printed at the end of the run so CI logs show them.
TIMINGS = pytest.StashKey[dict[str, float]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TIMINGS] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    timings = config.stash.get(TIMINGS, {})
    if timings:
        terminalreporter.section("llm server timings")
        for name, seconds in timings.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")


@pytest.fixture(scope="session")
def record_timing(pytestconfig: pytest.Config) -> Callable[[str, float], None]:
    def record(name: str, seconds: float) -> None:
        pytestconfig.stash[TIMINGS][name] = seconds

    return record


@pytest.fixture(scope="session")
def llm_model_file() -> Path:
    """The assembled GGUF; a missing server or model fails the suite, since CI runs it."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed in this venv: run `make llm`", pytrace=False)
    path = Path(os.environ.get("LLM_MODEL_FILE", DEFAULT_MODEL_FILE))
    if not path.is_file():
        pytest.fail(f"the model file {path} is missing: run `make llm`", pytrace=False)
    return path


def _start_error(base_url: str, process: subprocess.Popen[bytes]) -> str | None:
    try:
        wait_until_ready(base_url, START_TIMEOUT, process)
    except (TimeoutError, RuntimeError) as error:
        return str(error)
    return None


@pytest.fixture(scope="session")
def llm_server(
    llm_model_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    record_timing: Callable[[str, float], None],
) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT/v1`) of a llama.cpp server running for the whole session."""
    port = free_port()
    base_url = f"http://{HOST}:{port}/v1"
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    started = time.monotonic()
    with log.open("wb") as log_file:
        # Its own session, so teardown can signal the whole group and leave nothing behind.
        process = subprocess.Popen(
            server_command(llm_model_file, HOST, port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        error = _start_error(base_url, process)
        if error is not None:
            pytest.fail(f"{error}; server log {log}:\n{log_tail(log)}", pytrace=False)
        record_timing("server start-up", time.monotonic() - started)
        yield base_url
    finally:
        stop_process_group(process)
