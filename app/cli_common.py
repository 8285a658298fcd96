"""What every command shares: the consoles, running a coroutine, and one-line user errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agents.triage.dataset import DatasetError
from agents.triage.head import HeadMissingError
from agents.triage.training import TrainingError
from app.refusals import ConflictError, InputError, NotFoundError
from app.settings import Settings
from knowledge.articles import ArticleError
from knowledge.embedding import ModelFileError
from knowledge.store import IndexMissingError

out = Console()
err = Console(stderr=True)
# Errors a user can fix; they get one line, never a traceback.
USER_ERRORS = (
    ArticleError,
    ConflictError,
    DatasetError,
    HeadMissingError,
    IndexMissingError,
    InputError,
    ModelFileError,
    NotFoundError,
    TrainingError,
    ValidationError,
    FileNotFoundError,
)

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a known error as one line and exit 2."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            if isinstance(error, ValidationError):
                first = error.errors()[0]
                message = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            # typer.echo never wraps: the error stays on one line whatever the terminal width.
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def run(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run one coroutine to completion."""
    return asyncio.run(coroutine)


def settings_with(triage_model: Path | None) -> Settings:
    """Settings from the environment, with a command-line override of the triage model."""
    settings = Settings()
    return settings.model_copy(update={"triage_model": triage_model}) if triage_model else settings


TRIAGE_MODEL = typer.Option(None, "--triage-model", help="Folder of a trained triage head.")


def progress_bar() -> Progress:
    """A progress bar with count and ETA, on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )
