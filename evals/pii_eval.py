"""PII redaction eval: span precision/recall/F1 per entity group and the message-level leak rate."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agents.safety.pii import PiiSpan, Redactor, entity_group
from evals.metrics import latency_percentiles

DEFAULT_DATASET = Path(__file__).resolve().parent / "datasets" / "pii.jsonl"
MIN_GOLD_OVERLAP = 0.5
"""A prediction matches a gold span of its group when it covers at least this share of the gold span."""


@dataclass(frozen=True)
class GoldSpan:
    """One labelled piece of PII."""

    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class PiiExample:
    """One labelled message."""

    id: str
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True)
class SpanScores:
    """Span-level counts and scores of one entity group (or of all of them)."""

    gold: int
    predicted: int
    gold_found: int
    predicted_correct: int

    @property
    def precision(self) -> float:
        return self.predicted_correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.gold_found / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class PiiReport:
    """Scores of a redactor on a labelled set."""

    messages: int
    per_entity: dict[str, SpanScores]
    overall: SpanScores
    leak_rate: float
    leaked_ids: list[str] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with the derived scores spelled out."""

        def scores(s: SpanScores) -> dict[str, object]:
            return {**asdict(s), "precision": s.precision, "recall": s.recall, "f1": s.f1}

        return {
            "messages": self.messages,
            "overall": scores(self.overall),
            "per_entity": {name: scores(s) for name, s in self.per_entity.items()},
            "leak_rate": self.leak_rate,
            "leaked_ids": self.leaked_ids,
            "latency_ms": self.latency_ms,
        }


def read_examples(path: Path) -> list[PiiExample]:
    """Labelled messages from a JSONL file; offsets are checked against the text."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        spans = tuple(GoldSpan(s["entity"], s["start"], s["end"]) for s in row["spans"])
        for span in spans:
            if not 0 <= span.start < span.end <= len(row["text"]):
                raise ValueError(f"{path}:{number}: span {span} is outside the text")
        examples.append(PiiExample(id=row["id"], text=row["text"], spans=spans))
    return examples


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def _matches(predicted: PiiSpan, gold: GoldSpan) -> bool:
    same_group = entity_group(predicted.entity) == entity_group(gold.entity)
    covered = _overlap(predicted.start, predicted.end, gold.start, gold.end)
    return same_group and covered >= MIN_GOLD_OVERLAP * (gold.end - gold.start)


def leaks(text_length: int, gold: Iterable[GoldSpan], predicted: Iterable[PiiSpan]) -> bool:
    """Whether any gold PII character is left outside every predicted span (of any entity)."""
    redacted = [False] * text_length
    for span in predicted:
        redacted[span.start : span.end] = [True] * (span.end - span.start)
    return any(not redacted[i] for g in gold for i in range(g.start, g.end))


def score_spans(
    examples: Sequence[PiiExample], predictions: Sequence[Sequence[PiiSpan]]
) -> tuple[dict[str, SpanScores], SpanScores]:
    """Per-group and overall span scores of predictions aligned with examples."""
    counts: dict[str, list[int]] = {}
    for example, predicted in zip(examples, predictions, strict=True):
        for gold in example.spans:
            row = counts.setdefault(entity_group(gold.entity), [0, 0, 0, 0])
            row[0] += 1
            row[2] += any(_matches(p, gold) for p in predicted)
        for p in predicted:
            row = counts.setdefault(entity_group(p.entity), [0, 0, 0, 0])
            row[1] += 1
            row[3] += any(_matches(p, gold) for gold in example.spans)
    per_entity = {name: SpanScores(*row) for name, row in sorted(counts.items())}
    overall = SpanScores(*(sum(row[i] for row in counts.values()) for i in range(4)))
    return per_entity, overall


def evaluate_pii(path: Path, redactor: Redactor) -> PiiReport:
    """Run the redactor over a labelled set and score it."""
    examples = read_examples(path)
    predictions: list[list[PiiSpan]] = []
    timings: list[float] = []
    for example in examples:
        started = time.perf_counter()
        predictions.append(redactor.find(example.text))
        timings.append((time.perf_counter() - started) * 1000)
    per_entity, overall = score_spans(examples, predictions)
    leaked = [e.id for e, p in zip(examples, predictions, strict=True) if leaks(len(e.text), e.spans, p)]
    return PiiReport(
        messages=len(examples),
        per_entity=per_entity,
        overall=overall,
        leak_rate=len(leaked) / len(examples) if examples else 0.0,
        leaked_ids=leaked,
        latency_ms=latency_percentiles(timings),
    )


def render(report: PiiReport, load_seconds: float, console: Console) -> None:
    """Print the report as a table, then the leak rate, latency and leaked message ids."""
    table = Table("entity", "gold", "predicted", "precision", "recall", "F1", title="PII redaction")
    rows = [*report.per_entity.items(), ("overall", report.overall)]
    for name, s in rows:
        table.add_row(
            name, str(s.gold), str(s.predicted), f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}"
        )
    console.print(table)
    console.print(f"messages: {report.messages}; message-level leak rate: {report.leak_rate:.3f}")
    latency = ", ".join(f"{k} {v:.2f} ms" for k, v in report.latency_ms.items())
    console.print(f"redactor build (imports excluded): {load_seconds:.2f} s; per message: {latency}")
    if report.leaked_ids:
        console.print(f"leaked: {', '.join(report.leaked_ids)}")


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m evals.pii_eval [--dataset PATH] [--report PATH]`."""
    parser = argparse.ArgumentParser(prog="python -m evals.pii_eval", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="labelled JSONL")
    parser.add_argument("--report", type=Path, default=None, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    redactor = Redactor()
    load_seconds = time.perf_counter() - started
    report = evaluate_pii(args.dataset, redactor)
    render(report, load_seconds, Console())
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        payload = {**report.to_dict(), "load_seconds": load_seconds, "dataset": str(args.dataset)}
        args.report.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
