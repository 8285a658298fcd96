"""Upload an evaluation run to LangSmith: its tickets as a dataset, the run as an experiment on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import requests
from langsmith.utils import LangSmithConflictError, LangSmithError

from evals.prediction import Prediction

API_KEY_VARIABLES = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
"""Either names the key; the SDK reads the same two, LANGSMITH_ first."""

EXAMPLE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "support-router/langsmith-examples")
"""Namespace of the examples' ids: the same ticket in the same dataset always gets the same id."""

EXAMPLE_BATCH = 100
"""Examples per `create_examples` call, so one request never carries a whole large dataset."""

RUN_NAME = "support-router turn"

DATASET_DESCRIPTION = (
    "Labelled support tickets from support-router's offline evaluation. Inputs: the customer's message "
    "and customer id; outputs: the expected category, escalation, specialist and cited article."
)

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (LangSmithError, requests.RequestException, OSError)
"""What the SDK raises when LangSmith refuses or cannot be reached (OSError covers raw socket errors)."""

_MESSAGE_LIMIT = 300


class ExportError(RuntimeError):
    """LangSmith refused the export or could not be reached; the message is one line naming the step."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export left in LangSmith."""

    dataset_id: str
    experiment_name: str
    examples_created: int
    examples_reused: int
    runs_uploaded: int
    url: str | None = None
    """The experiment's page, when the client knows the app's address."""


class _Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


