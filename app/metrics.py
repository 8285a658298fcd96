"""Prometheus metrics of the service, in a registry of its own per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RouterMetrics:
    """Turns, latency per turn and per node, escalations by reason, policy decisions, the review queue."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "support_router_turns", "Finished turns by outcome status.", ["status"], registry=self.registry
        )
        self.turn_seconds = Histogram(
            "support_router_turn_seconds",
            "Wall time of a turn.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.node_seconds = Histogram(
            "support_router_node_seconds",
            "Wall time of each graph node.",
            ["node"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.escalations = Counter(
            "support_router_escalations",
            "Turns handed to a person, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.review_queue = Gauge(
            "support_router_review_queue_depth", "Reviews waiting for a person.", registry=self.registry
        )
        self.policy_decisions = Counter(
            "support_router_policy_decisions",
            "Routing decisions by policy version and path, to compare a canary with the active version.",
            ["version", "path"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "support_router_rejected_requests",
            "Requests refused before any work: rate limit, size, auth.",
            ["reason"],
            registry=self.registry,
        )
