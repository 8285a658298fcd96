"""langgraph.json for LangGraph Studio: its entry resolves to the factory, which builds and runs the graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT_ROOT / "langgraph.json"
ENTRY_SCRIPT = Path(__file__).with_name("studio_entry.py")
LANGGRAPH_CLI = Path(sys.executable).with_name("langgraph")


@pytest.fixture(scope="module")
def studio_run(head_dir: Path, index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The graph entry loaded and run in a process of its own, configured only by the environment."""
    env = os.environ | {
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(head_dir),
        "SUPPORT_ROUTER_INDEX_DIR": str(index_dir),
        "SUPPORT_ROUTER_DATA_DIR": str(tmp_path_factory.mktemp("studio-data")),
    }
    (graph_id,) = json.loads(CONFIG.read_text())["graphs"]
    done = subprocess.run(
        [sys.executable, str(ENTRY_SCRIPT), str(CONFIG), graph_id],
        env=env,
        cwd=tmp_path_factory.mktemp("studio-cwd"),  # no .env of the checkout is read
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_the_config_is_valid_for_the_langgraph_cli() -> None:
    done = subprocess.run(
        [str(LANGGRAPH_CLI), "validate", "--config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout and "warning" not in (done.stdout + done.stderr).lower()


def test_the_graph_entry_resolves_to_the_studio_factory(studio_run: dict[str, Any]) -> None:
    assert studio_run["factory"] == f"{PROJECT_ROOT / 'app' / 'studio.py'}:make_graph"
    assert {"intake", "enrich", "triage", "route", "billing", "escalate", "finalize"} <= set(
        studio_run["nodes"]
    )


def test_studio_may_set_only_json_values(studio_run: dict[str, Any]) -> None:
    """The Agent Server drops context keys that are not in this schema, so it must describe them."""
    schema = studio_run["context_schema"]
    assert set(schema["properties"]) == {"customer_id", "channel"}
    assert "required" not in schema


def test_an_offline_turn_runs_through_the_factory_graph(studio_run: dict[str, Any]) -> None:
    vip, anonymous = studio_run["vip"], studio_run["anonymous"]
    assert "https://help.lumora.example/access/" in vip["response"] and vip["path"] == ["access"]
    # The demo portfolio stands in for the customer directory: the VIP is recognised, nobody else.
    assert vip["segment"] == "vip" and anonymous["segment"] != "vip"
    assert anonymous["response"] == vip["response"]


def test_a_handoff_pauses_and_resumes_with_the_decision(studio_run: dict[str, Any]) -> None:
    resumed = studio_run["resumed"]
    assert resumed["reason"].startswith("risk:") and "duplicate_charge" in resumed["reason"]
    assert resumed["response"] == "We refunded the second charge."
