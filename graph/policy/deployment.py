"""The policies serving traffic for a run: the active version and, for a share of customers, a canary."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from graph.policy.canary import choose_policy
from graph.policy.evaluate import Policy
from graph.policy.schema import DEFAULT_POLICY_FILE, load_policy_file


@dataclass(frozen=True)
class PolicySet:
    """What the control plane deployed, as one run sees it (never checkpointed)."""

    active: Policy
    canary: Policy | None = None
    canary_percent: float = 0.0

    def for_key(self, key: str) -> Policy:
        """The version one customer sees; the same customer always sees the same one."""
        return choose_policy(self.active, self.canary, self.canary_percent, key)


@functools.cache
def default_policy_set() -> PolicySet:
    """The shipped default policy alone, for runs without a control plane (tests, evals, one-off turns)."""
    return PolicySet(Policy(version="default", document=load_policy_file(DEFAULT_POLICY_FILE)))
