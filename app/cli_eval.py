"""The `support-router eval …` commands: run the offline evaluation suite, and compare two runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from agents.toolkit import Toolkit
from app.cli_common import TRIAGE_MODEL, err, out, progress_bar, run, settings_with, user_errors
from app.refusals import InputError
from app.settings import Settings

eval_cli = typer.Typer(
    help="Run the evaluation suite (`eval --dataset FILE --report-dir DIR`) or compare two runs.",
    invoke_without_command=True,
)
DEMO_ARRIVAL = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
"""Every evaluated ticket arrives on a Tuesday at 10:00 UTC, so time-of-day rules and SLAs repeat."""


class Mode(StrEnum):
    offline = "offline"
    llm = "llm"


@eval_cli.callback()
@user_errors
def eval_command(
    context: typer.Context,
    datasets: list[Path] = typer.Option(
        None, "--dataset", help="A JSONL of labelled tickets; give it several times for several."
    ),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Where metrics.json, predictions.jsonl and report.html go."
    ),
    mode: Mode = typer.Option(Mode.offline, "--mode", help="offline, or llm with the configured model."),
    policy: str | None = typer.Option(
        None, "--policy", help="A stored policy version number or a policy file (default: the active one)."
    ),
    triage_model: Path | None = TRIAGE_MODEL,
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        min=1,
        max=64,
        help="Tickets in flight at once (latency is measured at this load).",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N tickets."),
    langsmith: bool = typer.Option(
        False, "--langsmith", help="Also upload the dataset and the run as a LangSmith experiment."
    ),
) -> None:
    """Run every ticket through the graph; write metrics.json, predictions.jsonl and report.html."""
    if context.invoked_subcommand is not None:
        return
    if not datasets or report_dir is None:
        raise InputError("give at least one --dataset FILE and a --report-dir DIR")
    settings = settings_with(triage_model)
    metrics = run(_evaluate(settings, datasets, report_dir, mode, policy, concurrency, limit, langsmith))
    _print_headline(metrics, report_dir)


@eval_cli.command("compare")
@user_errors
def compare_command(
    run_a: Path = typer.Argument(..., help="The baseline run's report dir."),
    run_b: Path = typer.Argument(..., help="The candidate run's report dir."),
    gates: Path | None = typer.Option(
        None, "--gates", help="A TOML file of gates (default: evals/gates.toml)."
    ),
    resamples: int = typer.Option(2000, "--resamples", min=100, help="Bootstrap resamples."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """What changed from RUN_A to RUN_B, with 95% bootstrap intervals; exit 1 when a gate fails."""
    from evals.compare import DEFAULT_GATES_FILE, compare_runs, load_run, read_gates

    try:
        comparison = compare_runs(
            load_run(run_a), load_run(run_b), read_gates(gates or DEFAULT_GATES_FILE), resamples=resamples
        )
    except ValueError as error:
        raise InputError(str(error)) from error
    if as_json:
        out.print_json(json.dumps(comparison.as_json()))
    else:
        out.print(comparison.render())
    if comparison.failed:
        raise typer.Exit(1)


async def _evaluate(
    settings: Settings,
    datasets: list[Path],
    report_dir: Path,
    mode: Mode,
    policy: str | None,
    concurrency: int,
    limit: int | None,
    langsmith: bool,
) -> dict[str, Any]:
    from app.cli_policy import policy_set_for
    from app.service import open_llm
    from evals.output import write_run
    from evals.runner import evaluate, open_setup, read_cases
    from evals.summary import summarize

    cases = read_cases(datasets, limit)
    llm = open_llm(settings) if mode is Mode.llm else None
    if mode is Mode.llm and llm is None:
        raise InputError("--mode llm needs a model: set SUPPORT_ROUTER_LLM_MODEL (and _BASE_URL)")
    toolkit = settings.load_toolkit()
    policies = await policy_set_for(policy)
    started_at, started = datetime.now(UTC), time.perf_counter()
    async with open_setup(settings, toolkit, policies, llm, DEMO_ARRIVAL) as setup:
        with progress_bar() as bar:
            task = bar.add_task("evaluating", total=len(cases))
            predictions = await evaluate(cases, setup, concurrency, lambda: bar.advance(task))
    facts = _run_facts(settings, datasets, mode, policies.active.version, toolkit, started_at, started)
    metrics = summarize(predictions, facts)
    write_run(report_dir, metrics, predictions)
    if langsmith:
        _upload(predictions, metrics, datasets, report_dir)
    return metrics


def _run_facts(
    settings: Settings,
    datasets: list[Path],
    mode: Mode,
    policy_version: str,
    toolkit: Toolkit,
    started_at: datetime,
    started: float,
) -> dict[str, Any]:
    from graph.outcome import PROMPT_VERSIONS
    from knowledge.embedding import MODEL_ID

    return {
        "datasets": [path.stem for path in datasets],
        "mode": mode.value,
        "model": settings.llm_model if mode is Mode.llm else None,
        "policy": policy_version,
        "triage_model": toolkit.classifier.version,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 2),
        "versions": {"embedding": MODEL_ID, **{f"prompts.{k}": v for k, v in PROMPT_VERSIONS.items()}},
    }


def _upload(predictions: list[Any], metrics: dict[str, Any], datasets: list[Path], report_dir: Path) -> None:
    from evals.langsmith_export import ExportError, export_run, langsmith_configured

    if not langsmith_configured():
        err.print("LangSmith is not configured (no LANGSMITH_API_KEY): the run is kept locally only.")
        return
    dataset_name = "support-router:" + "+".join(path.stem for path in datasets)
    experiment = f"{report_dir.name}-{metrics['run']['started_at']}"
    try:
        summary = export_run(predictions, metrics, dataset_name, experiment)
    except ExportError as error:
        raise InputError(f"the run is written locally, but the LangSmith upload failed: {error}") from error
    err.print(f"uploaded to LangSmith as experiment {summary.experiment_name} on dataset {dataset_name}")


def _print_headline(metrics: dict[str, Any], report_dir: Path) -> None:
    escalation = metrics["escalation"]
    line = (
        f"n={metrics['n']} errors={metrics['errors']} accuracy={metrics['accuracy']:.3f} "
        f"macro_f1={metrics['macro_f1']:.3f} escalation recall={escalation['recall']:.3f} "
        f"precision={escalation['precision']:.3f} unsafe_automation={metrics['unsafe_automation_rate']:.3f} "
        f"p50={metrics['latency_ms']['p50']:.1f}ms"
    )
    if metrics["llm"]:
        line += f" llm_calls/ticket={metrics['llm']['calls_per_ticket']:.2f}"
    out.print(f"{line} → {report_dir / 'report.html'}", highlight=False)
