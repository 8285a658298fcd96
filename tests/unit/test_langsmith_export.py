"""The LangSmith export against a recording fake client, and against a real client with nothing listening."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import langsmith
import pytest
from langsmith.utils import LangSmithAPIError, LangSmithConflictError
from urllib3.util.retry import Retry

from evals.langsmith_export import (
    EXAMPLE_BATCH,
    ExportError,
    ExportSummary,
    example_id,
    export_run,
    langsmith_configured,
)
from evals.prediction import Prediction

DATASET = "support-router-eval"


@dataclass(frozen=True)
class _Record:
    id: uuid.UUID
    url: str | None = None


class FakeClient:
    """Records every call; keeps datasets, examples and projects in memory like a tiny LangSmith."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail = fail or {}
        self.datasets: dict[str, uuid.UUID] = {}
        self.examples: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.runs: dict[uuid.UUID, dict[str, Any]] = {}
        self.feedback: dict[uuid.UUID, dict[str, int]] = {}

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if method in self.fail:
            raise self.fail[method]

    def names(self) -> list[str]:
        return [method for method, _, _ in self.calls]

    def has_dataset(self, *, dataset_name: str) -> bool:
        self._record("has_dataset", dataset_name=dataset_name)
        return dataset_name in self.datasets

    def read_dataset(self, *, dataset_name: str) -> _Record:
        self._record("read_dataset", dataset_name=dataset_name)
        return _Record(self.datasets[dataset_name])

    def create_dataset(self, dataset_name: str, *, description: str | None = None) -> _Record:
        self._record("create_dataset", dataset_name, description=description)
        self.datasets[dataset_name] = uuid.uuid4()
        self.examples[self.datasets[dataset_name]] = {}
        return _Record(self.datasets[dataset_name])

    def list_examples(self, *, dataset_id: uuid.UUID) -> Iterable[_Record]:
        self._record("list_examples", dataset_id=dataset_id)
        # The SDK yields pages lazily; a generator keeps the fake honest about that.
        return (_Record(example) for example in list(self.examples[dataset_id]))

    def create_examples(self, *, dataset_id: uuid.UUID, examples: Sequence[dict[str, Any]]) -> object:
        self._record("create_examples", dataset_id=dataset_id, examples=list(examples))
        for example in examples:
            assert example["id"] not in self.examples[dataset_id], "an example was created twice"
            self.examples[dataset_id][example["id"]] = example
        return {"count": len(examples)}

    def create_project(
        self,
        project_name: str,
        *,
        metadata: dict[str, Any] | None = None,
        reference_dataset_id: uuid.UUID | None = None,
    ) -> _Record:
        self._record(
            "create_project", project_name, metadata=metadata, reference_dataset_id=reference_dataset_id
        )
        if project_name in self.projects:
            raise LangSmithConflictError(
                f"Conflict for /sessions. HTTPError('409 Client Error')\n{project_name}"
            )
        project_id = uuid.uuid4()
        self.projects[project_name] = {
            "id": project_id,
            "metadata": metadata,
            "reference_dataset_id": reference_dataset_id,
        }
        return _Record(project_id, url=f"https://smith.example/projects/p/{project_id}")

    def create_run(
        self,
        name: str,
        inputs: dict[str, Any],
        run_type: str,
        *,
        project_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._record("create_run", name, inputs, run_type, project_name=project_name, **kwargs)
        self.runs[kwargs["id"]] = {
            "name": name,
            "inputs": inputs,
            "run_type": run_type,
            "project_name": project_name,
            **kwargs,
        }

    def create_feedback(self, run_id: uuid.UUID, key: str, *, score: int, session_id: uuid.UUID) -> object:
        self._record("create_feedback", run_id, key, score=score, session_id=session_id)
        assert run_id in self.runs, "feedback for a run that was never created"
        self.feedback.setdefault(run_id, {})[key] = score
        return None


def _prediction(ticket_id: str, **overrides: Any) -> Prediction:
    values: dict[str, Any] = {
        "id": ticket_id,
        "dataset": "tickets",
        "text": f"message of {ticket_id}",
        "tags": ["billing"],
        "customer_id": "cus_1",
        "category": "billing",
        "expect_escalation": False,
        "predicted": "billing",
        "confidence": 0.9,
        "specialist": "billing",
        "escalated": False,
        "response": "Here is how to update your card.",
        "citations": ["kb-billing-1"],
        "latency_ms": 120.0,
        "llm_calls": 1,
        "llm_tokens": 42,
    }
    values.update(overrides)
    return Prediction(**values)


def _predictions() -> list[Prediction]:
    return [
        # Right on every count, grounded, specialist expected.
        _prediction("t1", expect_specialist="billing", grounded=True),
        # Wrong category, and had to reach a person but was answered: the unsafe case.
        _prediction("t2", category="refunds", expect_escalation=True, grounded=False),
        # Escalated as expected: no answer went out (grounded None), no specialist expected.
        _prediction(
            "t3",
            category="access",
            predicted="access",
            expect_escalation=True,
            escalated=True,
            escalation_reason="risk:account_takeover",
            specialist=None,
            response="",
            citations=[],
            error="boom",
        ),
    ]


def _metrics() -> dict[str, Any]:
    return {
        "run": {
            "datasets": ["tickets"],
            "mode": "offline",
            "policy": "v3",
            "triage_model": "local",
            "started_at": "2025-01-02T03:04:05+00:00",
            "duration_s": 1.5,
            "versions": {"triage": "1"},
        },
        "n": 3,
        "errors": 1,
        "accuracy": 0.6667,
        "macro_f1": 0.5,
        "escalation": {"precision": 1.0, "recall": 0.5, "f1": 0.6667},
        "unsafe_automation_rate": 0.5,
        "specialist_accuracy": None,
    }


def _runs_by_ticket(client: FakeClient, experiment: str) -> dict[str, dict[str, Any]]:
    runs = [run for run in client.runs.values() if run["project_name"] == experiment]
    return {run["extra"]["metadata"]["ticket_id"]: run for run in runs}


@pytest.mark.parametrize("variable", ["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"])
def test_configured_by_either_key(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)
    assert not langsmith_configured()
    monkeypatch.setenv(variable, "   ")
    assert not langsmith_configured()
    monkeypatch.setenv(variable, "lsv2_pt_key")
    assert langsmith_configured()


def test_first_export_creates_dataset_examples_runs_and_feedback() -> None:
    client = FakeClient()
    predictions = _predictions()

    summary = export_run(predictions, _metrics(), DATASET, "exp-1", client=client)

    dataset_id = client.datasets[DATASET]
    project = client.projects["exp-1"]
    assert summary == ExportSummary(
        dataset_id=str(dataset_id),
        experiment_name="exp-1",
        examples_created=3,
        examples_reused=0,
        runs_uploaded=3,
        url=f"https://smith.example/projects/p/{project['id']}",
    )
    assert client.names()[:4] == ["has_dataset", "create_dataset", "list_examples", "create_examples"]
    assert client.calls[1][2]["description"]

    # Examples: deterministic ids, the ticket as inputs, the labels as outputs.
    expected_ids = {example_id(DATASET, p.id) for p in predictions}
    assert set(client.examples[dataset_id]) == expected_ids
    assert example_id(DATASET, "t1") == example_id(DATASET, "t1") != example_id("other", "t1")
    first = client.examples[dataset_id][example_id(DATASET, "t2")]
    assert first["inputs"] == {"text": "message of t2", "customer_id": "cus_1"}
    assert first["reference_outputs"] == {
        "category": "refunds",
        "expect_escalation": True,
        "expect_specialist": None,
        "expect_citation": None,
    }
    assert first["metadata"] == {"tags": ["billing"], "dataset": "tickets"}

    # Experiment: on the dataset, with the run's facts and headline numbers.
    assert project["reference_dataset_id"] == dataset_id
    metadata = project["metadata"]
    assert metadata["mode"] == "offline" and metadata["versions"] == {"triage": "1"}
    assert metadata["accuracy"] == 0.6667 and metadata["macro_f1"] == 0.5
    assert metadata["escalation_recall"] == 0.5 and metadata["unsafe_automation_rate"] == 0.5

    # Runs: one per ticket, each pointing at its example, spanning the ticket's latency.
    runs = _runs_by_ticket(client, "exp-1")
    assert set(runs) == {"t1", "t2", "t3"}
    for ticket, run in runs.items():
        assert run["name"] == "support-router turn" and run["run_type"] == "chain"
        assert run["reference_example_id"] == example_id(DATASET, ticket)
        assert run["inputs"] == {"text": f"message of {ticket}"}
        assert (run["end_time"] - run["start_time"]).total_seconds() == pytest.approx(0.12)
        assert run["start_time"].tzinfo is not None
    assert runs["t3"]["error"] == "boom" and runs["t1"]["error"] is None
    assert runs["t3"]["outputs"]["escalated"] is True
    assert runs["t3"]["outputs"]["escalation_reason"] == "risk:account_takeover"
    assert set(runs["t1"]["outputs"]) == {
        "predicted",
        "confidence",
        "escalated",
        "escalation_reason",
        "specialist",
        "policy_rule",
        "response",
        "citations",
        "decided_by",
        "llm_calls",
        "llm_tokens",
    }

    # Feedback: the unsafe case scored, checks that do not apply left out, all on the experiment.
    assert client.feedback[runs["t1"]["id"]] == {
        "correct_category": 1,
        "escalation_correct": 1,
        "unsafe_automation": 0,
        "specialist_correct": 1,
        "grounded": 1,
    }
    assert client.feedback[runs["t2"]["id"]] == {
        "correct_category": 0,
        "escalation_correct": 0,
        "unsafe_automation": 1,
        "grounded": 0,
    }
    assert client.feedback[runs["t3"]["id"]] == {
        "correct_category": 1,
        "escalation_correct": 1,
        "unsafe_automation": 0,
    }
    sessions = {kwargs["session_id"] for name, _, kwargs in client.calls if name == "create_feedback"}
    assert sessions == {project["id"]}


def test_second_export_reuses_examples_and_adds_an_experiment() -> None:
    client = FakeClient()
    export_run(_predictions(), _metrics(), DATASET, "exp-1", client=client)
    client.calls.clear()

    summary = export_run(_predictions(), _metrics(), DATASET, "exp-2", client=client)

    assert summary.examples_created == 0 and summary.examples_reused == 3 and summary.runs_uploaded == 3
    assert summary.dataset_id == str(client.datasets[DATASET])
    assert "create_dataset" not in client.names() and "create_examples" not in client.names()
    assert client.names()[:3] == ["has_dataset", "read_dataset", "list_examples"]
    assert set(client.projects) == {"exp-1", "exp-2"}
    assert len(client.examples[client.datasets[DATASET]]) == 3
    first, second = _runs_by_ticket(client, "exp-1"), _runs_by_ticket(client, "exp-2")
    assert {run["id"] for run in first.values()}.isdisjoint(run["id"] for run in second.values())
    assert all(second[t]["reference_example_id"] == first[t]["reference_example_id"] for t in first)


def test_only_missing_examples_are_created_in_batches() -> None:
    client = FakeClient()
    export_run(_predictions()[:1], _metrics(), DATASET, "exp-1", client=client)
    many = [_prediction(f"n{i}") for i in range(EXAMPLE_BATCH + 5)]
    client.calls.clear()

    summary = export_run([*_predictions(), *many], _metrics(), DATASET, "exp-2", client=client)

    assert summary.examples_created == 2 + EXAMPLE_BATCH + 5 and summary.examples_reused == 1
    batches = [kwargs["examples"] for name, _, kwargs in client.calls if name == "create_examples"]
    assert [len(batch) for batch in batches] == [EXAMPLE_BATCH, 7]


def test_duplicate_ticket_ids_make_one_example() -> None:
    client = FakeClient()
    twice = [_prediction("t1"), _prediction("t1", predicted="refunds")]

    summary = export_run(twice, _metrics(), DATASET, "exp-1", client=client)

    assert summary.examples_created == 1 and summary.runs_uploaded == 2
    assert {run["reference_example_id"] for run in client.runs.values()} == {example_id(DATASET, "t1")}


@pytest.mark.parametrize(
    ("method", "error", "expected"),
    [
        (
            "has_dataset",
            LangSmithAPIError("Server error (500)\nAPI Key: lsv2_****34"),
            "read or create dataset",
        ),
        ("create_examples", ConnectionError("Connection refused"), "create examples 1-3"),
        ("create_project", LangSmithConflictError("Conflict for /sessions"), "another experiment name"),
        ("create_run", LangSmithAPIError("Server error (500)"), "upload the run of ticket 't1'"),
        ("create_feedback", LangSmithAPIError("Server error (500)"), "record feedback 'correct_category'"),
    ],
)
def test_a_failing_call_becomes_one_line_export_error(method: str, error: Exception, expected: str) -> None:
    client = FakeClient(fail={method: error})

    with pytest.raises(ExportError) as raised:
        export_run(_predictions(), _metrics(), DATASET, "exp-1", client=client)

    message = str(raised.value)
    assert message.startswith("LangSmith export failed: could not ")
    assert expected in message and "\n" not in message and "API Key" not in message
    assert raised.value.__cause__ is error
    assert client.names()[-1] == method


def test_the_api_key_never_appears_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_pt_very_secret")
    client = FakeClient(fail={"has_dataset": LangSmithAPIError("rejected key lsv2_pt_very_secret")})

    with pytest.raises(ExportError, match=r"rejected key \*\*\*") as raised:
        export_run(_predictions(), _metrics(), DATASET, "exp-1", client=client)

    assert "very_secret" not in str(raised.value)


def test_unreachable_langsmith_fails_fast_with_export_error() -> None:
    key = "lsv2_pt_unreachable_secret_key_1234"
    client = langsmith.Client(
        api_url="http://127.0.0.1:9",
        api_key=key,
        retry_config=Retry(total=0),
        timeout_ms=2000,
        auto_batch_tracing=False,
    )
    started = time.monotonic()
    try:
        with pytest.raises(ExportError) as raised:
            export_run(_predictions(), _metrics(), DATASET, "exp-1", client=client)
    finally:
        client.close(timeout=0)

    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert message.startswith("LangSmith export failed: could not read or create dataset")
    assert "Connection error" in message
    assert "\n" not in message and key not in message and key[:5] + "*" not in message
