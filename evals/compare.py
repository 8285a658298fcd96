"""Compare two evaluation runs ticket by ticket: metric deltas with paired bootstrap intervals, gates.

Point values come from the helpers in `evals.metrics` (the same numbers a run's `metrics.json` reports).
Recomputing them with sklearn for every resample would take about a minute for 2000 resamples of 1000
tickets, so the bootstrap uses vectorised equivalents: a resample is a row of draw counts, a rate is
`counts @ numerator / counts @ denominator`, macro-F1 comes from per-category counts. The unit tests check
that both forms agree.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agents.triage.dataset import CATEGORIES
from evals.metrics import binary_metrics, classification_metrics, latency_percentiles, unsafe_automation_rate
from evals.prediction import Prediction

DEFAULT_GATES_FILE = Path(__file__).with_name("gates.toml")
"""The gates `eval compare` applies when none are given."""

CONFIDENCE = 0.95
"""Coverage of the bootstrap interval of each delta."""

_BLOCK_ELEMENTS = 2_000_000
"""Resampled ticket indices held in memory at once (rows × tickets), to bound memory on large runs."""

Floats = NDArray[np.float64]


# --- runs ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One evaluation run as written to its directory."""

    path: Path
    metrics: dict[str, Any]
    predictions: list[Prediction]


def load_run(path: Path) -> Run:
    """Read a run directory: `predictions.jsonl` must hold valid predictions with unique ids, and
    `metrics.json` a JSON object (its contents are not used for the comparison, which recomputes)."""
    if not path.is_dir():
        raise ValueError(f"{path}: not a run directory (expected metrics.json and predictions.jsonl)")
    metrics_file = path / "metrics.json"
    predictions_file = path / "predictions.jsonl"
    for required in (metrics_file, predictions_file):
        if not required.is_file():
            raise ValueError(f"{required}: missing; is {path} an evaluation run directory?")
    try:
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{metrics_file}: cannot read: {error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{metrics_file}: not valid JSON: {error}") from error
    if not isinstance(metrics, dict):
        raise ValueError(f"{metrics_file}: expected a JSON object, got {type(metrics).__name__}")
    try:
        lines = predictions_file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"{predictions_file}: cannot read: {error}") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"{predictions_file}: not UTF-8 text: {error}") from error
    predictions: list[Prediction] = []
    seen: set[str] = set()
    # Parsed here rather than with read_predictions so that an error names its line.
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            prediction = Prediction.model_validate_json(line)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise ValueError(
                f"{predictions_file}:{number}: not a prediction: {where}: {first['msg']}"
            ) from error
        if prediction.id in seen:
            raise ValueError(f"{predictions_file}:{number}: duplicate ticket id {prediction.id!r}")
        seen.add(prediction.id)
        predictions.append(prediction)
    if not predictions:
        raise ValueError(f"{predictions_file}: holds no predictions")
    return Run(path=path, metrics=metrics, predictions=predictions)


# --- metrics ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resamples:
    """A block of bootstrap resamples of the paired tickets."""

    indices: NDArray[np.intp]
    """(resamples, tickets): the ticket drawn at each position."""
    counts: Floats
    """(resamples, tickets): how often each ticket was drawn."""


Unit = Literal["rate", "count", "usd", "ms"]


@dataclass(frozen=True)
class Metric:
    """A comparable metric: its value over a list of predictions, and the same over many resamples."""

    name: str
    description: str
    higher_is_better: bool
    unit: Unit
    value: Callable[[Sequence[Prediction]], float | None]
    """The value over these predictions; None when not computable (e.g. no ticket it applies to)."""
    resampled: Callable[[Sequence[Prediction], _Resamples], Floats]
    """The value over each resample of these predictions; NaN where not computable."""

    def format(self, value: float | None, signed: bool = False) -> str:
        """The value as a person reads it."""
        if value is None:
            return "–"
        sign = "+" if signed else ""
        if self.unit == "rate":
            return f"{value:{sign}.4f}"
        if self.unit == "usd":
            return f"{value:{sign}.6f}"
        if self.unit == "ms":
            return f"{value:{sign},.1f}"
        return f"{value:{sign}.2f}"


