"""A request that fails because the database went away cannot give its Idempotency-Key up then (that is
a write); the worker gives it up once the database is back, so the retry runs instead of being refused
as still running until the key goes stale."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from private_postgres import PrivatePostgres

from agents.toolkit import Toolkit
from app.service import open_service
from app.settings import Settings

RECOVERY_SECONDS = 0.2
DEADLINE_SECONDS = 30.0


async def test_a_key_the_outage_kept_is_given_up_once_the_database_is_back(
    postgres: PrivatePostgres, make_settings: Callable[[Path], Settings], toolkit: Toolkit, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path).model_copy(
        update={"database_url": postgres.url, "recovery_interval_seconds": RECOVERY_SECONDS}
    )
    async with open_service(settings, toolkit) as service:
        claim = await service.store.idempotency.begin("key-1", "retry-me", "hash", service.worker)
        held = claim.held
        assert claim.outcome == "new" and held is not None
        await asyncio.to_thread(postgres.stop)
        await service.give_up(held)  # the request's clean-up during the outage: postponed, not raised
        assert held in service.unreleased_keys
        await asyncio.to_thread(postgres.start)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while held in service.unreleased_keys:
            assert time.monotonic() < deadline, "the recovery pass never gave the key up"
            await asyncio.sleep(RECOVERY_SECONDS)
        retry = await service.store.idempotency.begin("key-1", "retry-me", "hash", service.worker)
        assert retry.outcome == "new"  # not "in_progress": the failed request no longer holds it
