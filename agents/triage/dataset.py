"""Labelled tickets in JSONL: the format triage trains on and the evaluation reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Category = Literal["billing", "account_access", "technical", "refund", "other"]
CATEGORIES: tuple[Category, ...] = get_args(Category)


class DatasetError(ValueError):
    """A dataset that cannot be read, with the file and line named."""


class LabelledTicket(BaseModel):
    """One labelled ticket. Unknown keys are kept so richer datasets read through."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(description="The customer's message.")
    category: Category = Field(description="The correct triage category.")
    expect_escalation: bool = Field(default=False, description="Whether the ticket must reach a human.")
    id: str | None = Field(default=None, description="A stable id, when the dataset has one.")
    customer_id: str | None = Field(default=None, description="Who sent it, for value and SLA decisions.")
    channel: str = Field(default="chat", description="Where it arrived: chat, email, phone, …")
    conversation: list[str] = Field(
        default_factory=list,
        description="Earlier customer messages of the same conversation, sent first; labels apply to `text`.",
    )
    expect_specialist: str | None = Field(default=None, description="The specialist that should answer.")
    expect_citation: str | None = Field(
        default=None, description="An article id the answer should cite (as in knowledge/articles)."
    )
    tags: list[str] = Field(default_factory=list, description="Free labels for per-tag breakdowns.")

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value


def read_tickets(path: Path) -> list[LabelledTicket]:
    """Every ticket of a JSONL file; the first bad line stops reading with its line number."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    tickets: list[LabelledTicket] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                tickets.append(LabelledTicket.model_validate(json.loads(line)))
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg})") from error
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "line"
                raise DatasetError(f"{path}:{number}: {where}: {first['msg']}") from error
    if not tickets:
        raise DatasetError(f"{path}: no tickets in the file")
    return tickets
