"""The `support-router retention …` and `customers …` commands: retention runs, customer erasure and
customer tokens."""

from __future__ import annotations

from datetime import timedelta

import typer

from app.cli_common import out, run, user_errors
from app.customer_tokens import issue_customer_token
from app.data_removal import open_remover
from app.erasure import ErasureReport, erase_customer
from app.policies import actor_of
from app.refusals import InputError, NotFoundError
from app.retention import MAX_DAYS, RetentionPlan, RetentionReport, run_retention
from app.service import LOCAL_ADMIN
from app.settings import Settings
from app.store.erasure import RemovalMode
from knowledge.store import open_client

retention_cli = typer.Typer(help="Delete or anonymise old conversations.", no_args_is_help=True)
customers_cli = typer.Typer(help="Act on one customer's data.", no_args_is_help=True)


def removal_mode(value: str | None) -> RemovalMode | None:
    """The --mode option, checked."""
    if value is None:
        return None
    if value == "delete":
        return "delete"
    if value == "anonymise":
        return "anonymise"
    raise InputError("--mode must be delete or anonymise")


@retention_cli.command("run")
@user_errors
def retention_run(
    older_than_days: int | None = typer.Option(
        None, "--older-than-days", min=1, max=MAX_DAYS, help="Default SUPPORT_ROUTER_RETENTION_DAYS."
    ),
    mode: str | None = typer.Option(
        None, "--mode", help="delete | anonymise (default SUPPORT_ROUTER_RETENTION_MODE)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what a run would remove."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Remove at most this many conversations."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove the conversations last active before the cutoff; keep those a person is working on."""
    settings = Settings()
    plan = RetentionPlan.configured(settings, older_than_days, removal_mode(mode), dry_run, limit)

    async def go() -> RetentionReport:
        async with open_remover(settings) as remover:
            return await run_retention(remover, plan, actor_of(LOCAL_ADMIN))

    report = run(go())
    if as_json:
        out.print_json(report.model_dump_json())
        return
    typer.echo("\n".join(report.summary()))


@customers_cli.command("erase")
@user_errors
def customers_erase(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Erase the customer's personal data: store, checkpoints, index, audit inputs (the chain verifies)."""
    settings = Settings()

    async def go() -> ErasureReport:
        index = open_client(settings.index_dir, settings.chroma_url)
        async with open_remover(settings) as remover:
            return await erase_customer(remover, index, customer_id, actor_of(LOCAL_ADMIN))

    try:
        report = run(go())
    except NotFoundError as error:  # a wrong id is not a usage error: exit 1, as a failed check
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(report.model_dump_json())
        return
    typer.echo("\n".join(report.summary()))


@customers_cli.command("token")
@user_errors
def customers_token(
    customer_id: str = typer.Argument(..., help="The customer's id."),
    minutes: int = typer.Option(60, "--minutes", min=1, max=24 * 60, help="How long the token is valid."),
) -> None:
    """Sign a customer token with SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET, as the site's backend does."""
    secret = Settings().customer_token_secret
    if secret is None:
        raise InputError(
            "set SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET (32 bytes or more) to sign customer tokens"
        )
    typer.echo(issue_customer_token(secret.get_secret_value(), customer_id, timedelta(minutes=minutes)))
