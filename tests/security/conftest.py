"""The `security` suite: hostile requests, prompt injection and customer isolation, all over real HTTP.

Two servers serve the whole session: `support-router serve` itself (offline, SQLite), and the same app
on an in-process uvicorn in LLM mode, whose chat models are fakes the tests swap between turns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))  # api_helpers, llm_fakes, adversary

from servers import LiveServer, SwappableModels, serve_in_thread, serve_process  # noqa: E402

from agents.toolkit import Toolkit  # noqa: E402
from app.api import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.security)


@pytest.fixture(scope="session")
def served(
    make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """`support-router serve` in offline mode on SQLite; every test opens its own conversations."""
    base = tmp_path_factory.mktemp("security-serve")
    settings = make_settings(base / "data")
    with serve_process(settings, base / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def llm_models() -> SwappableModels:
    return SwappableModels()


@pytest.fixture(scope="session")
def llm_served(
    make_settings: Callable[[Path], Settings],
    toolkit: Toolkit,
    llm_models: SwappableModels,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """The app in LLM mode on a real uvicorn server in this process, its models from `llm_models`.

    Native tool calling with json_mode structured output, as the fakes speak; the breaker never opens,
    so one test's model failures cannot degrade the next test's turns.
    """
    base = tmp_path_factory.mktemp("security-llm")
    settings = make_settings(base / "data")
    settings = settings.model_copy(
        update={
            "llm_model": "scripted",
            "llm_base_url": "http://127.0.0.1:9/v1",
            "llm_structured_method": "json_mode",
            "llm_tool_calling": "native",
            "llm_breaker_threshold": 1_000_000,
        }
    )
    with serve_in_thread(create_app(settings, toolkit, llm_models), settings) as server:
        yield server
