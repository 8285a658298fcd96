"""The handoff a reviewer sees and the decision a reviewer sends back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from typing_extensions import TypedDict

from agents.specialists.agent import ToolUse
from agents.specialists.extractive import Draft, RetrievedPassage
from agents.specialists.routing import Specialist
from agents.tools.business import ProposedAction
from agents.triage.classifier import Classification
from graph.state import ReviewAction, ReviewDecision


class TranscriptLine(TypedDict):
    """One message of the conversation as a reviewer reads it."""

    role: Literal["customer", "assistant"]
    text: str


class Handoff(TypedDict):
    """The payload of the `escalate` interrupt: all a reviewer needs to decide."""

    conversation_id: str
    turn: int
    customer_id: str | None
    text: str
    transcript: list[TranscriptLine]
    classification: Classification | None
    retrieved: list[RetrievedPassage]
    draft: Draft | None
    reason: str
    proposed_action: ProposedAction | None
    """A sensitive action the specialist proposed: approving the draft carries it out, once."""
    tool_uses: list[ToolUse]
    """The tools the specialist called, with their arguments."""


class ReviewerDecision(BaseModel):
    """A reviewer's decision, validated before it resumes the conversation."""

    action: ReviewAction = Field(description="approve the draft, reply, reroute, or close.")
    text: str | None = Field(default=None, description="The reply, for `reply`.")
    target: Specialist | None = Field(default=None, description="The specialist, for `reroute`.")
    reviewer: str | None = Field(default=None, description="Who decided, for the record.")

    @model_validator(mode="after")
    def _fits_action(self) -> ReviewerDecision:
        if self.action == "reply" and not (self.text and self.text.strip()):
            raise ValueError("a reply needs its text")
        if self.action == "reroute" and self.target is None:
            raise ValueError("a reroute needs a target specialist")
        return self

    def as_state(self) -> ReviewDecision:
        """The decision as it is kept in the graph state."""
        return ReviewDecision(action=self.action, text=self.text, target=self.target, reviewer=self.reviewer)


def parse_decision(value: Any) -> ReviewerDecision:
    """Validate whatever `Command(resume=…)` carried."""
    return ReviewerDecision.model_validate(value)
