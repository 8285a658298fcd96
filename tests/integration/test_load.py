"""The load benchmark end to end: simulated widgets against a real server on the embedded SQLite
default, every accepted message stored once and answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.settings import Settings
from evals.load import run_load

pytestmark = pytest.mark.integration


async def test_widgets_against_one_server_on_sqlite(
    make_settings: Callable[[Path], Settings], tmp_path: Path
) -> None:
    numbers = await run_load(make_settings(tmp_path), widgets=3, messages=4)
    assert numbers["workers"] == 1 and numbers["store"] == "sqlite"
    assert numbers["turns"] == numbers["answered"] + numbers["handed_to_a_person"] > 0
    assert numbers["errors"] == numbers["lost"] == numbers["duplicated"] == numbers["unanswered"] == 0
    assert numbers["turns_per_second"] > 0 and numbers["latency_ms"]["p50"] > 0
