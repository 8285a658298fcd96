"""Canary rollout: a stable share of customers sees the candidate policy version."""

from __future__ import annotations

import hashlib

from graph.policy.evaluate import Policy

CANARY_BUCKETS = 10_000


def bucket(key: str) -> int:
    """A stable bucket in 0..9999 for the key; the same key lands in the same bucket on every worker."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % CANARY_BUCKETS


def in_canary(key: str, percent: float) -> bool:
    """Whether the key falls in the first `percent` of buckets."""
    if not 0 <= percent <= 100:
        raise ValueError(f"canary percent must be within 0..100, got {percent}")
    return bucket(key) < percent * CANARY_BUCKETS / 100


def choose_policy(active: Policy, canary: Policy | None, percent: float, key: str) -> Policy:
    """The policy for this key: the canary for keys in its buckets, the active one otherwise.

    The key is the customer id, or the conversation id when the customer is unknown, so that one
    customer always sees one version.
    """
    chosen = in_canary(key, percent)  # checks the percent even while no canary is staged
    return canary if canary is not None and chosen else active
