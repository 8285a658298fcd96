"""What a turn's model calls cost, and the daily ledger the budgets are checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from typing_extensions import TypedDict


class TurnUsage(TypedDict):
    """The model calls of one turn, as kept in the state and reported in the outcome."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost: float
    fallbacks: list[str]
    """Why a call was not made or its answer not used (`circuit_open`, `budget_day`, `invalid_output`…)."""


def no_usage() -> TurnUsage:
    """A turn that has not called a model yet."""
    return TurnUsage(calls=0, input_tokens=0, output_tokens=0, cost=0.0, fallbacks=[])


@dataclass
class UsageMeter:
    """Counts one node's calls; the node folds it into the state's `TurnUsage` when it returns."""

    conversation_tokens: int
    """Tokens the conversation had spent before this node, for the per-conversation budget."""
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    fallbacks: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Tokens spent by this node."""
        return self.input_tokens + self.output_tokens

    def add_to(self, usage: TurnUsage | None) -> TurnUsage:
        """`usage` (the turn so far) plus what this node spent."""
        base = usage or no_usage()
        return TurnUsage(
            calls=base["calls"] + self.calls,
            input_tokens=base["input_tokens"] + self.input_tokens,
            output_tokens=base["output_tokens"] + self.output_tokens,
            cost=round(base["cost"] + self.cost, 6),
            fallbacks=base["fallbacks"] + [f for f in self.fallbacks if f not in base["fallbacks"]],
        )


@dataclass
class DailyLedger:
    """Tokens and cost spent today by this process (UTC days)."""

    day: date = field(default_factory=lambda: datetime.now(UTC).date())
    tokens: int = 0
    cost: float = 0.0

    def roll(self, today: date) -> None:
        """Start a new day's count when the date has changed."""
        if today != self.day:
            self.day, self.tokens, self.cost = today, 0, 0.0
