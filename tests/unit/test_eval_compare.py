"""Comparing two evaluation runs: hand-computed deltas, bootstrap intervals, changed tickets, gates."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from agents.triage.dataset import CATEGORIES
from evals.compare import (
    DEFAULT_GATES_FILE,
    METRICS,
    Comparison,
    Gate,
    Run,
    _Resamples,
    compare_runs,
    load_run,
    read_gates,
)
from evals.prediction import Prediction


def ticket(id_: str, category: str = "billing", **fields: Any) -> Prediction:
    """A prediction with defaults for everything the test does not care about."""
    values: dict[str, Any] = {
        "id": id_,
        "dataset": "tiny",
        "text": f"text of {id_}",
        "category": category,
        "predicted": category,
        "confidence": 0.9,
        "expect_escalation": False,
        "escalated": False,
        "latency_ms": 100.0,
    }
    values.update(fields)
    return Prediction(**values)


def write_run(directory: Path, predictions: list[Prediction], metrics: object | None = None) -> Run:
    directory.mkdir(parents=True)
    (directory / "metrics.json").write_text(json.dumps({} if metrics is None else metrics))
    (directory / "predictions.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in predictions))
    return load_run(directory)


# Baseline A and candidate B over four shared tickets; t5 is only in A, t6 only in B.
RUN_A = [
    ticket("t1", "billing", expect_specialist="billing", specialist="billing", expect_citation="kb-1",
           citations=["kb-1"], grounded=True, llm_calls=1, latency_ms=100),
    ticket("t2", "refund", predicted="billing", expect_escalation=True, escalated=True, llm_calls=0,
           latency_ms=200),
    ticket("t3", "technical", expect_escalation=True, escalated=False, expect_specialist="technical",
           specialist="technical", expect_citation="kb-2", grounded=False, llm_calls=2, latency_ms=300),
    ticket("t4", "other", specialist="general", grounded=True, llm_calls=1, latency_ms=400),
    ticket("t5", "billing"),
]  # fmt: skip
RUN_B = [
    ticket("t1", "billing", expect_specialist="billing", specialist="billing", expect_citation="kb-1",
           citations=["kb-1"], grounded=True, llm_calls=1, latency_ms=100),
    # Now right, and answered automatically although it must reach a person.
    ticket("t2", "refund", expect_escalation=True, escalated=False, specialist="refunds", grounded=True,
           llm_calls=1, latency_ms=150),
    # Now escalated, so its expected specialist and citation are not there.
    ticket("t3", "technical", expect_escalation=True, escalated=True, expect_specialist="technical",
           expect_citation="kb-2", llm_calls=0, latency_ms=250),
    # Now wrong, into a category nobody else is in, and escalated without need.
    ticket("t4", "other", predicted="account_access", escalated=True, llm_calls=0, latency_ms=500),
    ticket("t6", "refund"),
]  # fmt: skip


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Run, Run]:
    return write_run(tmp_path / "a", RUN_A), write_run(tmp_path / "b", RUN_B)


@pytest.fixture
def comparison(runs: tuple[Run, Run]) -> Comparison:
    return compare_runs(*runs, gates=[], resamples=300)


def test_values_and_deltas_by_hand(comparison: Comparison) -> None:
    expected = {
        # metric: (A, B, B − A)
        "accuracy": (0.75, 0.75, 0.0),  # t2 fixed, t4 broken
        # A: billing 2/3, refund 0, technical 1, other 1. B adds account_access (predicted only, F1 0):
        # billing 1, refund 1, technical 1, other 0, account_access 0 -> 3/5.
        "macro_f1": (0.6667, 0.6, -0.0667),
        "escalation_recall": (0.5, 0.5, 0.0),  # of t2, t3: A caught t2, B caught t3
        "escalation_precision": (1.0, 0.5, -0.5),  # B also escalated t4
        "unsafe_automation_rate": (0.5, 0.5, 0.0),
        "specialist_accuracy": (1.0, 0.5, -0.5),  # t1 and t3 expect one; B's t3 went to a person
        "citation_hit_rate": (0.5, 1.0, 0.5),  # A: t1 hit, t3 missed; B: t3 escalated so only t1 counts
        "groundedness": (0.6667, 1.0, 0.3333),  # A: t1, t3, t4 judged; B: t1, t2
        "llm_calls_per_ticket": (1.0, 0.5, -0.5),
        "llm_tokens_per_ticket": (0.0, 0.0, 0.0),
        "cost_usd_per_ticket": (0.0, 0.0, 0.0),
        "latency_p50_ms": (250.0, 200.0, -50.0),
        # numpy's linear interpolation at rank 0.95 × 3 = 2.85
        "latency_p95_ms": (385.0, 462.5, 77.5),
    }
    assert [row.metric.name for row in comparison.metrics] == list(METRICS) == list(expected)
    for name, (a, b, delta) in expected.items():
        row = comparison.metric(name)
        assert (row.a, row.b) == (a, b), name
        assert row.delta == pytest.approx(delta, abs=1e-9), name
        assert row.ci is not None and row.ci[0] <= row.ci[1], name


def test_unpaired_ids_are_counted_and_left_out(comparison: Comparison) -> None:
    assert comparison.paired == 4
    assert comparison.only_in_a == ["t5"]
    assert comparison.only_in_b == ["t6"]
    assert comparison.relabelled == []
    as_json = comparison.as_json()
    assert (as_json["paired"], as_json["only_in_a"], as_json["only_in_b"]) == (4, ["t5"], ["t6"])


def test_changed_tickets_and_the_must_escalate_flag(comparison: Comparison) -> None:
    changes = {change.id: change for change in comparison.changes}
    assert sorted(changes) == ["t2", "t3", "t4"]  # t1 did the same in both
    t2 = changes["t2"]
    assert t2.predicted == ("billing", "refund")
    assert t2.escalated == (True, False)
    assert t2.specialist == (None, "refunds")
    assert t2.text == "text of t2"
    assert t2.newly_unsafe
    assert changes["t3"].newly_safe and not changes["t3"].newly_unsafe
    assert not changes["t4"].newly_unsafe  # escalated in B, and never had to be
    assert comparison.counts == {
        "changed": 3,
        "newly_correct": 1,
        "newly_wrong": 1,
        "newly_escalated": 2,
        "no_longer_escalated": 1,
        "newly_unsafe": 1,
        "newly_safe": 1,
    }


def test_identical_runs_have_zero_deltas_and_zero_width_intervals(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", RUN_A)
    comparison = compare_runs(a, load_run(a.path), gates=read_gates(DEFAULT_GATES_FILE), resamples=300)
    for row in comparison.metrics:
        assert row.delta == 0.0, row.metric.name
        assert row.ci == (0.0, 0.0), row.metric.name
        assert not row.significant
    assert comparison.changes == []
    assert not comparison.failed


def better_runs(tmp_path: Path) -> tuple[Run, Run]:
    """60 tickets: A triages 20 right, B 50."""
    a = [ticket(f"t{i}", "billing", predicted="billing" if i < 20 else "refund") for i in range(60)]
    b = [ticket(f"t{i}", "billing", predicted="billing" if i < 50 else "refund") for i in range(60)]
    return write_run(tmp_path / "a", a), write_run(tmp_path / "b", b)


def test_a_clearly_better_run_has_an_interval_that_excludes_zero(tmp_path: Path) -> None:
    comparison = compare_runs(*better_runs(tmp_path), gates=[], resamples=1000)
    accuracy = comparison.metric("accuracy")
    assert accuracy.delta == pytest.approx(0.5)
    assert accuracy.ci is not None
    assert 0 < accuracy.ci[0] < 0.5 < accuracy.ci[1]
    assert accuracy.significant and accuracy.improved


def test_the_bootstrap_is_deterministic_with_a_seed(tmp_path: Path) -> None:
    a, b = better_runs(tmp_path)
    first = compare_runs(a, b, gates=[], resamples=200, seed=7).as_json()
    assert compare_runs(a, b, gates=[], resamples=200, seed=7).as_json() == first
    other = compare_runs(a, b, gates=[], resamples=200, seed=8).as_json()
    assert other["metrics"]["accuracy"]["ci"] != first["metrics"]["accuracy"]["ci"]


def test_the_vectorised_bootstrap_matches_the_metric_helpers() -> None:
    """Each resample, computed with counts, equals the helper-based value of the resampled tickets."""
    rng = np.random.default_rng(3)
    labels = [*CATEGORIES, "not_a_category"]  # a stray label counts as a miss, never as a class
    predictions = [
        ticket(
            f"t{i}",
            str(rng.choice(CATEGORIES)),
            predicted=str(rng.choice(labels)),
            expect_escalation=bool(rng.random() < 0.3),
            escalated=bool(rng.random() < 0.3),
            expect_specialist=str(rng.choice(["billing", "access"])) if rng.random() < 0.5 else None,
            specialist=str(rng.choice(["billing", "access", "general"])),
            expect_citation="kb-1" if rng.random() < 0.5 else None,
            citations=["kb-1"] if rng.random() < 0.5 else [],
            grounded=[None, True, False][int(rng.integers(3))],
            llm_calls=int(rng.integers(4)),
            llm_tokens=int(rng.integers(2000)),
            llm_cost_usd=float(rng.random() / 100),
            latency_ms=float(rng.lognormal(5, 1)),
        )
        for i in range(40)
    ]
    # Random draws, plus a draw of one ticket only, where most categories and denominators are absent.
    indices = np.vstack([rng.integers(0, 40, size=(20, 40)), np.zeros((1, 40), dtype=np.int64)])
    counts = np.stack([np.bincount(row, minlength=40) for row in indices]).astype(np.float64)
    block = _Resamples(indices=indices, counts=counts)
    for name, metric in METRICS.items():
        resampled = metric.resampled(predictions, block)
        for row, drawn in zip(resampled, indices, strict=True):
            expected = metric.value([predictions[i] for i in drawn])
            if expected is None:
                assert np.isnan(row), name
            else:
                assert row == pytest.approx(expected, abs=0.006 if metric.unit == "ms" else 6e-5), name


@pytest.mark.parametrize(
    ("gate", "status"),
    [
        # macro_f1 moved by -0.0667
        (Gate(metric="macro_f1", rule="no_drop"), "failed"),
        (Gate(metric="macro_f1", rule="no_drop", tolerance=0.05), "failed"),
        (Gate(metric="macro_f1", rule="no_drop", tolerance=0.0667), "passed"),  # exactly at the limit
        (Gate(metric="citation_hit_rate", rule="no_drop"), "passed"),  # +0.5
        (Gate(metric="escalation_recall", rule="no_drop"), "passed"),  # unchanged
        # latency_p95_ms moved by +77.5, llm_calls_per_ticket by -0.5
        (Gate(metric="latency_p95_ms", rule="no_rise"), "failed"),
        (Gate(metric="latency_p95_ms", rule="no_rise", tolerance=100), "passed"),
        (Gate(metric="llm_calls_per_ticket", rule="no_rise"), "passed"),
        (Gate(metric="unsafe_automation_rate", rule="no_rise"), "passed"),  # unchanged
        # B's accuracy is 0.75, its p50 latency 200
        (Gate(metric="accuracy", rule="min", threshold=0.75), "passed"),
        (Gate(metric="accuracy", rule="min", threshold=0.8), "failed"),
        (Gate(metric="latency_p50_ms", rule="max", threshold=250), "passed"),
        (Gate(metric="latency_p50_ms", rule="max", threshold=150), "failed"),
    ],
    ids=lambda value: value.describe() if isinstance(value, Gate) else value,
)
def test_gate_rules(comparison: Comparison, gate: Gate, status: str) -> None:
    result = compare_runs(comparison.a, comparison.b, gates=[gate], resamples=50).gate_results[0]
    assert result.status == status, result.reason
    assert result.reason and "\n" not in result.reason
    assert compare_runs(comparison.a, comparison.b, gates=[gate], resamples=50).failed == (status == "failed")


def test_a_failed_gate_says_what_moved(comparison: Comparison) -> None:
    gate = Gate(metric="macro_f1", rule="no_drop", tolerance=0.02)
    result = compare_runs(comparison.a, comparison.b, gates=[gate], resamples=50).gate_results[0]
    assert result.reason.startswith("dropped 0.6667 → 0.6000 (Δ = -0.0667, CI [")
    assert result.reason.endswith("allowed drop 0.02")


def test_gates_on_a_metric_that_cannot_be_computed_are_skipped(tmp_path: Path) -> None:
    # No ticket expects a specialist in either run; only B's answers were judged for groundedness.
    a = write_run(tmp_path / "a", [ticket("t1"), ticket("t2", grounded=None)])
    b = write_run(tmp_path / "b", [ticket("t1", grounded=True), ticket("t2", grounded=False)])
    gates = [
        Gate(metric="specialist_accuracy", rule="no_drop"),
        Gate(metric="specialist_accuracy", rule="min", threshold=0.5),
        Gate(metric="groundedness", rule="no_drop", tolerance=0.01),
        Gate(metric="escalation_recall", rule="no_drop"),  # nothing had to escalate
        # A threshold only concerns B, so a baseline without the metric does not stop it.
        Gate(metric="groundedness", rule="min", threshold=0.6),
    ]
    comparison = compare_runs(a, b, gates=gates, resamples=50)
    assert [r.status for r in comparison.gate_results] == [
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "failed",
    ]
    assert comparison.gate_results[2].reason == "groundedness is not computable in A"
    assert comparison.gate_results[3].reason == "escalation_recall is not computable in A and B"
    assert comparison.metric("groundedness").ci is None
    assert comparison.failed
    assert not compare_runs(a, b, gates=gates[:4], resamples=50).failed  # skipped is not failed


def test_the_default_gates_file_parses() -> None:
    assert [(g.metric, g.rule, g.tolerance) for g in read_gates(DEFAULT_GATES_FILE)] == [
        ("escalation_recall", "no_drop", 0.0),
        ("unsafe_automation_rate", "no_rise", 0.0),
        ("macro_f1", "no_drop", 0.02),
        ("groundedness", "no_drop", 0.01),
    ]


def test_read_gates_reads_every_rule(tmp_path: Path) -> None:
    path = tmp_path / "gates.toml"
    path.write_text(
        '[[gate]]\nmetric = "accuracy"\nrule = "min"\nthreshold = 0.8\n'
        '[[gate]]\nmetric = "latency_p95_ms"\nrule = "no_rise"\ntolerance = 50\n'
    )
    assert read_gates(path) == [
        Gate(metric="accuracy", rule="min", threshold=0.8),
        Gate(metric="latency_p95_ms", rule="no_rise", tolerance=50),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[gate]]\nmetric = "speed"\nrule = "no_drop"\n',
            "gate 1: metric: unknown metric 'speed'; known: accuracy, macro_f1",
        ),
        ('[[gate]]\nmetric = "accuracy"\nrule = "no_fall"\n', "gate 1: rule:"),
        ('[[gate]]\nmetric = "accuracy"\nrule = "min"\n', "gate 1: rule 'min' needs a threshold"),
        ('[[gate]]\nmetric = "accuracy"\nrule = "no_drop"\nthreshold = 0.5\n', "takes a tolerance"),
        ('[[gate]]\nmetric = "accuracy"\nrule = "no_drop"\ntolerence = 0.5\n', "tolerence"),
        ('[[gate]]\nmetric = "accuracy"\nrule = "no_drop"\ntolerance = -1\n', "tolerance"),
        ('[gate]\nmetric = "accuracy"\nrule = "no_drop"\n', "array of tables"),
        ('[[gates]]\nmetric = "accuracy"\nrule = "no_drop"\n', "unknown top-level keys ['gates']"),
        ("[[gate]\n", "not valid TOML"),
    ],
)
def test_read_gates_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gates.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="gates.toml") as raised:
        read_gates(path)
    assert message in str(raised.value)


def test_read_gates_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope.toml: cannot read"):
        read_gates(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_dir", "not a run directory"),
        ("no_metrics", "metrics.json: missing"),
        ("no_predictions", "predictions.jsonl: missing"),
        ("metrics_list", "expected a JSON object, got list"),
        ("metrics_broken", "metrics.json: not valid JSON"),
        ("bad_line", "predictions.jsonl:2: not a prediction: escalated: Field required"),
        ("duplicate", "predictions.jsonl:2: duplicate ticket id 't1'"),
        ("empty", "holds no predictions"),
    ],
)
def test_load_run_rejects_bad_directories(tmp_path: Path, setup: str, message: str) -> None:
    run = tmp_path / "run"
    if setup != "no_dir":
        run.mkdir()
        good = ticket("t1").model_dump_json()
        broken = ticket("t2").model_dump(exclude={"escalated"})
        lines = {"bad_line": [good, json.dumps(broken)], "duplicate": [good, good], "empty": []}
        metrics = {"metrics_list": "[]", "metrics_broken": "{"}.get(setup, "{}")
        if setup != "no_metrics":
            (run / "metrics.json").write_text(metrics)
        if setup != "no_predictions":
            (run / "predictions.jsonl").write_text("\n".join(lines.get(setup, [good])) + "\n")
    with pytest.raises(ValueError, match=str(run)) as raised:
        load_run(run)
    assert message in str(raised.value)


def test_load_run_keeps_the_metrics(tmp_path: Path) -> None:
    run = write_run(tmp_path / "a", RUN_A, metrics={"accuracy": 0.8})
    assert run.metrics == {"accuracy": 0.8}
    assert [p.id for p in run.predictions] == ["t1", "t2", "t3", "t4", "t5"]


def test_runs_without_shared_tickets_cannot_be_compared(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [ticket("t1")])
    b = write_run(tmp_path / "b", [ticket("u1")])
    with pytest.raises(ValueError, match="share no ticket ids"):
        compare_runs(a, b, gates=[])


def test_relabelled_tickets_are_reported(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [ticket("t1", "billing"), ticket("t2")])
    b = write_run(tmp_path / "b", [ticket("t1", "refund", predicted="billing"), ticket("t2")])
    assert compare_runs(a, b, gates=[], resamples=20).relabelled == ["t1"]


def rendered(comparison: Comparison, max_changed: int = 30) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(comparison.render(max_changed=max_changed))
    return console.export_text()


def test_render_shows_metrics_gates_and_changes(runs: tuple[Run, Run]) -> None:
    a, b = runs
    gates = [Gate(metric="macro_f1", rule="no_drop"), Gate(metric="accuracy", rule="min", threshold=0.5)]
    text = rendered(compare_runs(a, b, gates=gates, resamples=100))
    for expected in (
        "4 paired by id, 1 only in A, 1 only in B",
        "macro_f1",
        "0.6667",
        "-0.0667",
        "95% CI",
        "FAIL",
        "PASS",
        "3 changed tickets: category 1 newly correct, 1 newly wrong;",
        "2 newly escalated, 1 no longer escalated",
        "1 must-escalate tickets now answered automatically",
        "now automated!",
        "billing → refund",
        "text of t2",
    ):
        assert expected in text, expected


def test_render_truncates_changes_keeping_the_unsafe_ones(comparison: Comparison) -> None:
    text = rendered(comparison, max_changed=1)
    assert "text of t2" in text  # the must-escalate ticket now automated comes first
    assert "text of t3" not in text and "text of t4" not in text
    assert "… and 2 more changed tickets" in text


def test_render_prints_ticket_text_verbatim(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [ticket("t1", text="pay [bold]now[/bold] or [red]else")])
    b = write_run(tmp_path / "b", [ticket("t1", text="pay [bold]now[/bold] or [red]else", escalated=True)])
    assert "pay [bold]now[/bold] or [red]else" in rendered(compare_runs(a, b, gates=[], resamples=20))


def test_as_json_is_plain_json(runs: tuple[Run, Run]) -> None:
    comparison = compare_runs(*runs, gates=read_gates(DEFAULT_GATES_FILE), resamples=100)
    document = json.loads(json.dumps(comparison.as_json(), allow_nan=False))
    assert document["metrics"]["macro_f1"]["delta"] == pytest.approx(-0.0667)
    assert document["metrics"]["latency_p95_ms"]["higher_is_better"] is False
    assert [gate["status"] for gate in document["gates"]] == ["passed", "passed", "failed", "passed"]
    assert document["failed"] is True
    assert document["counts"]["newly_unsafe"] == 1
    assert [change["id"] for change in document["changes"] if change["newly_unsafe"]] == ["t2"]