class _Project(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def url(self) -> str | None: ...


class LangSmithClient(Protocol):
    """The part of `langsmith.Client` an export uses; tests pass a fake with these methods."""

    def has_dataset(self, *, dataset_name: str) -> bool: ...

    def read_dataset(self, *, dataset_name: str) -> _Identified: ...

    def create_dataset(self, dataset_name: str, *, description: str | None = None) -> _Identified: ...

    def list_examples(self, *, dataset_id: uuid.UUID) -> Iterable[_Identified]: ...

    def create_examples(self, *, dataset_id: uuid.UUID, examples: Sequence[dict[str, Any]]) -> object: ...

    def create_project(
        self,
        project_name: str,
        *,
        metadata: dict[str, Any] | None = None,
        reference_dataset_id: uuid.UUID | None = None,
    ) -> _Project: ...

    def create_run(
        self,
        name: str,
        inputs: dict[str, Any],
        run_type: Literal["chain"],
        *,
        project_name: str | None = None,
        **kwargs: Any,
    ) -> None: ...

    def create_feedback(
        self, run_id: uuid.UUID, key: str, *, score: int, session_id: uuid.UUID
    ) -> object: ...


def langsmith_configured() -> bool:
    """Whether a LangSmith API key is set (a blank one does not count, as in the SDK)."""
    return any((os.environ.get(name) or "").strip() for name in API_KEY_VARIABLES)


def example_id(dataset_name: str, prediction_id: str) -> uuid.UUID:
    """The LangSmith example id of one ticket of a dataset, the same on every export."""
    return uuid.uuid5(EXAMPLE_NAMESPACE, f"{dataset_name}:{prediction_id}")


def export_run(
    predictions: Sequence[Prediction],
    metrics: Mapping[str, Any],
    dataset_name: str,
    experiment_name: str,
    client: LangSmithClient | None = None,
) -> ExportSummary:
    """Upload the tickets (once) to `dataset_name` and this run as the experiment `experiment_name`.

    Raises `ExportError` when LangSmith refuses or cannot be reached; what was already uploaded stays.
    """
    if client is None:
        client = _default_client()

    with _step(f"read or create dataset {dataset_name!r}"):
        if client.has_dataset(dataset_name=dataset_name):
            dataset = client.read_dataset(dataset_name=dataset_name)
        else:
            dataset = client.create_dataset(dataset_name, description=DATASET_DESCRIPTION)

    with _step(f"list the examples of dataset {dataset_name!r}"):
        existing = {uuid.UUID(str(example.id)) for example in client.list_examples(dataset_id=dataset.id)}

    examples = _examples(predictions, dataset_name)
    missing = [example for example in examples.values() if example["id"] not in existing]
    for start in range(0, len(missing), EXAMPLE_BATCH):
        batch = missing[start : start + EXAMPLE_BATCH]
        with _step(f"create examples {start + 1}-{start + len(batch)} in dataset {dataset_name!r}"):
            client.create_examples(dataset_id=dataset.id, examples=batch)

    with _step(f"create experiment {experiment_name!r}"):
        project = client.create_project(
            experiment_name, metadata=experiment_metadata(metrics), reference_dataset_id=dataset.id
        )

    start_time = _started_at(metrics)
    for prediction in predictions:
        run_id = uuid.uuid4()
        end_time = start_time + timedelta(milliseconds=max(prediction.latency_ms, 0.0))
        with _step(f"upload the run of ticket {prediction.id!r}"):
            client.create_run(
                RUN_NAME,
                {"text": prediction.text},
                "chain",
                project_name=experiment_name,
                id=run_id,
                reference_example_id=example_id(dataset_name, prediction.id),
                start_time=start_time,
                end_time=end_time,
                outputs=run_outputs(prediction),
                error=prediction.error,
                extra={"metadata": run_metadata(prediction)},
            )
        for key, score in feedback_scores(prediction).items():
            with _step(f"record feedback {key!r} of ticket {prediction.id!r}"):
                client.create_feedback(run_id, key, score=score, session_id=project.id)
        # Predictions carry durations, not timestamps: lay the runs out back to back from the run's start.
        start_time = end_time

    return ExportSummary(
        dataset_id=str(dataset.id),
        experiment_name=experiment_name,
        examples_created=len(missing),
        examples_reused=len(examples) - len(missing),
        runs_uploaded=len(predictions),
        url=getattr(project, "url", None),
    )


def example_record(prediction: Prediction, dataset_name: str) -> dict[str, Any]:
    """One ticket as a LangSmith example: what the router is given, and the labels it is judged by."""
    return {
        "id": example_id(dataset_name, prediction.id),
        "inputs": {"text": prediction.text, "customer_id": prediction.customer_id},
        # `reference_outputs`, not `outputs`: the SDK (0.15) deprecates the latter in example dicts.
        "reference_outputs": {
            "category": prediction.category,
            "expect_escalation": prediction.expect_escalation,
            "expect_specialist": prediction.expect_specialist,
            "expect_citation": prediction.expect_citation,
        },
        "metadata": {"tags": list(prediction.tags), "dataset": prediction.dataset},
    }


def run_outputs(prediction: Prediction) -> dict[str, Any]:
    """What the router decided and said for one ticket."""
    return {
        "predicted": prediction.predicted,
        "confidence": prediction.confidence,
        "escalated": prediction.escalated,
        "escalation_reason": prediction.escalation_reason,
        "specialist": prediction.specialist,
        "policy_rule": prediction.policy_rule,
        "response": prediction.response,
        "citations": list(prediction.citations),
        "decided_by": prediction.decided_by,
        "llm_calls": prediction.llm_calls,
        "llm_tokens": prediction.llm_tokens,
    }


def run_metadata(prediction: Prediction) -> dict[str, Any]:
    """The rest of the prediction's explanation and cost, for filtering runs in the experiment."""
    return {
        "ticket_id": prediction.id,
        "dataset": prediction.dataset,
        "tags": list(prediction.tags),
        "turns": prediction.turns,
        "policy_version": prediction.policy_version,
        "explanation": prediction.explanation,
        "secondary_intents": list(prediction.secondary_intents),
        "risk_signals": list(prediction.risk_signals),
        "tool_calls": list(prediction.tool_calls),
        "proposed_action": prediction.proposed_action,
        "grounded": prediction.grounded,
        "llm_cost_usd": prediction.llm_cost_usd,
        "llm_fallbacks": list(prediction.llm_fallbacks),
        "latency_ms": prediction.latency_ms,
        "node_ms": dict(prediction.node_ms),
    }


def feedback_scores(prediction: Prediction) -> dict[str, int]:
    """The run's scores; a check that does not apply to the ticket is left out rather than scored."""
    scores = {
        "correct_category": int(prediction.correct),
        "escalation_correct": int(prediction.escalated == prediction.expect_escalation),
        "unsafe_automation": int(prediction.unsafe),
    }
    if prediction.expect_specialist is not None:
        scores["specialist_correct"] = int(prediction.specialist == prediction.expect_specialist)
    if prediction.grounded is not None:
        scores["grounded"] = int(prediction.grounded)
    return scores


def experiment_metadata(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The run's facts (datasets, mode, policy, models, versions, timing) and its headline numbers."""
    run = metrics.get("run")
    escalation = metrics.get("escalation")
    headline = {
        "n": metrics.get("n"),
        "errors": metrics.get("errors"),
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "escalation_recall": escalation.get("recall") if isinstance(escalation, Mapping) else None,
        "unsafe_automation_rate": metrics.get("unsafe_automation_rate"),
    }
    facts = dict(run) if isinstance(run, Mapping) else {}
    return {**facts, **{key: value for key, value in headline.items() if value is not None}}


def _examples(predictions: Sequence[Prediction], dataset_name: str) -> dict[uuid.UUID, dict[str, Any]]:
    """One example per distinct ticket id (the first one wins), in the run's order."""
    examples: dict[uuid.UUID, dict[str, Any]] = {}
    for prediction in predictions:
        record = example_record(prediction, dataset_name)
        examples.setdefault(record["id"], record)
    return examples


def _started_at(metrics: Mapping[str, Any]) -> datetime:
    run = metrics.get("run")
    started = run.get("started_at") if isinstance(run, Mapping) else None
    try:
        moment = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _default_client() -> LangSmithClient:
    from langsmith import Client

    with _step("set up the LangSmith client"):
        # Without a background queue every call fails where it is made, so an error names its step;
        # a sampling rate from the environment (meant for live tracing) must not drop experiment runs.
        return Client(auto_batch_tracing=False, tracing_sampling_rate=1.0)


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Turn what the SDK raises during `what` into one `ExportError` line."""
    try:
        yield
    except _TRANSPORT_ERRORS as error:
        hint = " (choose another experiment name)" if isinstance(error, LangSmithConflictError) else ""
        raise ExportError(f"LangSmith export failed: could not {what}{hint}: {_reason(error)}") from error


def _reason(error: BaseException) -> str:
    """The first line of the error, without any API key and not too long to read."""
    # The SDK's own messages run over several lines, one of them a partly masked API key.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = lines[0] if lines else type(error).__name__
    for name in API_KEY_VARIABLES:
        key = (os.environ.get(name) or "").strip()
        if key:
            reason = reason.replace(key, "***")
    if len(reason) > _MESSAGE_LIMIT:
        reason = reason[: _MESSAGE_LIMIT - 1] + "…"
    return reason