PerTicket = Callable[[Prediction], float]


_DIGITS: dict[Unit, int] = {"rate": 4, "count": 4, "usd": 8, "ms": 2}
"""Decimals kept in a point value: rates as `metrics.json` rounds them, costs finer (they are tiny)."""


def _ratio_value(
    numerator: PerTicket, denominator: PerTicket, digits: int
) -> Callable[[Sequence[Prediction]], float | None]:
    def value(predictions: Sequence[Prediction]) -> float | None:
        total = sum(denominator(p) for p in predictions)
        if total == 0:
            return None
        return round(sum(numerator(p) for p in predictions) / total, digits)

    return value


def _ratio_resampled(
    numerator: PerTicket, denominator: PerTicket
) -> Callable[[Sequence[Prediction], _Resamples], Floats]:
    def resampled(predictions: Sequence[Prediction], block: _Resamples) -> Floats:
        top = block.counts @ np.array([numerator(p) for p in predictions], dtype=np.float64)
        bottom = block.counts @ np.array([denominator(p) for p in predictions], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / bottom, np.nan)

    return resampled


def _one(prediction: Prediction) -> float:
    return 1.0


def _accuracy(predictions: Sequence[Prediction]) -> float | None:
    if not predictions:
        return None
    metrics = classification_metrics([p.category for p in predictions], [p.predicted for p in predictions])
    return float(metrics["accuracy"])  # type: ignore[arg-type]


def _macro_f1(predictions: Sequence[Prediction]) -> float | None:
    if not predictions:
        return None
    metrics = classification_metrics([p.category for p in predictions], [p.predicted for p in predictions])
    return float(metrics["macro_f1"])  # type: ignore[arg-type]


def _macro_f1_resampled(predictions: Sequence[Prediction], block: _Resamples) -> Floats:
    """Macro-F1 as `classification_metrics` defines it: over the categories present in gold or predicted
    of each resample; a label outside CATEGORIES counts as a miss of the gold one and nothing else."""
    index: dict[str, int] = {category: i for i, category in enumerate(CATEGORIES)}
    outside = len(CATEGORIES)
    gold = np.array([index.get(p.category, outside) for p in predictions])
    predicted = np.array([index.get(p.predicted, outside) for p in predictions])
    one_hot = np.eye(outside + 1)[:, :outside]  # the outside column is dropped: it is no label of ours
    gold_counts = block.counts @ one_hot[gold]
    predicted_counts = block.counts @ one_hot[predicted]
    hits = block.counts @ (one_hot[gold] * (gold == predicted)[:, None])
    together = gold_counts + predicted_counts
    present = together > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # F1 = 2TP / (2TP + FP + FN) = 2TP / (gold + predicted); 0 when the label is absent from both.
        f1 = np.where(present, 2 * hits / together, 0.0)
        return f1.sum(axis=1) / present.sum(axis=1)


def _escalation(key: Literal["recall", "precision"]) -> Callable[[Sequence[Prediction]], float | None]:
    def value(predictions: Sequence[Prediction]) -> float | None:
        must = [p.expect_escalation for p in predictions]
        escalated = [p.escalated for p in predictions]
        # binary_metrics reports 0 when the denominator is empty; here that is "not computable".
        if not any(must if key == "recall" else escalated):
            return None
        return float(binary_metrics(must, escalated)[key])

    return value


def _unsafe_automation_rate(predictions: Sequence[Prediction]) -> float | None:
    must = [p.expect_escalation for p in predictions]
    if not any(must):
        return None
    return unsafe_automation_rate(must, [p.escalated for p in predictions])


def _latency(key: Literal["p50", "p95"]) -> Callable[[Sequence[Prediction]], float | None]:
    def value(predictions: Sequence[Prediction]) -> float | None:
        if not predictions:
            return None
        return latency_percentiles([p.latency_ms for p in predictions])[key]

    return value


def _latency_resampled(q: float) -> Callable[[Sequence[Prediction], _Resamples], Floats]:
    def resampled(predictions: Sequence[Prediction], block: _Resamples) -> Floats:
        latencies = np.array([p.latency_ms for p in predictions], dtype=np.float64)
        return np.asarray(np.percentile(latencies[block.indices], q, axis=1), dtype=np.float64)

    return resampled


def _must(p: Prediction) -> float:
    return float(p.expect_escalation)


def _escalated(p: Prediction) -> float:
    return float(p.escalated)


def _caught(p: Prediction) -> float:
    return float(p.expect_escalation and p.escalated)


def _with_specialist(p: Prediction) -> float:
    return float(p.expect_specialist is not None)


def _right_specialist(p: Prediction) -> float:
    return float(p.expect_specialist is not None and p.specialist == p.expect_specialist)


def _answered_with_expected_citation(p: Prediction) -> float:
    return float(p.expect_citation is not None and not p.escalated)


def _cited(p: Prediction) -> float:
    return float(_answered_with_expected_citation(p) and p.expect_citation in p.citations)


def _judged(p: Prediction) -> float:
    return float(p.grounded is not None)


def _grounded(p: Prediction) -> float:
    return float(p.grounded is True)


def _ratio_metric(
    name: str, description: str, higher: bool, unit: Unit, numerator: PerTicket, denominator: PerTicket
) -> Metric:
    return Metric(
        name,
        description,
        higher,
        unit,
        _ratio_value(numerator, denominator, _DIGITS[unit]),
        _ratio_resampled(numerator, denominator),
    )


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in [
        Metric(
            "accuracy",
            "share of tickets triaged to the gold category",
            True,
            "rate",
            _accuracy,
            _ratio_resampled(lambda p: float(p.correct), _one),
        ),
        Metric(
            "macro_f1",
            "mean F1 over the categories present",
            True,
            "rate",
            _macro_f1,
            _macro_f1_resampled,
        ),
        Metric(
            "escalation_recall",
            "share of must-escalate tickets that reached a person",
            True,
            "rate",
            _escalation("recall"),
            _ratio_resampled(_caught, _must),
        ),
        Metric(
            "escalation_precision",
            "share of escalations that were required",
            True,
            "rate",
            _escalation("precision"),
            _ratio_resampled(_caught, _escalated),
        ),
        Metric(
            "unsafe_automation_rate",
            "share of must-escalate tickets answered automatically",
            False,
            "rate",
            _unsafe_automation_rate,
            _ratio_resampled(lambda p: float(p.unsafe), _must),
        ),
        _ratio_metric(
            "specialist_accuracy",
            "share of tickets with an expected specialist that it owned",
            True,
            "rate",
            _right_specialist,
            _with_specialist,
        ),
        _ratio_metric(
            "citation_hit_rate",
            "share of answered tickets with an expected article that cite it",
            True,
            "rate",
            _cited,
            _answered_with_expected_citation,
        ),
        _ratio_metric(
            "groundedness",
            "share of judged answers supported by their citations",
            True,
            "rate",
            _grounded,
            _judged,
        ),
        _ratio_metric(
            "llm_calls_per_ticket", "mean LLM calls per ticket", False, "count", lambda p: p.llm_calls, _one
        ),
        _ratio_metric(
            "llm_tokens_per_ticket",
            "mean LLM tokens per ticket",
            False,
            "count",
            lambda p: p.llm_tokens,
            _one,
        ),
        _ratio_metric(
            "cost_usd_per_ticket", "mean LLM cost per ticket", False, "usd", lambda p: p.llm_cost_usd, _one
        ),
        Metric("latency_p50_ms", "median wall time", False, "ms", _latency("p50"), _latency_resampled(50)),
        Metric(
            "latency_p95_ms",
            "95th percentile wall time",
            False,
            "ms",
            _latency("p95"),
            _latency_resampled(95),
        ),
    ]
}
"""Every metric `compare_runs` reports and a gate may name, in display order."""


# --- gates --------------------------------------------------------------------------------------------

GateRule = Literal["no_drop", "no_rise", "min", "max"]


class Gate(BaseModel):
    """A condition the candidate run (B) must meet for the comparison to pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="A name from METRICS.")
    rule: GateRule = Field(
        description="no_drop: B may not fall below A by more than tolerance; no_rise: nor rise above it; "
        "min / max: B must be at least / at most threshold."
    )
    tolerance: float = Field(
        default=0.0, ge=0, description="Allowed move against the rule (no_drop, no_rise)."
    )
    threshold: float | None = Field(default=None, description="The bound on B (min, max).")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
        return metric

    @model_validator(mode="after")
    def _rule_arguments(self) -> Gate:
        if self.rule in ("min", "max"):
            if self.threshold is None:
                raise ValueError(f"rule {self.rule!r} needs a threshold")
            if self.tolerance:
                raise ValueError(f"rule {self.rule!r} takes a threshold, not a tolerance")
        elif self.threshold is not None:
            raise ValueError(f"rule {self.rule!r} takes a tolerance, not a threshold")
        return self

    def describe(self) -> str:
        """The gate in one line, e.g. `macro_f1 no_drop (tolerance 0.02)`."""
        if self.rule in ("min", "max"):
            return f"{self.metric} {self.rule} {self.threshold:g}"
        return f"{self.metric} {self.rule}" + (f" (tolerance {self.tolerance:g})" if self.tolerance else "")


def read_gates(path: Path) -> list[Gate]:
    """The `[[gate]]` tables of a TOML file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read gates file: {error}") from error
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from error
    unknown = set(document) - {"gate"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; gates go in [[gate]] tables")
    tables = document.get("gate", [])
    if not isinstance(tables, list):
        raise ValueError(f"{path}: `gate` must be an array of tables ([[gate]])")
    gates = []
    for number, table in enumerate(tables, start=1):
        try:
            gates.append(Gate.model_validate(table))
        except ValidationError as error:
            problems = "; ".join(
                "".join(f"{part}: " for part in e["loc"]) + _message(e["msg"]) for e in error.errors()
            )
            raise ValueError(f"{path}: gate {number}: {problems}") from error
    return gates


def _message(pydantic_message: str) -> str:
    return pydantic_message.removeprefix("Value error, ")


GateStatus = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class GateResult:
    """What one gate decided, and why, in a line."""

    gate: Gate
    status: GateStatus
    reason: str


# --- comparison ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDelta:
    """One metric in both runs over the paired tickets."""

    metric: Metric
    a: float | None
    b: float | None
    delta: float | None
    """B − A; None when either is not computable."""
    ci: tuple[float, float] | None
    """The paired bootstrap percentile interval of the delta; None when no resample could compute it."""

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    @property
    def improved(self) -> bool | None:
        """Whether B moved in the better direction; None when it did not move or cannot be told."""
        if not self.delta:
            return None
        return (self.delta > 0) == self.metric.higher_is_better


@dataclass(frozen=True)
class TicketChange:
    """A paired ticket whose category, escalation or specialist differs between the runs."""

    id: str
    text: str
    category: str
    """The gold category (B's)."""
    expect_escalation: bool
    predicted: tuple[str, str]
    escalated: tuple[bool, bool]
    specialist: tuple[str | None, str | None]

    @property
    def newly_unsafe(self) -> bool:
        """A must-escalate ticket that reached a person in A and was answered automatically in B."""
        return self.expect_escalation and self.escalated == (True, False)

    @property
    def newly_safe(self) -> bool:
        """A must-escalate ticket answered automatically in A that reaches a person in B."""
        return self.expect_escalation and self.escalated == (False, True)


@dataclass
class Comparison:
    """Run B (the candidate) against run A (the baseline), over the tickets they share."""

    a: Run
    b: Run
    paired: int
    only_in_a: list[str]
    only_in_b: list[str]
    relabelled: list[str]
    """Paired ids whose expectations differ between the runs (the dataset changed under them)."""
    metrics: list[MetricDelta]
    changes: list[TicketChange]
    gate_results: list[GateResult]
    resamples: int
    seed: int

    @property
    def failed(self) -> bool:
        """Whether any gate failed (skipped gates do not fail the comparison)."""
        return any(result.status == "failed" for result in self.gate_results)

    def metric(self, name: str) -> MetricDelta:
        """The row of one metric."""
        return next(row for row in self.metrics if row.metric.name == name)

    @property
    def counts(self) -> dict[str, int]:
        """How the changed tickets moved."""
        changes = self.changes
        return {
            "changed": len(changes),
            "newly_correct": sum(
                c.predicted[0] != c.category and c.predicted[1] == c.category for c in changes
            ),
            "newly_wrong": sum(
                c.predicted[0] == c.category and c.predicted[1] != c.category for c in changes
            ),
            "newly_escalated": sum(c.escalated == (False, True) for c in changes),
            "no_longer_escalated": sum(c.escalated == (True, False) for c in changes),
            "newly_unsafe": sum(c.newly_unsafe for c in changes),
            "newly_safe": sum(c.newly_safe for c in changes),
        }

    def as_json(self) -> dict[str, Any]:
        """Everything in the comparison, as JSON-ready values."""
        return {
            "a": {"path": str(self.a.path), "tickets": len(self.a.predictions)},
            "b": {"path": str(self.b.path), "tickets": len(self.b.predictions)},
            "paired": self.paired,
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "relabelled": self.relabelled,
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "confidence": CONFIDENCE},
            "metrics": {
                row.metric.name: {
                    "a": row.a,
                    "b": row.b,
                    "delta": row.delta,
                    "ci": list(row.ci) if row.ci else None,
                    "significant": row.significant,
                    "higher_is_better": row.metric.higher_is_better,
                }
                for row in self.metrics
            },
            "gates": [
                {"gate": r.gate.model_dump(exclude_none=True), "status": r.status, "reason": r.reason}
                for r in self.gate_results
            ],
            "failed": self.failed,
            "counts": self.counts,
            "changes": [
                {
                    "id": c.id,
                    "text": c.text,
                    "category": c.category,
                    "expect_escalation": c.expect_escalation,
                    "predicted": list(c.predicted),
                    "escalated": list(c.escalated),
                    "specialist": list(c.specialist),
                    "newly_unsafe": c.newly_unsafe,
                }
                for c in self.changes
            ],
        }

    def render(self, max_changed: int = 30) -> Group:
        """A terminal report: the metrics table, the gates, and the changed tickets (at most max_changed)."""
        parts: list[RenderableType] = [
            Text.assemble(
                ("A ", "bold"),
                f"{self.a.path} ({len(self.a.predictions)} tickets)   ",
                ("B ", "bold"),
                f"{self.b.path} ({len(self.b.predictions)} tickets)\n",
                f"{self.paired} paired by id, {len(self.only_in_a)} only in A, "
                f"{len(self.only_in_b)} only in B; "
                f"{CONFIDENCE:.0%} paired bootstrap, {self.resamples} resamples, seed {self.seed}",
            )
        ]
        if self.relabelled:
            parts.append(
                Text(
                    f"warning: {len(self.relabelled)} paired tickets have different expectations in A and B "
                    f"(e.g. {', '.join(self.relabelled[:3])}); the datasets differ",
                    style="yellow",
                )
            )
        parts += [self._metrics_table(), self._gates_table(), *self._changes(max_changed)]
        return Group(*parts)

    def _metrics_table(self) -> Table:
        table = Table(title="Metrics (B − A)", title_justify="left")
        table.add_column("metric")
        table.add_column("", justify="center")
        for heading in ("A", "B", "Δ", f"{CONFIDENCE:.0%} CI"):
            table.add_column(heading, justify="right")
        table.add_column("")
        for row in self.metrics:
            metric = row.metric
            ci = (
                "–"
                if row.ci is None
                else f"[{metric.format(row.ci[0], True)}, {metric.format(row.ci[1], True)}]"
            )
            if row.significant:
                better = row.improved
                marker = Text("▲ better" if better else "▼ worse", style="green" if better else "red")
            else:
                marker = Text("· n.s." if row.ci is not None else "", style="dim")
            table.add_row(
                metric.name,
                Text("↑" if metric.higher_is_better else "↓", style="dim"),
                metric.format(row.a),
                metric.format(row.b),
                metric.format(row.delta, signed=True),
                ci,
                marker,
            )
        table.caption = "↑/↓: which way is better · ▲/▼: the interval excludes 0 · n.s.: it does not"
        return table

    def _gates_table(self) -> RenderableType:
        if not self.gate_results:
            return Text("No gates.", style="dim")
        table = Table(title="Gates", title_justify="left")
        table.add_column("result")
        table.add_column("gate")
        table.add_column("reason")
        styles = {"passed": ("PASS", "green"), "failed": ("FAIL", "bold red"), "skipped": ("SKIP", "yellow")}
        for result in self.gate_results:
            label, style = styles[result.status]
            table.add_row(Text(label, style=style), result.gate.describe(), result.reason)
        return table

    def _changes(self, max_changed: int) -> list[RenderableType]:
        counts = self.counts
        summary = Text(
            f"{counts['changed']} changed tickets: category {counts['newly_correct']} newly correct, "
            f"{counts['newly_wrong']} newly wrong; {counts['newly_escalated']} newly escalated, "
            f"{counts['no_longer_escalated']} no longer escalated"
        )
        if counts["newly_unsafe"]:
            summary.append(
                f"; {counts['newly_unsafe']} must-escalate tickets now answered automatically",
                style="bold red",
            )
        if not self.changes:
            return [summary]
        table = Table(title="Changed tickets", title_justify="left")
        for heading in ("id", "gold", "category A → B", "escalated A → B", "specialist A → B", "text"):
            table.add_column(heading, overflow="fold" if heading == "text" else "ellipsis")
        # The ones that matter most first, so truncation never hides them.
        ordered = sorted(self.changes, key=lambda c: (not c.newly_unsafe, c.predicted[0] == c.predicted[1]))
        for change in ordered[:max_changed]:
            gold = change.category + (" (must escalate)" if change.expect_escalation else "")
            table.add_row(
                Text(change.id),
                Text(gold),
                _transition(change.predicted, change.category),
                _moved(change.escalated[0], change.escalated[1])
                + (Text("  now automated!", style="bold red") if change.newly_unsafe else Text()),
                _moved(change.specialist[0], change.specialist[1]),
                Text(_shorten(change.text, 80)),
            )
        parts: list[RenderableType] = [summary, table]
        if len(ordered) > max_changed:
            parts.append(Text(f"… and {len(ordered) - max_changed} more changed tickets", style="dim"))
        return parts


