"""The `support-router` command line: serving, routing, reviews, evaluation, benchmarks, administration."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from app.cli_common import TRIAGE_MODEL, err, out, progress_bar, run, settings_with, user_errors
from app.cli_data import customers_cli, retention_cli
from app.cli_db import db_cli
from app.cli_eval import eval_cli
from app.cli_policy import audit_cli, policy_cli
from app.refusals import InputError, NotFoundError
from app.service import LOCAL_ADMIN, open_service
from app.settings import Settings
from graph.outcome import TurnOutcome
from graph.review import ReviewerDecision

cli = typer.Typer(
    help="support-router: route support tickets to specialists or humans.", no_args_is_help=True
)
review_cli = typer.Typer(help="Work on escalated conversations.", no_args_is_help=True)
triage_cli = typer.Typer(help="Train and check the triage classifier.", no_args_is_help=True)
kb_cli = typer.Typer(help="Manage the knowledge index.", no_args_is_help=True)
keys_cli = typer.Typer(help="Issue and revoke API keys.", no_args_is_help=True)
cli.add_typer(review_cli, name="review")
cli.add_typer(triage_cli, name="triage")
cli.add_typer(kb_cli, name="kb")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(policy_cli, name="policy")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(eval_cli, name="eval")
cli.add_typer(db_cli, name="db")
cli.add_typer(retention_cli, name="retention")
cli.add_typer(customers_cli, name="customers")


def print_outcome(outcome: TurnOutcome, as_json: bool) -> None:
    """The outcome as JSON, or as a short readable summary."""
    if as_json:
        out.print_json(outcome.model_dump_json())
        return
    out.print(outcome.response, highlight=False)
    summary = (
        f"conversation {outcome.conversation_id} · turn {outcome.turn} · {outcome.status} · "
        f"{outcome.category} ({outcome.confidence:.2f}) → {outcome.specialist or 'human'}"
    )
    if outcome.escalated:
        summary += f" · escalated: {outcome.escalation_reason}"
    err.print(summary, style="dim", highlight=False)


@cli.command()
@user_errors
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Worker processes (more than one needs PostgreSQL)."
    ),
    triage_model: Path | None = TRIAGE_MODEL,
) -> None:
    """Start the HTTP service."""
    import uvicorn

    from app.api import create_app
    from app.store.database import is_postgres

    settings = settings_with(triage_model)
    host, port = host or settings.host, port or settings.port
    # h11 bounds the request head it buffers; httptools, uvicorn's default when installed, does not.
    http: dict[str, Any] = {"http": "h11", "h11_max_incomplete_event_size": settings.max_header_bytes}
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **http)
        return
    if not is_postgres(settings.store_url):
        raise InputError("several workers share one database: set SUPPORT_ROUTER_DATABASE_URL=postgresql://…")
    if settings.chroma_url is None:
        err.print("warning: the workers share one index directory; a Chroma server (CHROMA_URL) is safer")
    if triage_model is not None:  # each worker builds its app from the environment
        os.environ["SUPPORT_ROUTER_TRIAGE_MODEL"] = str(triage_model)
    uvicorn.run("app.api:create_app", factory=True, host=host, port=port, workers=workers, **http)


@cli.command()
@user_errors
def route(
    text: str = typer.Argument(..., help="The customer's message."),
    conversation: str | None = typer.Option(None, "--conversation", help="Continue this conversation."),
    customer: str | None = typer.Option(None, "--customer", help="The customer's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the full outcome as JSON."),
    triage_model: Path | None = TRIAGE_MODEL,
) -> None:
    """Run one turn and print the outcome."""

    async def go() -> TurnOutcome:
        async with open_service(settings_with(triage_model)) as service:
            conversation_id = conversation
            if conversation_id is None:
                created = await service.create_conversation(LOCAL_ADMIN, customer, channel="api")
                conversation_id = created.id
            return await service.post_message(LOCAL_ADMIN, conversation_id, text)

    print_outcome(run(go()), as_json)


@review_cli.command("list")
@user_errors
def review_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Pending escalations: soonest first-response due first, then the most valuable customer."""

    async def go() -> list[dict[str, Any]]:
        async with open_service(Settings()) as service:
            return [
                {
                    "id": r.id,
                    "conversation_id": r.conversation_id,
                    "turn": r.turn,
                    "reason": r.reason,
                    "priority": r.priority,
                    "sla_class": r.sla_class,
                    "value_score": r.value_score,
                    "first_response_due": r.first_response_due.isoformat() if r.first_response_due else None,
                    "created_at": r.created_at.isoformat(),
                    "text": r.payload["text"],
                    "draft": (r.payload.get("draft") or {}).get("text"),
                    "waiting_messages": r.waiting_messages,
                }
                for r in await service.list_reviews()
            ]

    reviews = run(go())
    if as_json:
        out.print_json(json.dumps(reviews))
        return
    if not reviews:
        out.print("No pending reviews.")
        return
    table = Table("id", "conversation", "priority", "SLA", "first response due", "reason", "message")
    for r in reviews:
        due = (r["first_response_due"] or "")[:19]
        table.add_row(
            r["id"],
            r["conversation_id"],
            r["priority"] or "",
            r["sla_class"] or "",
            due,
            r["reason"],
            r["text"][:60],
        )
    out.print(table)


