"""`support-router eval` and `eval compare` as a user runs them: files written, gates decide the exit code."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import base_env, run_cli

from evals.prediction import read_predictions

TICKETS = [
    {"id": "a", "text": "How do I reset my password?", "category": "account_access"},
    {"id": "b", "text": "Why was I charged twice for my plan this month?", "category": "billing"},
    {
        "id": "c",
        "text": "I will take you to court over this refund",
        "category": "refund",
        "expect_escalation": True,
    },
]


def test_a_run_writes_its_report_and_compares_clean_with_itself_but_not_with_a_worse_run(
    tmp_path: Path, head_dir: Path, index_dir: Path
) -> None:
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps(t) + "\n" for t in TICKETS), encoding="utf-8")
    env = base_env(tmp_path / "data", head_dir, index_dir)
    result = run_cli(["eval", "--dataset", str(dataset), "--report-dir", str(tmp_path / "a")], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "n=3 errors=0" in result.stdout
    assert {p.name for p in (tmp_path / "a").iterdir()} == {
        "metrics.json",
        "predictions.jsonl",
        "report.html",
    }
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["run"]["datasets"] == ["tiny"] and metrics["run"]["policy"] == "1"  # the active version

    same = run_cli(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "a")], env, tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr

    # A candidate that answers the court threat itself: escalation recall drops, so a gate fails.
    worse = tmp_path / "b"
    worse.mkdir()
    (worse / "metrics.json").write_text("{}")
    predictions = read_predictions(tmp_path / "a" / "predictions.jsonl")
    changed = [p.model_copy(update={"escalated": False, "escalation_reason": None}) for p in predictions]
    (worse / "predictions.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in changed))
    failed = run_cli(["eval", "compare", str(tmp_path / "a"), str(worse), "--json"], env, tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    gates = {g["gate"]["metric"]: g["status"] for g in json.loads(failed.stdout)["gates"]}
    assert gates["escalation_recall"] == "failed" and gates["unsafe_automation_rate"] == "failed"


def test_eval_without_a_dataset_is_a_user_error(tmp_path: Path, head_dir: Path, index_dir: Path) -> None:
    result = run_cli(
        ["eval", "--report-dir", str(tmp_path)], base_env(tmp_path, head_dir, index_dir), tmp_path
    )
    assert result.returncode == 2 and "give at least one --dataset" in result.stderr


def test_llm_mode_without_a_model_is_a_user_error(tmp_path: Path, head_dir: Path, index_dir: Path) -> None:
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text(json.dumps(TICKETS[0]) + "\n", encoding="utf-8")
    args = ["eval", "--dataset", str(dataset), "--report-dir", str(tmp_path / "r"), "--mode", "llm"]
    result = run_cli(args, base_env(tmp_path, head_dir, index_dir), tmp_path)
    assert result.returncode == 2 and "SUPPORT_ROUTER_LLM_MODEL" in result.stderr
