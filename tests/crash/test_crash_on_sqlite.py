"""The embedded default (SQLite, one process): killed mid-turn, restarted, the message is answered once."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

from crash_helpers import WORKER_ENV, Worker, cut_off, eventually, issue_keys, post

from app.settings import Settings
from evals.load import free_port

QUESTION = "How do I reset my password?"


def transcript(data_dir: Path, conversation_id: str) -> list[tuple[str, str, int]]:
    with sqlite3.connect(data_dir / "app.sqlite") as connection:
        rows = connection.execute(
            "SELECT role, state, turn FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
    return [(str(role), str(state), int(turn)) for role, state, turn in rows]


async def test_killed_mid_turn_the_restarted_process_answers_once_and_a_retry_gets_it(
    base_settings: Settings, module_dir: Path
) -> None:
    settings = base_settings.model_copy(update={"data_dir": module_dir / "sqlite"})
    keys = await issue_keys(settings)
    gate = module_dir / "gate"
    env = {
        "SUPPORT_ROUTER_CUSTOMER_DIRECTORY": "gated_directory:gated",
        "CRASH_TEST_GATE": str(gate),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    worker = Worker(settings, free_port(), module_dir / "sqlite.log", WORKER_ENV | env, name="sqlite")
    worker.start()
    try:
        await worker.ready()
        async with worker.client(keys["widget"]) as client:
            conversation_id = (await client.post("/v1/conversations", json={"customer_id": "c-1"})).json()[
                "id"
            ]
            key = uuid.uuid4().hex
            gate.touch()
            request = asyncio.create_task(post(client, conversation_id, QUESTION, key))

            async def arrived() -> bool:
                return gate.with_suffix(".arrived").exists()

            await eventually(arrived, "the turn to reach the customer directory")
            assert transcript(settings.data_dir, conversation_id) == [("customer", "received", 1)]
            worker.kill()
            await cut_off(request)
        gate.unlink()

        await worker.restart()  # it finishes the accepted message before it serves
        assert transcript(settings.data_dir, conversation_id) == [
            ("customer", "answered", 1),
            ("assistant", "sent", 1),
        ]
        async with worker.client(keys["widget"]) as client:
            retry = await post(client, conversation_id, QUESTION, key)
        assert retry.status_code == 200 and retry.headers.get("Idempotent-Replayed") == "true", retry.text
        assert retry.json()["turn"] == 1
        assert len(transcript(settings.data_dir, conversation_id)) == 2
    finally:
        worker.stop()
