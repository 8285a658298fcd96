"""The evaluation runner and its metrics: numbers checked by hand, cases run through the real graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.specialists.extractive import Citation, RetrievedPassage
from agents.toolkit import Toolkit
from app.settings import Settings
from evals.groundedness import measure
from evals.output import write_run
from evals.prediction import Prediction, read_predictions
from evals.runner import evaluate, open_setup, read_cases
from evals.summary import summarize
from graph.policy.deployment import default_policy_set

RUN = {"datasets": ["tiny"], "mode": "offline"}


def predicted(gold: str, guess: str, must: bool, escalated: bool, ms: float, **extra: Any) -> Prediction:
    return Prediction(
        id=f"{gold}-{guess}-{ms}",
        dataset="tiny",
        text="t",
        category=gold,
        predicted=guess,
        confidence=0.9,
        expect_escalation=must,
        escalated=escalated,
        latency_ms=ms,
        **extra,
    )


BOTH = {"expect_specialist": "billing", "specialist": "billing"}
TWO_RISKS = "risk:refund_request,chargeback"
TINY = [
    predicted("billing", "billing", False, False, 10, tags=["a"], **BOTH),
    predicted("billing", "refund", True, True, 20, tags=["a"], escalation_reason=TWO_RISKS),
    predicted("refund", "refund", True, False, 30, tags=["a"], grounded=True),
    predicted("refund", "refund", True, True, 40, tags=["a"], escalation_reason="low_confidence"),
    predicted("technical", "billing", False, True, 50, tags=["a"], escalation_reason="low_confidence"),
    predicted("technical", "technical", False, False, 60, expect_specialist="billing", grounded=False),
]  # fmt: skip


def test_the_metrics_match_the_hand_computed_values() -> None:
    metrics = summarize(TINY, RUN)
    # billing: predicted twice (once right) of 2 gold; refund: 3 predicted (2 right) of 2 gold;
    # technical: 1 predicted (right) of 2 gold.
    per = metrics["per_category"]
    assert per["billing"]["precision"] == 0.5 and per["billing"]["recall"] == 0.5
    assert per["refund"]["precision"] == pytest.approx(2 / 3, abs=1e-4) and per["refund"]["recall"] == 1.0
    assert per["technical"]["precision"] == 1.0 and per["technical"]["recall"] == 0.5
    f1 = [0.5, 2 * (2 / 3) / (2 / 3 + 1), 2 * 0.5 / 1.5]
    assert metrics["macro_f1"] == pytest.approx(sum(f1) / 3, abs=1e-4)
    assert metrics["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    # 3 must reach a person; 2 of them did; 3 were escalated, 2 of them rightly.
    assert metrics["escalation"]["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["escalation"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["unsafe_automation_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # numpy's linear interpolation over 10..60: p50 = 35, p95 = 57.5, p99 = 59.5
    assert metrics["latency_ms"] == {"p50": 35.0, "p95": 57.5, "p99": 59.5}
    assert metrics["specialist_accuracy"] == 0.5 and metrics["groundedness"] == 0.5
    assert metrics["escalation_reasons"] == {
        "low_confidence": 2,
        "risk:refund_request": 1,
        "risk:chargeback": 1,
    }
    assert metrics["confusion"]["matrix"][0] == [1, 0, 0, 1, 0]  # billing: one right, one as refund
    assert metrics["per_tag"]["a"]["n"] == 5 and "b" not in metrics["per_tag"]
    assert metrics["llm"] is None


def passage(article: str, text: str) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=f"{article}#0",
        article_id=article,
        title=article,
        url="u",
        index=0,
        distance=0.1,
        text=text,
    )


def cite(article: str) -> Citation:
    return Citation(article_id=article, title=article, url="u")


ARTICLE = passage("reset", "Tap Forgot password on the sign-in screen and follow the link we email you.")


@pytest.mark.parametrize(
    ("answer", "cited", "grounded"),
    [
        ("Tap Forgot password on the sign-in screen, then follow the emailed link.", ["reset"], True),
        ("Your refund of 40 euros was approved yesterday and will arrive tomorrow.", ["reset"], False),
        ("Tap Forgot password on the sign-in screen.", [], False),  # cites nothing
        ("Tap Forgot password on the sign-in screen.", ["other"], False),  # cites what was not retrieved
    ],
)
def test_groundedness_asks_whether_the_cited_articles_say_what_the_answer_says(
    answer: str, cited: list[str], grounded: bool
) -> None:
    assert measure(answer, [cite(a) for a in cited], [ARTICLE]).grounded is grounded


def test_the_sources_line_does_not_support_itself() -> None:
    answer = (
        "Unrelated claims about lottery winnings everywhere.\n\nSource: Forgot password sign-in screen link"
    )
    assert not measure(answer, [cite("reset")], [ARTICLE]).grounded


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    lines = [
        {"id": "one", "text": "How do I reset my password?", "category": "account_access",
         "expect_specialist": "access", "tags": ["single"]},
        {"id": "two", "text": "I want a refund for order ord_free_1001", "category": "refund",
         "expect_escalation": True, "customer_id": "cus_free"},
        {"id": "three", "text": "And how long does the reset link stay valid?", "category": "account_access",
         "conversation": ["I was charged twice and I will sue you", "ok, and I forgot my password"]},
    ]  # fmt: skip
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


async def test_cases_run_through_the_graph_and_the_run_is_written(
    dataset: Path, toolkit: Toolkit, settings: Settings, tmp_path: Path
) -> None:
    cases = read_cases([dataset])
    async with open_setup(settings, toolkit, default_policy_set(), None, None) as setup:
        predictions = await evaluate(cases, setup, concurrency=2)
    one, two, three = predictions
    assert [p.id for p in predictions] == ["one", "two", "three"]  # the order of the cases
    assert one.predicted == "account_access" and one.specialist == "access" and not one.escalated
    assert one.citations and one.grounded is True and one.policy_rule and one.explanation
    assert {"intake", "triage", "route", "access", "finalize"} <= set(one.node_ms)
    assert two.escalated and two.grounded is None and two.customer_id == "cus_free"
    assert two.segment and two.priority  # the demo customer was looked up and the policy ranked it
    # The earlier legal threat escalated; a stand-in reviewer replied and the labelled turn ran.
    assert three.turns == 3 and three.error is None and three.predicted == "account_access"

    write_run(tmp_path / "run", summarize(predictions, RUN), predictions)
    assert read_predictions(tmp_path / "run" / "predictions.jsonl") == predictions
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n"] == 3
    assert "fig-confusion" in (tmp_path / "run" / "report.html").read_text()


def test_ids_must_be_unique_across_datasets(dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_text(dataset.read_text())
    with pytest.raises(ValueError, match="appears twice"):
        read_cases([dataset, copy])
