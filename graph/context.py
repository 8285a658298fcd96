"""Run-scoped context: the customer of the run, thresholds from settings, and the loaded toolkit."""

from __future__ import annotations

from dataclasses import dataclass

from agents.toolkit import Toolkit


@dataclass(frozen=True)
class Context:
    """What a node needs besides the state; never checkpointed."""

    toolkit: Toolkit
    """The embedder, classifier and knowledge base shared by every run in the process."""
    customer_id: str | None = None
    """The customer the conversation belongs to, when the caller knows it."""
    confidence_threshold: float = 0.5
    """Below this triage confidence a new issue goes to a human."""
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
