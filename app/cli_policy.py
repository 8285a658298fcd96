"""The `support-router policy …` and `audit …` commands: the governed control plane from a terminal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.table import Table

from app.cli_common import out, run, user_errors
from app.policies import PolicyControl, PolicyRegistry, compile_version
from app.refusals import ConflictError, InputError, NotFoundError
from app.replay import ReplayChange, replay_dataset, replay_recorded
from app.settings import Settings
from app.store.keys import Principal
from app.store.store import AppStore, open_store
from graph.policy.deployment import PolicySet
from graph.policy.diff import diff_policies
from graph.policy.evaluate import Policy
from graph.policy.schema import PolicyError, load_policy_file, parse_policy, policy_digest

policy_cli = typer.Typer(
    help="Write, approve, canary, promote and roll back routing policies.", no_args_is_help=True
)
audit_cli = typer.Typer(help="Check and read the hash-chained audit log.", no_args_is_help=True)

ADMIN_KEY = typer.Option(
    ...,
    "--key",
    envvar="SUPPORT_ROUTER_ADMIN_KEY",
    help="Your admin API key (or SUPPORT_ROUTER_ADMIN_KEY): changes are recorded under it.",
)
T = TypeVar("T")


@asynccontextmanager
async def control_plane() -> AsyncIterator[tuple[AppStore, PolicyControl]]:
    """The store and the policy control plane, with the default policy installed on a new store."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        control = PolicyControl(store.policies, PolicyRegistry(store.policies))
        await control.install_default()
        yield store, control


async def admin(store: AppStore, key: str) -> Principal:
    """The admin behind `key`; anything else is refused."""
    principal = await store.keys.verify(key)
    if principal is None:
        raise InputError("that API key is unknown or revoked")
    if principal.role != "admin":
        raise ConflictError(f"policy changes need an admin key; this one is a {principal.role} key")
    return principal


def as_admin(key: str, change: Callable[[PolicyControl, Principal], Awaitable[T]]) -> T:
    """Run one control-plane change as the admin holding `key`."""

    async def go() -> T:
        async with control_plane() as (store, control):
            return await change(control, await admin(store, key))

    return run(go())


def read_policy_file(path: Path) -> str:
    """The text of a policy file, or a clear error."""
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    return path.read_text(encoding="utf-8")


@policy_cli.command("validate")
@user_errors
def policy_validate(file: Path = typer.Argument(..., help="A policy YAML file.")) -> None:
    """Check a policy document and name every bad field."""
    text = read_policy_file(file)
    try:
        document = parse_policy(text)
    except PolicyError as error:
        typer.echo(f"{file} is not a valid policy:\n{error}", err=True)
        raise typer.Exit(2) from None
    digest = policy_digest(text)[:12]
    typer.echo(f"{file}: valid policy '{document.name}', {len(document.rules)} rules, digest {digest}")


@policy_cli.command("propose")
@user_errors
def policy_propose(
    file: Path = typer.Argument(..., help="A policy YAML file."), key: str = ADMIN_KEY
) -> None:
    """Store a policy as a new draft version."""
    text = read_policy_file(file)
    version = as_admin(key, lambda control, principal: control.propose(text, principal))
    typer.echo(f"proposed version {version.version} (draft); another admin must approve it")


@policy_cli.command("approve")
@user_errors
def policy_approve(
    version: int = typer.Argument(..., help="The draft's version."), key: str = ADMIN_KEY
) -> None:
    """Approve a draft proposed by another admin."""
    approved = as_admin(key, lambda control, principal: control.approve(version, principal))
    typer.echo(f"approved version {approved.version}; deploy it with `policy canary` or `policy promote`")


@policy_cli.command("canary")
@user_errors
def policy_canary(
    version: int = typer.Argument(..., help="An approved version."),
    percent: float = typer.Option(..., "--percent", help="Share of customers, 0 (stop) to below 100."),
    key: str = ADMIN_KEY,
) -> None:
    """Serve a version to a stable share of customers (chosen by hashing the customer id)."""
    deployment = as_admin(key, lambda control, principal: control.canary(version, percent, principal))
    if deployment.canary_version is None:
        typer.echo(f"canary stopped; version {deployment.active_version} serves everyone")
    else:
        typer.echo(
            f"version {deployment.canary_version} serves {deployment.canary_percent:g}% of customers; "
            f"version {deployment.active_version} the rest"
        )


@policy_cli.command("promote")
@user_errors
def policy_promote(
    version: int | None = typer.Argument(None, help="An approved version; default the canary."),
    key: str = ADMIN_KEY,
) -> None:
    """Make the canary (or a named approved version) active for everyone."""
    deployment = as_admin(key, lambda control, principal: control.promote(version, principal))
    typer.echo(f"version {deployment.active_version} is active for everyone")


@policy_cli.command("rollback")
@user_errors
def policy_rollback(key: str = ADMIN_KEY) -> None:
    """Go back to the previously active version and stop any canary."""
    deployment = as_admin(key, lambda control, principal: control.rollback(principal))
    typer.echo(f"rolled back: version {deployment.active_version} is active for everyone")


