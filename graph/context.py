"""Run-scoped context: the customer and channel of the run, the policies in force, thresholds, models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agents.llm.runtime import LLMRuntime
from agents.toolkit import Toolkit
from agents.tools.business import BusinessData
from graph.customers import CustomerDirectory
from graph.policy.deployment import PolicySet, default_policy_set


@dataclass(frozen=True)
class Context:
    """What a node needs besides the state; never checkpointed."""

    toolkit: Toolkit
    """The embedder, classifier and knowledge base shared by every run in the process."""
    customer_id: str | None = None
    """The customer the conversation belongs to, when the caller knows it."""
    customers: CustomerDirectory | None = None
    """Where `enrich` looks the customer up; None routes every ticket as from an unknown customer."""
    policies: PolicySet = field(default_factory=default_policy_set)
    """The routing policies in force: the active version and any canary."""
    llm: LLMRuntime | None = None
    """LLM mode's models, guard and redactor; None runs the offline mode."""
    business: BusinessData | None = None
    """The business data the LLM specialists' tools read, and where approved actions are carried out."""
    channel: str = "chat"
    """Where the message arrived; policies may route by it."""
    received_at: datetime | None = None
    """When the message was accepted: SLA clocks start here and time-of-day rules read it (default now)."""
    new_issue_threshold: float = 0.7
    """A follow-up leaves the current specialist only when triage is at least this sure."""
    retrieval_max_distance: float = 0.66
    """Passages farther than this cosine distance are not relevant enough to answer from."""
    top_k: int = 4
    """How many passages a specialist retrieves."""
    loop_guard_window: int = 4
    """How many recent turns the loop guard looks at."""
    loop_guard_max_switches: int = 2
    """More specialist switches than this within the window escalate instead."""
