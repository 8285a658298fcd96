"""The self-contained HTML page of an evaluation run: run facts, headline numbers, figures, worst errors."""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from evals.prediction import Prediction

TEMPLATE_DIR = Path(__file__).with_name("templates")
TEMPLATE_NAME = "report.html.j2"
FIGURE_DPI = 90
"""Enough for a laptop screen; higher only grows the page."""
WORST_ERRORS = 25
TEXT_CHARS = 300
NA = "n/a"
GROUP_COLUMNS = ("n", "accuracy", "macro-F1", "escalation recall", "unsafe automation")


@dataclass(frozen=True)
class FigureView:
    """One figure as the page shows it."""

    id: str
    alt: str
    caption: str
    src: str


@dataclass(frozen=True)
class ErrorRow:
    """One of the worst errors, every value already a display string."""

    kind: str
    id: str
    dataset: str
    text: str
    gold: str
    predicted: str
    confidence: str
    expected_escalation: str
    escalated: str
    escalation_reason: str
    specialist: str
    policy_rule: str
    explanation: str
    citations: str
    error: str | None


def write_html_report(metrics: Mapping[str, Any], predictions: Sequence[Prediction], path: Path) -> None:
    """Write one self-contained HTML page (inline CSS, PNG figures as data URIs) for a run to `path`."""
    template = _environment().get_template(TEMPLATE_NAME)
    page = template.render(
        title=_title(metrics),
        run_facts=_run_facts(metrics),
        versions=_versions(metrics),
        headline=_headline(metrics),
        figures=_figures(metrics, predictions),
        group_columns=GROUP_COLUMNS,
        per_tag=_group_rows(metrics.get("per_tag")),
        per_dataset=_group_rows(metrics.get("per_dataset")),
        worst=_worst_errors(predictions),
        worst_limit=WORST_ERRORS,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a crash mid-write never leaves a half page where a good one was.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, path)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Autoescape unconditionally: the ".j2" suffix would defeat select_autoescape, and ticket texts are
    # untrusted dataset content.
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# ---------------------------------------------------------------- formatting


