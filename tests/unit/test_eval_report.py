"""The eval HTML report: inline PNG figures, escaped ticket texts, worst errors in order, n/a gaps."""

from __future__ import annotations

import base64
import copy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from evals.prediction import Prediction
from evals.report import write_html_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_PREFIX = "data:image/png;base64,"
ALWAYS = ("fig-confusion", "fig-per-category", "fig-latency")
OPTIONAL = ("fig-node-latency", "fig-escalation-reasons")
SCRIPT = "<script>alert(1)</script>"
LABELS = ["billing", "account_access", "technical", "refund", "other"]


class ReportParser(HTMLParser):
    """Images by id, script tags, and the cell texts of every table row, by the section it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, dict[str, str]] = {}
        self.scripts = 0
        self.rows: dict[str, list[tuple[str | None, list[str]]]] = {}
        self._section = ""
        self._row_id: str | None = None
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "script":
            self.scripts += 1
        elif tag == "img" and "id" in attributes:
            self.images[attributes["id"]] = attributes
        elif tag == "section":
            self._section = attributes.get("id", "")
        elif tag == "tr":
            self._row_id, self._cells = attributes.get("data-id"), []
        elif tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None and self._cells is not None:
            self._cells.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._cells is not None:
            self.rows.setdefault(self._section, []).append((self._row_id, self._cells))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def headline(self) -> dict[str, str]:
        return {cells[0]: cells[1] for _, cells in self.rows.get("headline", [])}

    def error_rows(self) -> list[tuple[str | None, list[str]]]:
        return [row for row in self.rows.get("worst-errors", []) if row[0] is not None]


def _prediction(id: str, category: str, predicted: str, **fields: Any) -> Prediction:
    values: dict[str, Any] = {
        "id": id,
        "dataset": "tickets",
        "text": f"ticket {id}",
        "category": category,
        "predicted": predicted,
        "confidence": 0.8,
        "expect_escalation": False,
        "escalated": False,
        "latency_ms": 25.0,
    }
    return Prediction(**(values | fields))


def _predictions() -> list[Prediction]:
    # The unsafe automation is deliberately not first, so the order on the page is the report's doing.
    return [
        _prediction("ok-1", "billing", "billing", specialist="billing", citations=["kb-billing-1"]),
        _prediction("wrong-low", "technical", "other", confidence=0.41, text="x" * 1000, latency_ms=41.0),
        _prediction(
            "wrong-high",
            "billing",
            "refund",
            confidence=0.97,
            text=f"{SCRIPT} I was charged twice & want it back",
            explanation="rule <b>refund_default</b> matched",
            policy_rule="refund_default",
            latency_ms=33.0,
        ),
        _prediction(
            "unsafe",
            "refund",
            "refund",
            confidence=0.55,
            expect_escalation=True,
            specialist="refunds",
            policy_rule="refund_auto",
            latency_ms=80.0,
        ),
        _prediction(
            "needless",
            "account_access",
            "account_access",
            escalated=True,
            escalation_reason="low_confidence",
            latency_ms=12.0,
        ),
        _prediction(
            "ok-2",
            "refund",
            "refund",
            expect_escalation=True,
            escalated=True,
            escalation_reason="policy:legal_threat",
        ),
        _prediction("ok-3", "other", "other", dataset="adversarial", latency_ms=19.0),
        _prediction("ok-4", "technical", "technical", specialist="technical", latency_ms=55.0),
    ]


def _group(n: int) -> dict[str, Any]:
    return {
        "n": n,
        "accuracy": 0.75,
        "macro_f1": 0.7,
        "escalation_recall": 0.5,
        "unsafe_automation_rate": 0.5,
    }


def _metrics() -> dict[str, Any]:
    return {
        "run": {
            "datasets": ["tickets", "adversarial"],
            "mode": "offline",
            "policy": "default",
            "triage_model": "triage-head-ce8c",
            "started_at": "2026-11-22T10:00:00+00:00",
            "duration_s": 12.3,
            "versions": {"policy": "default", "prompts.triage": "triage-1"},
        },
        "n": 8,
        "errors": 0,
        "accuracy": 0.75,
        "macro_f1": 0.7,
        "per_category": {
            label: {"precision": 0.8, "recall": 0.6, "f1": 0.69, "support": 2} for label in LABELS
        },
        "confusion": {
            "labels": LABELS,
            "matrix": [
                [1, 0, 0, 1, 0],
                [0, 1, 0, 0, 0],
                [0, 0, 1, 0, 1],
                [0, 0, 0, 2, 0],
                [0, 0, 0, 0, 1],
            ],
        },
        "escalation": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "positives": 2, "predicted_positives": 2},
        "unsafe_automation_rate": 0.5,
        "escalation_reasons": {"policy:legal_threat": 1, "low_confidence": 1},
        "specialist_accuracy": 0.9,
        "citation_hit_rate": 0.7,
        "groundedness": 0.98,
        "llm": {
            "calls_per_ticket": 0.06,
            "tokens_per_ticket": 120.5,
            "cost_usd": 0.01,
            "cost_usd_per_ticket": 0.00003,
            "decided_by_llm": 0.05,
            "fallbacks": {"timeout": 2},
        },
        "latency_ms": {"p50": 29.0, "p95": 71.3, "p99": 78.25},
        "node_latency_ms": {
            "triage": {"p50": 10.0, "p95": 20.0, "p99": 30.0},
            "route": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
        },
        "per_tag": {"tier:vip": _group(3), "lang:de": _group(2)},
        "per_dataset": {"tickets": _group(7), "adversarial": _group(1)},
    }


def _render(
    tmp_path: Path, metrics: dict[str, Any], predictions: list[Prediction]
) -> tuple[str, ReportParser]:
    path = tmp_path / "report" / "report.html"
    write_html_report(metrics, predictions, path)
    html = path.read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    return html, parser


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ReportParser]:
    return _render(tmp_path_factory.mktemp("full"), _metrics(), _predictions())


def test_every_figure_is_an_inline_png(full_report: tuple[str, ReportParser]) -> None:
    _, parser = full_report
    assert list(parser.images) == [*ALWAYS, *OPTIONAL]
    for figure_id, attributes in parser.images.items():
        assert attributes["src"].startswith(DATA_PREFIX), figure_id
        png = base64.b64decode(attributes["src"][len(DATA_PREFIX) :], validate=True)
        assert png.startswith(PNG_SIGNATURE), figure_id
        assert len(attributes["alt"]) > 20, figure_id


def test_the_page_is_self_contained(full_report: tuple[str, ReportParser]) -> None:
    html, parser = full_report
    assert parser.scripts == 0
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html


def test_ticket_text_and_explanations_are_escaped(full_report: tuple[str, ReportParser]) -> None:
    html, parser = full_report
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>refund_default</b>" not in html
    row = dict(parser.error_rows())["wrong-high"]
    # The text is shown to the reader verbatim, as text.
    assert f"{SCRIPT} I was charged twice & want it back" in row


def test_worst_errors_list_unsafe_automation_first(full_report: tuple[str, ReportParser]) -> None:
    _, parser = full_report
    rows = parser.error_rows()
    assert [row_id for row_id, _ in rows] == ["unsafe", "wrong-high", "wrong-low", "needless"]
    kinds = [cells[0] for _, cells in rows]
    assert kinds == ["unsafe automation", "misclassified", "misclassified", "unnecessary escalation"]
    unsafe = rows[0][1]
    assert "refund → refund (0.55)" in unsafe
    assert "yes / no" in unsafe
    assert "refund_auto" in unsafe


def test_long_ticket_text_is_truncated(full_report: tuple[str, ReportParser]) -> None:
    _, parser = full_report
    text = dict(parser.error_rows())["wrong-low"][3]
    assert 200 < len(text) <= 300
    assert text.endswith("…")


def test_run_facts_headline_and_group_tables(full_report: tuple[str, ReportParser]) -> None:
    html, parser = full_report
    headline = parser.headline()
    assert headline["accuracy"] == "75.0%"
    assert headline["LLM tokens / ticket"] == "120.5"
    assert headline["latency p95"] == "71.3 ms"
    assert "triage-head-ce8c" in html and "prompts.triage=triage-1" in html
    assert [cells[0] for _, cells in parser.rows["per-tag"][1:]] == ["lang:de", "tier:vip"]
    assert [cells[0] for _, cells in parser.rows["per-dataset"][1:]] == ["adversarial", "tickets"]


def test_optional_figures_are_omitted_without_data(tmp_path: Path) -> None:
    metrics = _metrics() | {"node_latency_ms": {}, "escalation_reasons": {}}
    _, parser = _render(tmp_path, metrics, _predictions())
    assert list(parser.images) == list(ALWAYS)


def test_missing_and_null_values_render_na(tmp_path: Path) -> None:
    metrics = copy.deepcopy(_metrics())
    metrics["llm"] = None
    del metrics["specialist_accuracy"]
    del metrics["node_latency_ms"]
    metrics["groundedness"] = None
    metrics["run"] = {"mode": "offline"}
    html, parser = _render(tmp_path, metrics, _predictions())
    headline = parser.headline()
    for name in ("specialist accuracy", "groundedness", "LLM calls / ticket", "LLM cost / ticket"):
        assert headline[name] == "n/a", name
    assert headline["accuracy"] == "75.0%"
    assert "fig-node-latency" not in parser.images
    assert "<dt>policy</dt><dd>n/a</dd>" in html


def test_an_empty_run_still_renders(tmp_path: Path) -> None:
    _, parser = _render(tmp_path, {"n": 0}, [])
    assert parser.images == {}
    assert parser.error_rows() == []
    assert parser.headline()["tickets"] == "0"


def test_worst_errors_are_capped_at_25(tmp_path: Path) -> None:
    predictions = [_prediction(f"wrong-{i}", "billing", "other", confidence=i / 40) for i in range(30)]
    _, parser = _render(tmp_path, {"n": 30}, predictions)
    ids = [row_id for row_id, _ in parser.error_rows()]
    assert ids == [f"wrong-{i}" for i in range(29, 4, -1)]