@review_cli.command("resolve")
@user_errors
def review_resolve(
    review_id: str = typer.Argument(..., help="The review id from `review list`."),
    action: str = typer.Option(..., "--action", help="approve | reply | reroute | close"),
    text: str | None = typer.Option(None, "--text", help="The reply, for --action reply."),
    target: str | None = typer.Option(None, "--target", help="The specialist, for --action reroute."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Who decides, for the record."),
    as_json: bool = typer.Option(False, "--json", help="Print the full outcome as JSON."),
) -> None:
    """Resume an escalated conversation with a decision."""
    decision = ReviewerDecision.model_validate(
        {"action": action, "text": text, "target": target, "reviewer": reviewer or "local"}
    )

    async def go() -> TurnOutcome:
        async with open_service(Settings()) as service:
            return await service.resolve_review(review_id, decision)

    print_outcome(run(go()), as_json)


@cli.command()
@user_errors
def bench(
    report_dir: Path = typer.Option(
        Path("reports/bench"), "--report-dir", help="Where bench.json and bench.md are written."
    ),
    seconds: float = typer.Option(8.0, "--seconds", min=0.0, help="Time box of each in-process measurement."),
    max_turns: int = typer.Option(
        2000, "--max-turns", "--turns", min=10, help="At most this many turns per in-process measurement."
    ),
    http_seconds: float = typer.Option(15.0, "--http-seconds", min=1.0, help="Time box of each HTTP level."),
    concurrency: str = typer.Option("1,8,32", "--concurrency", help="HTTP concurrency levels, e.g. 1,8,32."),
    http: bool = typer.Option(True, "--http/--no-http", help="Also measure a server on loopback."),
    triage_model: Path | None = TRIAGE_MODEL,
) -> None:
    """Time offline turns in process against a no-op floor of the same graph, and over HTTP."""
    from rich.markdown import Markdown

    from evals.bench import Budget, HttpPlan, parse_levels, render_markdown, run_bench, write_report

    budget = Budget(seconds=seconds, max_turns=max_turns)
    plan = HttpPlan(parse_levels(concurrency), http_seconds) if http else None
    with err.status("timing turns in process, then against a server on 127.0.0.1"):
        results = run(run_bench(settings_with(triage_model), budget, plan))
    numbers, table = write_report(results, report_dir)
    out.print(Markdown(render_markdown(results)))
    err.print(f"→ {numbers}, {table}", highlight=False)


@cli.command()
@user_errors
def load(
    widgets: int = typer.Option(16, "--widgets", min=1, max=256, help="Concurrent simulated widgets."),
    messages: int = typer.Option(20, "--messages", min=1, max=1000, help="Messages each widget sends."),
    think_ms: float = typer.Option(
        0, "--think-ms", min=0, help="Mean pause before each message (0: measure capacity)."
    ),
    report: Path | None = typer.Option(None, "--report", help="Also write the numbers as JSON here."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=16, help="Worker processes (more than one needs --postgres)."
    ),
    postgres: str | None = typer.Option(
        None,
        "--postgres",
        help="A PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/postgres): the workers share "
        "a database the run creates there and drops afterwards. Default: one server on SQLite.",
    ),
    triage_model: Path | None = TRIAGE_MODEL,
) -> None:
    """Load fresh servers on loopback with simulated widgets; report throughput, latency, losses."""
    from evals.load import run_load

    if workers > 1 and postgres is None:
        raise InputError("several workers share one database: give --postgres postgresql://…")
    where = f"{workers} worker(s) on PostgreSQL" if postgres else "a server on SQLite"
    with err.status(f"{widgets} widgets × {messages} messages against {where} on 127.0.0.1"):
        numbers = run(run_load(settings_with(triage_model), widgets, messages, think_ms, workers, postgres))
    out.print_json(json.dumps(numbers))
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(numbers, indent=2) + "\n")


