"""LangSmith tracing of turns: on when a LangSmith key or LANGSMITH_TRACING is set, always redacted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langsmith import Client
from langsmith.run_helpers import tracing_context

from agents.llm.runtime import Redactor

_TRUTHY = {"1", "true", "yes", "on"}


def tracing_requested() -> bool:
    """Whether the environment asks for LangSmith traces."""
    flag = (os.environ.get("LANGSMITH_TRACING") or os.environ.get("LANGCHAIN_TRACING_V2") or "").lower()
    return flag in _TRUTHY or bool(os.environ.get("LANGSMITH_API_KEY"))


def redact_tree(value: Any, redactor: Redactor) -> Any:
    """Every string inside `value` (dicts, lists, messages' dumps) with personal data replaced."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {key: redact_tree(item, redactor) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item, redactor) for item in value]
    return value


_CLIENTS: dict[int, Client] = {}
"""One client per redactor (in practice the process's one), made on first use."""


def _client(redactor: Redactor) -> Client:
    client = _CLIENTS.get(id(redactor))
    if client is None:
        # The client uploads from a background thread, so an unreachable LangSmith never slows a turn.
        hide = lambda data: redact_tree(data, redactor)  # noqa: E731
        client = _CLIENTS[id(redactor)] = Client(hide_inputs=hide, hide_outputs=hide)
    return client


@contextmanager
def traced(metadata: dict[str, str], redactor: Redactor | None) -> Iterator[None]:
    """Trace what runs inside, tagged with `metadata`, when tracing is requested; otherwise do nothing."""
    if redactor is None or not tracing_requested():
        yield
        return
    with tracing_context(enabled=True, client=_client(redactor), metadata=metadata, tags=["support-router"]):
        yield
