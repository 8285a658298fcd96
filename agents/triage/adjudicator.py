"""LLM-assisted triage: the model adjudicates only the tickets the local classifier is unsure about."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agents.llm.runtime import LLMRuntime
from agents.llm.structured import structured_call
from agents.llm.usage import UsageMeter
from agents.triage.classifier import SIGNAL_INTENTS, Adjudication, Classification
from agents.triage.dataset import Category
from agents.triage.risk import RiskSignal
from prompts import fences
from prompts import triage as triage_prompts

OVERLAP_MARGIN = 0.15
"""Two categories whose probabilities are closer than this are overlapping intents."""
HISTORY_MESSAGES = 4


class TriageVerdict(BaseModel):
    """The triage model's classification of one message."""

    category: Category = Field(description="The primary support category.")
    confidence: float = Field(ge=0, le=1, description="Probability that the category is right.")
    secondary_intents: list[Category] = Field(default_factory=list, description="Further issues raised.")
    risk_signals: list[RiskSignal] = Field(default_factory=list, description="Risk signals present.")
    reason: str = Field(max_length=300, description="One short line explaining the decision.")


def adjudication_triggers(classification: Classification, confidence_threshold: float) -> list[str]:
    """Why this ticket needs the model; empty when the local classifier may decide alone."""
    triggers: list[str] = []
    if classification["confidence"] < confidence_threshold:
        triggers.append("low_confidence")
    ranked = sorted(classification["probabilities"].values(), reverse=True)
    if len(ranked) > 1 and ranked[0] - ranked[1] < OVERLAP_MARGIN:
        triggers.append("overlapping_intents")
    implied = {SIGNAL_INTENTS[s] for s in classification["risk_signals"] if s in SIGNAL_INTENTS}
    if implied and classification["category"] not in implied:
        triggers.append("ambiguous_risk_signal")
    return triggers


async def adjudicate(
    llm: LLMRuntime,
    meter: UsageMeter,
    text: str,
    history: Sequence[str],
    local: Classification,
    triggers: list[str],
) -> Classification | None:
    """The model's classification merged with the local one, or None when it gave no usable answer.

    Raises LLMUnavailable when the model cannot be asked.
    """
    redact = llm.redactor.redact
    recent = [redact(line) for line in history[-HISTORY_MESSAGES:]]
    messages: list[AnyMessage] = [
        SystemMessage(content=triage_prompts.SYSTEM.format(untrusted_note=fences.UNTRUSTED_NOTE)),
        HumanMessage(
            content=triage_prompts.MESSAGE.format(
                local_category=local["category"],
                local_confidence=local["confidence"],
                history=fences.fence("history", "\n".join(recent)) if recent else "none",
                message=fences.fence("customer-message", redact(text)),
            )
        ),
    ]
    model = llm.models.chat_model("triage")
    verdict = await structured_call(llm.guard, "triage", meter, model, TriageVerdict, messages)
    if verdict is None:
        return None
    return merge_verdict(local, verdict, triggers, llm.config.endpoint("triage").model)


def merge_verdict(
    local: Classification, verdict: TriageVerdict, triggers: list[str], model: str
) -> Classification:
    """The model decides the category; risk signals are the union, so no message can talk one away."""
    signals = list(dict.fromkeys([*local["risk_signals"], *verdict.risk_signals]))
    secondary = [c for c in dict.fromkeys(verdict.secondary_intents) if c not in (verdict.category, "other")]
    return Classification(
        category=verdict.category,
        confidence=round(verdict.confidence, 4),
        probabilities=local["probabilities"],
        secondary_intents=secondary,
        risk_signals=signals,
        model_version=local["model_version"],
        decided_by="llm",
        adjudication=Adjudication(
            triggers=triggers,
            local_category=local["category"],
            local_confidence=local["confidence"],
            reason=verdict.reason,
            model=model,
        ),
    )