def _number(value: Any) -> float | None:
    """A finite float, or None for anything absent, non-numeric or NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: Any, digits: int = 2, suffix: str = "") -> str:
    number = _number(value)
    if number is None:
        return NA
    if isinstance(value, int):
        return f"{value}{suffix}"
    return f"{number:.{digits}f}{suffix}"


def _pct(value: Any) -> str:
    number = _number(value)
    return NA if number is None else f"{number * 100:.1f}%"


def _dig(metrics: Mapping[str, Any], *keys: str) -> Any:
    """A nested value, or None when any level is absent or null."""
    value: Any = metrics
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    return NA if value is None or value == "" else str(value)


def _truncate(text: str, limit: int = TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- tables


def _title(metrics: Mapping[str, Any]) -> str:
    datasets = _dig(metrics, "run", "datasets")
    if isinstance(datasets, list) and datasets:
        return "Evaluation report: " + ", ".join(map(str, datasets))
    return "Evaluation report"


def _run_facts(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    datasets = _dig(metrics, "run", "datasets")
    return [
        ("datasets", ", ".join(map(str, datasets)) if isinstance(datasets, list) and datasets else NA),
        ("mode", _text(_dig(metrics, "run", "mode"))),
        ("policy", _text(_dig(metrics, "run", "policy"))),
        ("triage model", _text(_dig(metrics, "run", "triage_model"))),
        ("started at", _text(_dig(metrics, "run", "started_at"))),
        ("duration", _fmt(_dig(metrics, "run", "duration_s"), 1, " s")),
    ]


def _versions(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    versions = _dig(metrics, "run", "versions")
    if not isinstance(versions, Mapping):
        return []
    return [(str(name), _text(version)) for name, version in sorted(versions.items())]


def _headline(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("tickets", _fmt(metrics.get("n"))),
        ("errors", _fmt(metrics.get("errors"))),
        ("accuracy", _pct(metrics.get("accuracy"))),
        ("macro-F1", _fmt(metrics.get("macro_f1"), 3)),
        ("escalation precision", _pct(_dig(metrics, "escalation", "precision"))),
        ("escalation recall", _pct(_dig(metrics, "escalation", "recall"))),
        ("unsafe automation", _pct(metrics.get("unsafe_automation_rate"))),
        ("specialist accuracy", _pct(metrics.get("specialist_accuracy"))),
        ("citation hit rate", _pct(metrics.get("citation_hit_rate"))),
        ("groundedness", _pct(metrics.get("groundedness"))),
        ("LLM calls / ticket", _fmt(_dig(metrics, "llm", "calls_per_ticket"), 2)),
        ("LLM tokens / ticket", _fmt(_dig(metrics, "llm", "tokens_per_ticket"), 1)),
        ("LLM cost / ticket", _fmt(_dig(metrics, "llm", "cost_usd_per_ticket"), 6, " USD")),
        ("latency p50", _fmt(_dig(metrics, "latency_ms", "p50"), 1, " ms")),
        ("latency p95", _fmt(_dig(metrics, "latency_ms", "p95"), 1, " ms")),
        ("latency p99", _fmt(_dig(metrics, "latency_ms", "p99"), 1, " ms")),
    ]


def _group_rows(groups: Any) -> list[list[str]]:
    """Rows of the per-tag or per-dataset table, one per group, sorted by name."""
    if not isinstance(groups, Mapping):
        return []
    return [
        [
            str(name),
            _fmt(_dig(values, "n")),
            _pct(_dig(values, "accuracy")),
            _fmt(_dig(values, "macro_f1"), 3),
            _pct(_dig(values, "escalation_recall")),
            _pct(_dig(values, "unsafe_automation_rate")),
        ]
        for name, values in sorted(groups.items())
    ]


# ---------------------------------------------------------------- worst errors


def _worst_errors(predictions: Sequence[Prediction]) -> list[ErrorRow]:
    """Unsafe automations, then confident misclassifications, then unnecessary escalations."""
    unsafe = sorted((p for p in predictions if p.unsafe), key=lambda p: -p.confidence)
    wrong = sorted((p for p in predictions if not p.unsafe and not p.correct), key=lambda p: -p.confidence)
    needless = [p for p in predictions if p.correct and p.escalated and not p.expect_escalation]
    ranked = [("unsafe automation", p) for p in unsafe]
    ranked += [("misclassified", p) for p in wrong]
    ranked += [("unnecessary escalation", p) for p in needless]
    return [_error_row(kind, p) for kind, p in ranked[:WORST_ERRORS]]


def _error_row(kind: str, p: Prediction) -> ErrorRow:
    return ErrorRow(
        kind=kind,
        id=p.id,
        dataset=p.dataset,
        text=_truncate(p.text),
        gold=p.category,
        predicted=p.predicted,
        confidence=f"{p.confidence:.2f}",
        expected_escalation="yes" if p.expect_escalation else "no",
        escalated="yes" if p.escalated else "no",
        escalation_reason=_text(p.escalation_reason),
        specialist=_text(p.specialist),
        policy_rule=_text(p.policy_rule),
        explanation=_text(p.explanation),
        citations=", ".join(p.citations) or "none",
        error=p.error,
    )


# ---------------------------------------------------------------- figures


def _figures(metrics: Mapping[str, Any], predictions: Sequence[Prediction]) -> list[FigureView]:
    """Every figure the run has data for, in page order."""
    views = [
        _confusion_view(metrics.get("confusion")),
        _per_category_view(metrics.get("per_category")),
        _latency_view(predictions, metrics.get("latency_ms")),
        _node_latency_view(metrics.get("node_latency_ms")),
        _escalation_reasons_view(metrics.get("escalation_reasons")),
    ]
    return [view for view in views if view is not None]


def _png(figure: Figure) -> str:
    """The figure as a data URI; the figure is cleared so its artists can be freed at once."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    # A bare Figure is never registered with pyplot, so there is no manager to close; clearing drops
    # the artists now instead of at the next garbage collection.
    figure.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_axes(width: float, height: float) -> tuple[Figure, Axes]:
    # matplotlib.figure.Figure directly (not pyplot): no backend, no display, no global figure registry.
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _confusion_view(confusion: Any) -> FigureView | None:
    labels = _dig(confusion, "labels") if isinstance(confusion, Mapping) else None
    matrix = _dig(confusion, "matrix") if isinstance(confusion, Mapping) else None
    if not isinstance(labels, list) or not labels or not isinstance(matrix, list):
        return None
    counts = np.asarray(matrix, dtype=float)
    if counts.shape != (len(labels), len(labels)):
        return None
    return FigureView(
        id="fig-confusion",
        alt=f"Confusion matrix heatmap: gold category on rows, predicted category on columns, "
        f"over {len(labels)} categories with counts in each cell",
        caption="Confusion matrix (rows: gold, columns: predicted)",
        src=_png(_confusion_figure([str(label) for label in labels], counts)),
    )


def _confusion_figure(labels: list[str], counts: np.ndarray) -> Figure:
    figure, axes = _new_axes(1.2 + 0.9 * len(labels), 1.0 + 0.8 * len(labels))
    image = axes.imshow(counts, cmap="Blues")
    colorbar = figure.colorbar(image, ax=axes, shrink=0.8, label="tickets")
    colorbar.locator = MaxNLocator(integer=True)
    colorbar.update_ticks()
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels, rotation=35, ha="right")
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted category")
    axes.set_ylabel("gold category")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if count > threshold else "black"
        axes.text(column, row, f"{count:g}", ha="center", va="center", color=colour, fontsize=9)
    return figure


