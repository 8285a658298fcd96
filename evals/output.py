"""A run's report folder: metrics.json, predictions.jsonl and report.html."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.prediction import Prediction
from evals.report import write_html_report

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
REPORT_FILE = "report.html"


def write_run(report_dir: Path, metrics: Mapping[str, Any], predictions: Sequence[Prediction]) -> None:
    """Write the three files of a run into `report_dir` (created when missing)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    lines = "".join(p.model_dump_json() + "\n" for p in predictions)
    (report_dir / PREDICTIONS_FILE).write_text(lines, encoding="utf-8")
    write_html_report(metrics, predictions, report_dir / REPORT_FILE)
