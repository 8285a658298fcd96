"""The real `support-router` console script: JSON outcomes, one-line user errors with exit code 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agents.triage.head import TriageHead

SCRIPT = Path(sys.executable).parent / "support-router"


def base_env(data_dir: Path, head_dir: Path, index_dir: Path | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SUPPORT_ROUTER_") and key not in ("COLUMNS", "LINES")
    }
    env["SUPPORT_ROUTER_DATA_DIR"] = str(data_dir)
    env["SUPPORT_ROUTER_TRIAGE_MODEL"] = str(head_dir)
    if index_dir is not None:
        env["SUPPORT_ROUTER_INDEX_DIR"] = str(index_dir)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def squash(text: str) -> str:
    """The text without any whitespace, so a message wrapped by the console still compares."""
    return "".join(text.split())


def test_console_script_is_installed() -> None:
    assert SCRIPT.is_file()


def test_route_prints_a_json_outcome(
    tmp_path: Path, head_dir: Path, index_dir: Path, head: TriageHead
) -> None:
    env = base_env(tmp_path / "data", head_dir, index_dir)
    result = run_cli(["route", "How do I reset my password?", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["turn"] == 1
    assert outcome["status"] == "answered"
    assert outcome["category"] == "account_access"
    assert outcome["specialist"] == "access"
    assert outcome["escalated"] is False
    assert outcome["citations"]
    assert all(c["url"] in outcome["response"] for c in outcome["citations"])
    assert outcome["versions"]["triage_model"] == head.version
    assert re.fullmatch(r"[0-9a-f]{32}", outcome["conversation_id"])
    assert (tmp_path / "data").is_dir()


BAD_INPUTS = {
    "empty_text": "the message is empty",
    "unknown_conversation": "no conversation nope",
    "malformed_dataset": ":3: not valid JSON",
    "missing_training_data": "no-such-training-data-file-anywhere-at-all.jsonl: no such file",
    "missing_triage_model": "no trained triage head in",
    "workers_without_postgres": "several workers share one database",
    "load_workers_without_postgres": "several workers share one database: give --postgres",
}
# Messages longer than the console's 80 columns (when stderr is not a terminal).


@pytest.fixture(scope="module")
def bad_input_runs(
    tmp_path_factory: pytest.TempPathFactory, head_dir: Path, index_dir: Path
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each bad input run once; the tests below read the results."""
    work = tmp_path_factory.mktemp("cli-bad")
    env = base_env(work / "data", head_dir, index_dir)
    dataset = work / "tickets.jsonl"
    dataset.write_text(
        '{"text": "How much is Plus?", "category": "billing"}\n'
        '{"text": "I cannot log in", "category": "account_access"}\n'
        '{"text": "broken line", "category": \n'
        '{"text": "never read", "category": "other"}\n',
        encoding="utf-8",
    )
    empty_model = work / "empty-model"
    empty_model.mkdir()
    missing = work / "no-such-training-data-file-anywhere-at-all.jsonl"
    return {
        "empty_text": run_cli(["route", "   "], env, work),
        "unknown_conversation": run_cli(["route", "Where is my card?", "--conversation", "nope"], env, work),
        "malformed_dataset": run_cli(
            ["eval", "--dataset", str(dataset), "--report-dir", str(work / "report")], env, work
        ),
        "missing_training_data": run_cli(
            ["triage", "train", "--data", str(missing), "--out", str(work / "head")], env, work
        ),
        "missing_triage_model": run_cli(
            ["route", "Where is my card?"], env | {"SUPPORT_ROUTER_TRIAGE_MODEL": str(empty_model)}, work
        ),
        "workers_without_postgres": run_cli(["serve", "--workers", "2"], env, work),
        "load_workers_without_postgres": run_cli(["load", "--workers", "2"], env, work),
    }


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_user_error(
    case: str, bad_input_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = bad_input_runs[case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ")
    assert squash(BAD_INPUTS[case]) in squash(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_user_error_is_a_single_line(
    case: str, bad_input_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    lines = bad_input_runs[case].stderr.strip("\n").split("\n")
    assert len(lines) == 1, lines


def write_article(folder: Path, name: str, domain: str, title: str, body: str) -> None:
    (folder / f"{name}.md").write_text(
        f"---\nid: {domain}-{name}\ntitle: {title}\ndomain: {domain}\n"
        f"url: https://help.example/{domain}/{name}\n---\n{body}\n",
        encoding="utf-8",
    )


def test_kb_ingest_prints_counts(tmp_path: Path, head_dir: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    write_article(
        articles, "fees", "billing", "What are the fees?", "Plus costs EUR 5.\n\nPremium costs EUR 13."
    )
    write_article(articles, "crash", "technical", "The app crashes", "Update the app.")
    # No index override: the index goes to a fresh data_dir/chroma, never the session's shared index.
    env = base_env(tmp_path / "data", head_dir, None)
    result = run_cli(["kb", "ingest", str(articles)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.match(r"2 added, 0 updated, 0 removed, 0 unchanged; \d+ passages in", result.stdout)
    assert squash(str(tmp_path / "data" / "chroma")) in squash(result.stdout)
    assert (tmp_path / "data" / "chroma").is_dir()


def test_review_list_on_an_empty_data_dir(tmp_path: Path, head_dir: Path, index_dir: Path) -> None:
    env = base_env(tmp_path / "data", head_dir, index_dir)
    result = run_cli(["review", "list"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No pending reviews."
