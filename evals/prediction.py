"""One evaluated ticket: what was expected and what the router did, with its explanation.

A run writes one `Prediction` per line of `predictions.jsonl`; `eval compare` and the HTML report read
them back, so this model is the run's on-disk format.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class Prediction(BaseModel):
    """What the router did with one labelled ticket (the last message, for a multi-turn case)."""

    id: str = Field(description="The dataset's id, or `<dataset stem>:<line>` when it has none.")
    dataset: str = Field(description="The stem of the dataset file the ticket came from.")
    text: str
    tags: list[str] = Field(default_factory=list)
    turns: int = Field(default=1, description="Customer messages sent, the labelled one included.")
    customer_id: str | None = None
    # Expected
    category: str = Field(description="The gold category.")
    expect_escalation: bool
    expect_specialist: str | None = None
    expect_citation: str | None = None
    # Decided
    predicted: str = Field(description="Triage's category.")
    confidence: float
    secondary_intents: list[str] = Field(default_factory=list)
    risk_signals: list[str] = Field(default_factory=list)
    decided_by: str = Field(default="local_classifier", description="local_classifier or llm.")
    specialist: str | None = Field(default=None, description="The specialist that owned the turn.")
    escalated: bool
    escalation_reason: str | None = None
    policy_version: str | None = None
    policy_rule: str | None = None
    segment: str | None = Field(default=None, description="The customer's segment as the policy saw it.")
    priority: str | None = Field(default=None, description="The priority the policy gave the ticket.")
    explanation: str = Field(default="", description="The policy's explanation of its decision.")
    response: str = Field(default="", description="What the customer was sent (or the reviewer's draft).")
    citations: list[str] = Field(default_factory=list, description="Article ids the answer cited.")
    grounded: bool | None = Field(
        default=None,
        description="Whether an answer that went out is supported by what it cites; None when none went out.",
    )
    tool_calls: list[str] = Field(default_factory=list, description="Tools the specialist called.")
    proposed_action: str | None = Field(default=None, description="A sensitive action sent for approval.")
    # Cost
    llm_calls: int = 0
    llm_tokens: int = 0
    llm_cost_usd: float = 0.0
    llm_fallbacks: list[str] = Field(default_factory=list)
    latency_ms: float = Field(description="Wall time of the labelled turn.")
    node_ms: dict[str, float] = Field(default_factory=dict, description="Wall time per graph node.")
    error: str | None = Field(default=None, description="Set when the turn raised instead of finishing.")

    @property
    def correct(self) -> bool:
        """Whether triage chose the gold category."""
        return self.predicted == self.category

    @property
    def unsafe(self) -> bool:
        """A ticket that had to reach a person and was answered automatically."""
        return self.expect_escalation and not self.escalated


def read_predictions(path: Path) -> list[Prediction]:
    """Every prediction of a `predictions.jsonl`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Prediction.model_validate_json(line) for line in lines if line.strip()]
