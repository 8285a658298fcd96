"""The `support-router db …` commands: set up the database of a PostgreSQL deployment."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

from app.cli_common import out, run, user_errors
from app.refusals import InputError
from app.settings import Settings

db_cli = typer.Typer(help="Create and migrate the database of a PostgreSQL deployment.", no_args_is_help=True)


@db_cli.command("create")
@user_errors
def db_create() -> None:
    """Create the database SUPPORT_ROUTER_DATABASE_URL names, when it does not exist yet."""
    import psycopg
    from psycopg import sql

    from app.store.database import is_postgres, libpq_url

    url = Settings().store_url
    if not is_postgres(url):
        raise InputError("SUPPORT_ROUTER_DATABASE_URL is not a postgresql:// URL (SQLite needs no creating)")
    name = urlsplit(url).path.lstrip("/")
    maintenance = urlsplit(libpq_url(url))._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise InputError(f"could not create database {name}: {str(error).strip()}") from error
    out.print(f"database {name}: {'exists' if exists else 'created'}")


@db_cli.command("migrate")
@user_errors
def db_migrate() -> None:
    """Apply the store's migrations and set up the checkpoint tables (workers also do it on start)."""
    from app.store.store import open_store
    from graph.checkpointer import open_checkpointer

    settings = Settings()

    async def go() -> None:
        async with open_store(settings.store_url):
            pass
        async with open_checkpointer(settings.data_dir, settings.checkpoint_postgres_url):
            pass

    run(go())
    out.print("migrated")