@policy_cli.command("list")
@user_errors
def policy_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every version with its status, and what serves traffic now."""

    async def go() -> dict[str, Any]:
        async with control_plane() as (store, _):
            deployment = await store.policies.deployment()
            return {
                "active": deployment.active_version if deployment else None,
                "canary": deployment.canary_version if deployment else None,
                "canary_percent": deployment.canary_percent if deployment else 0.0,
                "versions": [
                    {
                        "version": v.version,
                        "name": v.name,
                        "status": v.status,
                        "digest": v.digest[:12],
                        "proposed_by": v.proposed_by,
                        "approved_by": v.approved_by,
                        "proposed_at": v.proposed_at.isoformat(timespec="seconds"),
                    }
                    for v in await store.policies.versions()
                ],
            }

    listing = run(go())
    if as_json:
        out.print_json(json.dumps(listing))
        return
    table = Table("version", "name", "status", "serving", "digest", "proposed by", "approved by")
    for v in listing["versions"]:
        serving = (
            "active"
            if v["version"] == listing["active"]
            else f"canary {listing['canary_percent']:g}%"
            if v["version"] == listing["canary"]
            else ""
        )
        table.add_row(
            str(v["version"]),
            v["name"],
            v["status"],
            serving,
            v["digest"],
            v["proposed_by"],
            v["approved_by"] or "",
        )
    out.print(table)


@policy_cli.command("show")
@user_errors
def policy_show(version: int = typer.Argument(..., help="A version.")) -> None:
    """Print a version's document exactly as proposed."""
    typer.echo(run(_stored_text(version)), nl=False)


async def _stored_text(version: int) -> str:
    async with control_plane() as (store, _):
        stored = await store.policies.get(version)
        if stored is None:
            raise NotFoundError(f"no policy version {version}")
        return stored.document


def _document_of(reference: str) -> tuple[str, str]:
    """(label, text) of a version number or a policy file."""
    if reference.isdigit():
        return f"version {reference}", run(_stored_text(int(reference)))
    return reference, read_policy_file(Path(reference))


@policy_cli.command("diff")
@user_errors
def policy_diff(
    a: str = typer.Argument(..., help="A version number or a policy file."),
    b: str = typer.Argument(..., help="A version number or a policy file."),
) -> None:
    """What changed between two policies: rules added, removed, changed or reordered, and the text."""
    (label_a, text_a), (label_b, text_b) = _document_of(a), _document_of(b)
    try:
        changes = diff_policies(parse_policy(text_a), parse_policy(text_b), label_a, label_b)
    except PolicyError as error:
        raise InputError(str(error)) from error
    if changes.is_empty():
        typer.echo("no differences")
        return
    typer.echo(changes.summary())
    typer.echo(changes.text)


@policy_cli.command("replay")
@user_errors
def policy_replay(
    version: int = typer.Argument(..., help="The version to re-decide under."),
    dataset: Path | None = typer.Option(None, "--dataset", help="Evaluation tickets (JSONL) to re-decide."),
    recorded: bool = typer.Option(
        False, "--recorded", help="Re-decide the routing decisions in the audit log."
    ),
    against: int | None = typer.Option(
        None, "--against", help="Compare with this version (default the active)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most this many tickets."),
    as_json: bool = typer.Option(False, "--json", help="Print every change as JSON."),
) -> None:
    """Re-decide recorded or evaluation tickets under another version and list every decision that changes."""
    if (dataset is None) == (not recorded):
        raise InputError("give exactly one of --dataset FILE or --recorded")

    async def go() -> tuple[int, list[ReplayChange]]:
        async with control_plane() as (store, control):
            candidate = await _compiled(store, version)
            if recorded:
                return await replay_recorded(store.audit, candidate, limit)
            baseline = (
                await _compiled(store, against) if against else (await control.registry.current()).active
            )
            assert dataset is not None
            return await replay_dataset(dataset, Settings(), store.customers, baseline, candidate, limit)

    total, changes = run(go())
    if as_json:
        out.print_json(json.dumps({"tickets": total, "changed": [c.as_json() for c in changes]}))
        return
    typer.echo(f"{len(changes)} of {total} decisions change under version {version}")
    for change in changes:
        typer.echo(change.describe())


async def policy_set_for(reference: str | None) -> PolicySet:
    """What an evaluation runs under: a stored version, a policy file, or (None) the active version.

    Never a canary: an evaluation measures one version at a time.
    """
    if reference is not None and not reference.isdigit():
        try:
            document = load_policy_file(Path(reference))
        except PolicyError as error:
            raise InputError(str(error)) from error
        return PolicySet(Policy(version=f"file:{Path(reference).name}", document=document))
    async with control_plane() as (store, control):
        if reference is None:
            return PolicySet((await control.registry.current()).active)
        return PolicySet(await _compiled(store, int(reference)))


async def _compiled(store: AppStore, version: int) -> Policy:
    stored = await store.policies.get(version)
    if stored is None:
        raise NotFoundError(f"no policy version {version}")
    return compile_version(stored)


@audit_cli.command("verify")
@user_errors
def audit_verify() -> None:
    """Check the whole chain; name the first edited, deleted or reordered record."""

    async def go() -> tuple[Any, str | None]:
        async with control_plane() as (store, _):
            report = await store.audit.verify()
            head = await store.audit.head()
            return report, head.hash if head else None

    report, head_hash = run(go())
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)
    if head_hash:
        typer.echo(f"head hash {head_hash} (keep a copy outside the database to detect a rewrite)")


@audit_cli.command("trail")
@user_errors
def audit_trail(conversation_id: str = typer.Argument(..., help="A conversation id.")) -> None:
    """A conversation's decisions and human actions, in order, with their explanations."""

    async def go() -> list[dict[str, Any]]:
        async with control_plane() as (store, _):
            return [
                {
                    "seq": r.seq,
                    "at": r.at.isoformat(timespec="seconds"),
                    "kind": r.kind,
                    "actor": r.actor,
                    "details": r.details,
                }
                for r in await store.audit.trail(conversation_id)
            ]

    out.print_json(json.dumps(run(go())))
