"""Policies for tests that change a rule of the shipped default."""

from __future__ import annotations

from graph.policy.deployment import PolicySet
from graph.policy.evaluate import Policy
from graph.policy.schema import DEFAULT_POLICY_FILE, parse_policy


def policy_set_from(text: str, version: str = "test") -> PolicySet:
    """A policy set serving one document."""
    return PolicySet(Policy(version=version, document=parse_policy(text)))


def default_policy_text() -> str:
    """The shipped default policy's YAML."""
    return DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
