"""The real `support-router retention run` and `customers erase` commands on the embedded SQLite store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_cli import base_env, run_cli, squash

from agents.toolkit import Toolkit
from app.service import LOCAL_ADMIN, open_service
from app.settings import Settings
from app.store.audit import VerifyReport
from app.store.store import open_store
from knowledge.store import open_client

OLD = "2020-01-01 00:00:00.000000"
"""How SQLite keeps a UTC time; the conversation below is made this old."""


@dataclass(frozen=True)
class Runs:
    """Each command's result, and the data dir they ran on."""

    results: dict[str, subprocess.CompletedProcess[str]]
    data_dir: Path

    def __getitem__(self, case: str) -> subprocess.CompletedProcess[str]:
        return self.results[case]


def make_old(database: Path, conversation_id: str) -> None:
    """Move the conversation's last activity to 2020."""
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (OLD, conversation_id))
        for table in ("messages", "events"):
            connection.execute(
                f"UPDATE {table} SET created_at = ? WHERE conversation_id = ?", (OLD, conversation_id)
            )


def scratch_index(directory: Path) -> None:
    """An index with one entry that names cus_vip, which no index of ours should ever hold."""
    collection = open_client(directory).get_or_create_collection("notes", embedding_function=None)
    collection.add(
        ids=["leak", "fine"],
        embeddings=[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]],
        documents=["Call cus_vip back about the refund.", "Nothing about anyone."],
        metadatas=[{"kind": "note"}, {"kind": "note"}],
    )


async def seed(settings: Settings, toolkit: Toolkit) -> tuple[str, str]:
    """One answered conversation each for cus_free and cus_vip, through the service (models loaded once)."""
    async with open_service(settings, toolkit) as service:
        ids = []
        for customer, marker in (("cus_free", "cli-old-marker"), ("cus_vip", "cli-kept-marker")):
            conversation = await service.create_conversation(LOCAL_ADMIN, customer, channel="api")
            await service.post_message(
                LOCAL_ADMIN, conversation.id, f"How do I reset my password? I am {marker}."
            )
            ids.append(conversation.id)
        return ids[0], ids[1]


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[[Path], Settings],
    toolkit: Toolkit,
    head_dir: Path,
    index_dir: Path,
) -> Runs:
    """A retention run that deletes the old conversation, an erasure of the other's customer."""
    work = tmp_path_factory.mktemp("cli-data")
    old, _ = asyncio.run(seed(make_settings(work / "data"), toolkit))
    make_old(work / "data" / "app.sqlite", old)
    env = base_env(work / "data", head_dir, index_dir)
    configured = env | {"SUPPORT_ROUTER_RETENTION_DAYS": "30"}
    scratch_index(work / "index")
    erasing = env | {"SUPPORT_ROUTER_INDEX_DIR": str(work / "index")}
    results = {
        "no_age": run_cli(["retention", "run"], env, work),
        "dry_run": run_cli(["retention", "run", "--dry-run"], configured, work),
        "run": run_cli(["retention", "run", "--mode", "delete", "--json"], configured, work),
        "erase": run_cli(["customers", "erase", "cus_vip", "--json"], erasing, work),
        "erase_again": run_cli(["customers", "erase", "cus_vip"], erasing, work),
        "erase_unknown": run_cli(["customers", "erase", "nobody-at-all"], erasing, work),
    }
    return Runs(results, work / "data")


def test_a_run_needs_an_age(runs: Runs) -> None:
    result = runs["no_age"]
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "SUPPORT_ROUTER_RETENTION_DAYS" in squash(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_dry_run_reports_and_a_run_deletes_the_old_conversation(runs: Runs) -> None:
    dry = runs["dry_run"]
    assert dry.returncode == 0, dry.stderr
    assert "retention (dry run)" in dry.stdout and "1 conversation(s) would be anonymised" in dry.stdout
    report = json.loads(runs["run"].stdout)
    assert runs["run"].returncode == 0, runs["run"].stderr
    assert report["mode"] == "delete" and report["conversations"] == 1 and report["checkpoint_threads"] == 1
    assert report["rows"]["messages"] == 2 and report["audit_records_redacted"] == 1


def test_erase_reports_counts_and_checks_the_index(runs: Runs) -> None:
    result = runs["erase"]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["customer_id"] == "cus_vip" and report["conversations"] == 1
    assert report["rows"]["customers"] == 1 and report["index_entries"] == 1
    again = runs["erase_again"]
    # Had the index entry stayed, the second erasure would have found it again.
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "customer cus_vip: already erased, nothing left to erase"


def test_erasing_an_unknown_customer_is_one_line_and_exit_1(runs: Runs) -> None:
    result = runs["erase_unknown"]
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no customer nobody-at-all"
    assert result.stdout == ""


def test_the_audit_log_verifies_and_no_message_text_is_left(runs: Runs) -> None:
    async def verify() -> VerifyReport:
        async with open_store(f"sqlite+aiosqlite:///{runs.data_dir / 'app.sqlite'}") as store:
            return await store.audit.verify()

    report = asyncio.run(verify())
    assert report.ok, str(report)
    assert report.records >= 5  # the policy, two turns, the two conversations removed, the run, the erasure
    with sqlite3.connect(runs.data_dir / "app.sqlite") as connection:
        assert connection.execute("SELECT text FROM messages").fetchall() == []
        assert connection.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
