"""The load benchmark's scaled deployment: two workers sharing a database the run creates on the
PostgreSQL server and drops afterwards, every accepted message stored once and answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg

from app.settings import Settings
from evals.load import run_load


async def test_widgets_against_two_workers_on_postgres(
    make_settings: Callable[[Path], Settings], postgres_server: str, tmp_path: Path
) -> None:
    def databases() -> set[str]:
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            return {row[0] for row in connection.execute("SELECT datname FROM pg_database")}

    settings = make_settings(tmp_path)
    before = databases()
    numbers = await run_load(settings, widgets=4, messages=3, workers=2, postgres=postgres_server)
    assert numbers["workers"] == 2 and numbers["store"] == "postgresql"
    assert numbers["turns"] == numbers["answered"] + numbers["handed_to_a_person"] > 0
    assert numbers["errors"] == numbers["lost"] == numbers["duplicated"] == numbers["unanswered"] == 0
    assert databases() == before  # the run's own database is gone