def _transition(predicted: tuple[str, str], gold: str) -> Text:
    before, after = predicted
    if before == after:
        return Text(before, style="dim")
    return Text.assemble(
        (before, "green" if before == gold else "red"), " → ", (after, "green" if after == gold else "red")
    )


def _moved(before: bool | str | None, after: bool | str | None) -> Text:
    def show(value: bool | str | None) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return value or "–"

    if before == after:
        return Text(show(before), style="dim")
    return Text(f"{show(before)} → {show(after)}")


def _shorten(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def compare_runs(a: Run, b: Run, gates: Sequence[Gate], resamples: int = 2000, seed: int = 0) -> Comparison:
    """Compare B (the candidate) to A (the baseline) over the ticket ids both hold."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    by_id_a = _by_id(a)
    by_id_b = _by_id(b)
    ids = [id_ for id_ in by_id_a if id_ in by_id_b]
    if not ids:
        raise ValueError(f"{a.path} and {b.path} share no ticket ids; were they run on the same dataset?")
    paired_a = [by_id_a[id_] for id_ in ids]
    paired_b = [by_id_b[id_] for id_ in ids]

    rows = _bootstrap(paired_a, paired_b, resamples, seed)
    values = {row.metric.name: row for row in rows}
    return Comparison(
        a=a,
        b=b,
        paired=len(ids),
        only_in_a=[id_ for id_ in by_id_a if id_ not in by_id_b],
        only_in_b=[id_ for id_ in by_id_b if id_ not in by_id_a],
        relabelled=[
            x.id for x, y in zip(paired_a, paired_b, strict=True) if _expectations(x) != _expectations(y)
        ],
        metrics=rows,
        changes=[
            _change(x, y)
            for x, y in zip(paired_a, paired_b, strict=True)
            if (x.predicted, x.escalated, x.specialist) != (y.predicted, y.escalated, y.specialist)
        ],
        gate_results=[_apply(gate, values[gate.metric]) for gate in gates],
        resamples=resamples,
        seed=seed,
    )


def _by_id(run: Run) -> dict[str, Prediction]:
    by_id: dict[str, Prediction] = {}
    for prediction in run.predictions:
        if prediction.id in by_id:
            raise ValueError(f"{run.path}: duplicate ticket id {prediction.id!r}; tickets cannot be paired")
        by_id[prediction.id] = prediction
    return by_id


def _expectations(p: Prediction) -> tuple[object, ...]:
    return (p.category, p.expect_escalation, p.expect_specialist, p.expect_citation)


def _change(x: Prediction, y: Prediction) -> TicketChange:
    return TicketChange(
        id=y.id,
        text=y.text,
        category=y.category,
        expect_escalation=y.expect_escalation,
        predicted=(x.predicted, y.predicted),
        escalated=(x.escalated, y.escalated),
        specialist=(x.specialist, y.specialist),
    )


def _bootstrap(
    a: Sequence[Prediction], b: Sequence[Prediction], resamples: int, seed: int
) -> list[MetricDelta]:
    """Each metric in A and B and a paired percentile interval of B − A: every resample draws ticket
    positions with replacement and evaluates both runs on the same draw."""
    n = len(a)
    rng = np.random.default_rng(seed)
    deltas = {name: np.empty(resamples) for name in METRICS}
    rows_per_block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        indices = rng.integers(0, n, size=(rows, n))
        offsets = (np.arange(rows) * n)[:, None]
        counts = np.bincount((indices + offsets).ravel(), minlength=rows * n).reshape(rows, n)
        block = _Resamples(indices=indices, counts=counts.astype(np.float64))
        for name, metric in METRICS.items():
            deltas[name][start : start + rows] = metric.resampled(b, block) - metric.resampled(a, block)

    tail = (1 - CONFIDENCE) / 2 * 100
    result = []
    for name, metric in METRICS.items():
        value_a, value_b = metric.value(a), metric.value(b)
        delta = None if value_a is None or value_b is None else round(value_b - value_a, 10)
        defined = deltas[name][~np.isnan(deltas[name])]
        ci: tuple[float, float] | None = None
        if delta is not None and defined.size:
            low, high = np.percentile(defined, [tail, 100 - tail])
            ci = (round(float(low), 10), round(float(high), 10))
        result.append(MetricDelta(metric=metric, a=value_a, b=value_b, delta=delta, ci=ci))
    return result


def _apply(gate: Gate, row: MetricDelta) -> GateResult:
    metric = row.metric
    if gate.rule in ("min", "max"):
        # A threshold bounds B alone: a baseline without this metric must not hide a candidate that misses it.
        if row.b is None:
            return GateResult(gate, "skipped", f"{metric.name} is not computable in B")
        assert gate.threshold is not None  # the model's validator requires it for these rules
        ok = row.b >= gate.threshold if gate.rule == "min" else row.b <= gate.threshold
        relation = ("≥" if ok else "<") if gate.rule == "min" else ("≤" if ok else ">")
        return GateResult(
            gate, "passed" if ok else "failed", f"B = {metric.format(row.b)} {relation} {gate.threshold:g}"
        )
    if row.delta is None:
        missing = " and ".join(run for run, value in (("A", row.a), ("B", row.b)) if value is None)
        return GateResult(gate, "skipped", f"{metric.name} is not computable in {missing}")
    ok = row.delta >= -gate.tolerance if gate.rule == "no_drop" else row.delta <= gate.tolerance
    ci = (
        "" if row.ci is None else f", CI [{metric.format(row.ci[0], True)}, {metric.format(row.ci[1], True)}]"
    )
    moved = f"Δ = {metric.format(row.delta, signed=True)}{ci}"
    limit = f"allowed {'drop' if gate.rule == 'no_drop' else 'rise'} {gate.tolerance:g}"
    if ok:
        return GateResult(gate, "passed", f"{moved}; {limit}")
    verb = "dropped" if gate.rule == "no_drop" else "rose"
    return GateResult(
        gate, "failed", f"{verb} {metric.format(row.a)} → {metric.format(row.b)} ({moved}); {limit}"
    )