@cli.command()
@user_errors
def chaos(
    widgets: int = typer.Option(32, "--widgets", min=1, max=256, help="Concurrent simulated widgets."),
    seconds: float = typer.Option(60.0, "--seconds", min=5.0, help="How long the widgets send messages."),
    kill_at: float = typer.Option(
        0.5, "--kill-at", min=0.05, max=0.95, help="When worker 0 is killed, as a fraction of --seconds."
    ),
    think_ms: float = typer.Option(0, "--think-ms", min=0, help="Mean pause before each message."),
    lease_seconds: float = typer.Option(
        30.0, "--lease-seconds", min=1.0, help="The workers' SUPPORT_ROUTER_LEASE_SECONDS."
    ),
    postgres: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "--postgres",
        envvar="SUPPORT_ROUTER_CHAOS_POSTGRES",
        help="PostgreSQL server: the run creates a database of its own there and drops it afterwards.",
    ),
    report_dir: Path = typer.Option(
        Path("reports/chaos"), "--report-dir", help="Where chaos.json, chaos.md and the workers' logs go."
    ),
    triage_model: Path | None = TRIAGE_MODEL,
) -> None:
    """Two workers on PostgreSQL under simulated widgets, one killed with SIGKILL and restarted mid-run;
    then an audit of the store. Exits 1 when the audit finds a lost, duplicated or unanswered message."""
    from rich.markdown import Markdown

    from evals.chaos import ChaosPlan, render_markdown, run_chaos, write_report

    plan = ChaosPlan(widgets, seconds, kill_at, think_ms, lease_seconds, postgres)
    with err.status(f"{widgets} widgets for {seconds:g} s against two workers, one killed mid-run"):
        results = run(run_chaos(settings_with(triage_model), plan, report_dir))
    numbers, table = write_report(results, report_dir)
    out.print(Markdown(render_markdown(results)))
    err.print(f"→ {numbers}, {table}", highlight=False)
    if not results["ok"]:
        raise typer.Exit(1)


@triage_cli.command("train")
@user_errors
def triage_train(
    data: Path = typer.Option(..., "--data", help="JSONL with text, category[, expect_escalation]."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the head into."),
) -> None:
    """Train a triage head from labelled tickets."""
    from agents.triage.dataset import read_tickets
    from agents.triage.training import train_head
    from knowledge.embedding import MiniLMEmbedder

    tickets = read_tickets(data)
    with err.status(f"training on {len(tickets)} tickets"):
        head = train_head(tickets, MiniLMEmbedder())
    head.save(out_dir)
    out.print(f"{head.version} trained on {len(tickets)} tickets → {out_dir}", highlight=False)


@triage_cli.command("cross-validate")
@user_errors
def triage_cross_validate(
    data: Path = typer.Option(..., "--data", help="JSONL of labelled tickets."),
    folds: int = typer.Option(5, "--folds", min=2, help="Number of folds."),
    threshold: float | None = typer.Option(
        None, help="Low-confidence threshold (default 0.5, as the default policy)."
    ),
) -> None:
    """K-fold cross-validation of a head trained on the file: macro-F1 and triage escalation."""
    from agents.triage.dataset import read_tickets
    from evals.cross_validation import DEFAULT_CONFIDENCE_THRESHOLD, cross_validate
    from knowledge.embedding import MiniLMEmbedder

    tickets = read_tickets(data)
    with err.status(f"{folds}-fold cross-validation on {len(tickets)} tickets"):
        report = cross_validate(tickets, MiniLMEmbedder(), folds, threshold or DEFAULT_CONFIDENCE_THRESHOLD)
    out.print_json(json.dumps(report))


@kb_cli.command("ingest")
@user_errors
def kb_ingest(
    directory: Path | None = typer.Argument(None, help="Folder of markdown articles (default: shipped)."),
) -> None:
    """Index the articles: changed ones replaced, deleted ones removed, unchanged ones kept."""
    from knowledge.articles import load_articles
    from knowledge.embedding import MiniLMEmbedder
    from knowledge.store import KnowledgeBase, open_client

    settings = Settings()
    articles = load_articles(directory or settings.articles_dir)
    knowledge = KnowledgeBase(open_client(settings.index_dir, settings.chroma_url), MiniLMEmbedder())
    with progress_bar() as bar:
        task = bar.add_task("embedding passages", total=None)
        report = knowledge.ingest(articles, lambda done, total: bar.update(task, completed=done, total=total))
    where = settings.chroma_url or settings.index_dir
    out.print(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
        f"{report.unchanged} unchanged; {report.passages} passages in {where}",
        highlight=False,
    )


@keys_cli.command("create")
@user_errors
def keys_create(
    role: str = typer.Option(..., "--role", help="widget | reviewer | admin"),
    name: str = typer.Option("", "--name", help="Who or what will use the key."),
) -> None:
    """Issue an API key and print it; it is shown this once."""
    from app.store.keys import ROLES
    from app.store.store import open_store

    if role not in ROLES:
        raise InputError(f"--role must be one of {', '.join(ROLES)}")

    async def go() -> str:
        settings = Settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with open_store(settings.store_url) as store:
            issued = await store.keys.create(role, name or f"{role} key")
            return issued.secret

    typer.echo(run(go()))


@keys_cli.command("revoke")
@user_errors
def keys_revoke(key_id: str = typer.Argument(..., help="The key's id (the part after `sr_`).")) -> None:
    """Revoke a key at once."""
    from app.store.store import open_store

    async def go() -> bool:
        settings = Settings()
        async with open_store(settings.store_url) as store:
            return await store.keys.revoke(key_id)

    if not run(go()):
        raise NotFoundError(f"no active key {key_id}")
    typer.echo(f"revoked {key_id}")


def main() -> None:
    """Console-script entry point."""
    cli()