def _per_category_view(per_category: Any) -> FigureView | None:
    if not isinstance(per_category, Mapping) or not per_category:
        return None
    return FigureView(
        id="fig-per-category",
        alt=f"Grouped bar chart of precision and recall for each of {len(per_category)} categories",
        caption="Precision and recall per category",
        src=_png(_per_category_figure(per_category)),
    )


def _per_category_figure(per_category: Mapping[str, Any]) -> Figure:
    names = [str(name) for name in per_category]
    precision = [_number(_dig(v, "precision")) or 0.0 for v in per_category.values()]
    recall = [_number(_dig(v, "recall")) or 0.0 for v in per_category.values()]
    positions = np.arange(len(names))
    figure, axes = _new_axes(max(5.0, 1.1 * len(names)), 3.4)
    axes.bar(positions - 0.2, precision, width=0.4, label="precision", color="#4c72b0")
    axes.bar(positions + 0.2, recall, width=0.4, label="recall", color="#dd8452")
    axes.set_xticks(positions, names, rotation=20, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("score")
    axes.set_xlabel("category")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return figure


def _latency_view(predictions: Sequence[Prediction], latency: Any) -> FigureView | None:
    values = np.asarray([p.latency_ms for p in predictions], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return FigureView(
        id="fig-latency",
        alt=f"Histogram of per-ticket latency in milliseconds over {values.size} tickets, "
        "with p50, p95 and p99 marked",
        caption="Latency per ticket",
        src=_png(_latency_figure(values, _percentiles(values, latency))),
    )


def _percentiles(values: np.ndarray, latency: Any) -> dict[str, float]:
    """The run's reported percentiles, computed from the predictions where the metrics lack them."""
    computed = np.percentile(values, [50, 95, 99])
    reported = [_number(_dig(latency, key)) for key in ("p50", "p95", "p99")]
    return {
        key: value if value is not None else float(fallback)
        for key, value, fallback in zip(("p50", "p95", "p99"), reported, computed, strict=True)
    }


def _latency_figure(values: np.ndarray, percentiles: Mapping[str, float]) -> Figure:
    figure, axes = _new_axes(6.0, 3.2)
    bins = min(50, len(np.histogram_bin_edges(values, bins="auto")) - 1)
    axes.hist(values, bins=max(bins, 1), color="#8da0cb", edgecolor="white")
    for (name, value), style in zip(percentiles.items(), ("-", "--", ":"), strict=True):
        axes.axvline(value, color="#c44e52", linestyle=style, label=f"{name} {value:.1f} ms")
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("tickets")
    axes.legend(loc="upper right")
    return figure


def _node_latency_view(node_latency: Any) -> FigureView | None:
    if not isinstance(node_latency, Mapping) or not node_latency:
        return None
    return FigureView(
        id="fig-node-latency",
        alt=f"Grouped bar chart of p50 and p95 latency in milliseconds for each of {len(node_latency)} "
        "graph nodes",
        caption="Latency per graph node",
        src=_png(_node_latency_figure(node_latency)),
    )


def _node_latency_figure(node_latency: Mapping[str, Any]) -> Figure:
    names = [str(name) for name in node_latency]
    p50 = [_number(_dig(v, "p50")) or 0.0 for v in node_latency.values()]
    p95 = [_number(_dig(v, "p95")) or 0.0 for v in node_latency.values()]
    positions = np.arange(len(names))
    figure, axes = _new_axes(max(5.0, 1.0 * len(names)), 3.2)
    axes.bar(positions - 0.2, p50, width=0.4, label="p50", color="#55a868")
    axes.bar(positions + 0.2, p95, width=0.4, label="p95", color="#c44e52")
    axes.set_xticks(positions, names, rotation=20, ha="right")
    axes.set_xlabel("graph node")
    axes.set_ylabel("latency (ms)")
    axes.legend(loc="upper right")
    return figure


def _escalation_reasons_view(reasons: Any) -> FigureView | None:
    if not isinstance(reasons, Mapping):
        return None
    counts = {str(k): float(n) for k, v in reasons.items() if (n := _number(v)) is not None and n > 0}
    if not counts:
        return None
    return FigureView(
        id="fig-escalation-reasons",
        alt=f"Horizontal bar chart of escalation counts for each of {len(counts)} escalation reasons",
        caption="Escalations by reason",
        src=_png(_escalation_reasons_figure(counts)),
    )


def _escalation_reasons_figure(counts: Mapping[str, float]) -> Figure:
    # Ascending so the most frequent reason is drawn at the top.
    ordered = sorted(counts.items(), key=lambda item: item[1])
    figure, axes = _new_axes(6.0, 1.0 + 0.35 * len(ordered))
    bars = axes.barh([name for name, _ in ordered], [count for _, count in ordered], color="#937860")
    axes.bar_label(bars, fmt="%g", padding=2)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("escalations")
    axes.set_ylabel("reason")
    return figure
