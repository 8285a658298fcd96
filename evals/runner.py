"""The evaluation runner: every labelled ticket through the real graph, as the service would run it.

Each case is its own conversation on an in-memory checkpointer: earlier messages of a multi-turn case
are sent first (an escalation among them is answered by a stand-in reviewer so the conversation goes
on), then the labelled message, whose turn is measured. Customers and business data are the demo
company's, in a scratch store, so a run touches nothing of the data dir and repeats exactly.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.llm.runtime import LLMRuntime
from agents.toolkit import Toolkit
from agents.tools.business import BusinessData
from agents.triage.dataset import LabelledTicket, read_tickets
from app.events import EventHub
from app.metrics import RouterMetrics
from app.refusals import InputError
from app.settings import Settings
from app.store.store import open_store
from app.turns import TurnRunner
from evals.groundedness import measure
from evals.prediction import Prediction
from graph.builder import compile_graph
from graph.context import Context
from graph.customers import CustomerDirectory
from graph.policy.deployment import PolicySet
from graph.state import InputState, State

log = logging.getLogger(__name__)

Mode = Literal["offline", "llm"]
STAND_IN_REVIEWER = {
    "action": "reply",
    "text": "A colleague looked into this and replied.",
    "reviewer": "eval",
}
"""How an escalation before the labelled message is settled, so a multi-turn case can go on."""


@dataclass(frozen=True)
class EvalCase:
    """One labelled ticket and where it came from."""

    dataset: str
    line: int
    ticket: LabelledTicket

    @property
    def id(self) -> str:
        """The dataset's id, or `<dataset>:<line>`."""
        return self.ticket.id or f"{self.dataset}:{self.line}"


def read_cases(paths: Sequence[Path], limit: int | None = None) -> list[EvalCase]:
    """The tickets of every dataset, in order; ids must be unique across them."""
    cases = [
        EvalCase(path.stem, number, ticket)
        for path in paths
        for number, ticket in enumerate(read_tickets(path), start=1)
    ][:limit]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise InputError(f"ticket id {case.id!r} appears twice across the datasets")
        seen.add(case.id)
    return cases


@dataclass(frozen=True)
class EvalSetup:
    """What every case of a run shares: models, policies, customers, business data and the clock."""

    settings: Settings
    toolkit: Toolkit
    policies: PolicySet
    customers: CustomerDirectory
    business: BusinessData
    llm: LLMRuntime | None
    received_at: datetime | None
    """A fixed arrival time, so time-of-day rules and SLA clocks repeat; None for the real time."""

    def context(self, ticket: LabelledTicket) -> Context:
        return self.settings.context(
            self.toolkit,
            ticket.customer_id,
            llm=self.llm,
            business=self.business,
            customers=self.customers,
            policies=self.policies,
            channel=ticket.channel,
            received_at=self.received_at,
        )


@asynccontextmanager
async def open_setup(
    settings: Settings,
    toolkit: Toolkit,
    policies: PolicySet,
    llm: LLMRuntime | None,
    received_at: datetime | None,
) -> AsyncIterator[EvalSetup]:
    """A scratch store seeded with the demo customers and their business data, for one run."""
    with tempfile.TemporaryDirectory(prefix="support-router-eval-") as scratch:
        async with open_store(f"sqlite+aiosqlite:///{scratch}/eval.db") as store:
            await store.customers.seed_demo_if_empty()
            await store.business.seed_demo_if_empty()
            yield EvalSetup(settings, toolkit, policies, store.customers, store.business, llm, received_at)


async def evaluate(
    cases: Sequence[EvalCase],
    setup: EvalSetup,
    concurrency: int = 1,
    on_done: Callable[[], None] = lambda: None,
) -> list[Prediction]:
    """Every case, `concurrency` at a time; predictions in the order of the cases."""
    # The service's own turn runner, on its own hub and metrics, so node times are taken as it takes them.
    runner = TurnRunner(compile_graph(InMemorySaver()), EventHub(), RouterMetrics())
    slots = asyncio.Semaphore(concurrency)

    async def one(case: EvalCase) -> Prediction:
        async with slots:
            prediction = await run_case(runner, case, setup)
        on_done()
        return prediction

    return list(await asyncio.gather(*(one(case) for case in cases)))


async def run_case(runner: TurnRunner, case: EvalCase, setup: EvalSetup) -> Prediction:
    """The case's conversation up to its labelled message, and what the router did with that."""
    conversation = f"eval:{case.id}"
    context = setup.context(case.ticket)
    try:
        for earlier in case.ticket.conversation:
            if (await runner.run(conversation, InputState(text=earlier), context)).interrupts:
                await runner.run(conversation, Command(resume=STAND_IN_REVIEWER), context)
        started = time.perf_counter()
        result = await runner.run(conversation, InputState(text=case.ticket.text), context)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
    except Exception as error:  # one broken ticket is a result of the run, not the end of it
        log.exception("ticket %s failed", case.id)
        return failed_prediction(case, error)
    return prediction_of(case, result.state, latency_ms, result.node_ms)


def prediction_of(case: EvalCase, state: State, latency_ms: float, node_ms: dict[str, float]) -> Prediction:
    """The labelled turn as a prediction: the decision, its explanation, its answer and its cost."""
    classification = state.classification
    assert classification is not None  # every turn is triaged before it can stop
    policy, usage, ticket = state.policy, state.llm_usage, case.ticket
    sent = state.escalation_reason is None and state.response is not None
    citations = state.citations if sent else (state.draft or {"citations": []})["citations"]
    return Prediction(
        **_expected(case),
        predicted=classification["category"],
        confidence=classification["confidence"],
        secondary_intents=list(classification["secondary_intents"]),
        risk_signals=list(classification["risk_signals"]),
        decided_by=classification.get("decided_by", "local_classifier"),
        specialist=policy["specialist"] if policy else state.owner,
        escalated=state.escalation_reason is not None,
        escalation_reason=state.escalation_reason,
        policy_version=policy["policy_version"] if policy else None,
        policy_rule=policy["rule"] if policy else None,
        segment=policy["segment"] if policy else None,
        priority=policy["priority"] if policy else None,
        explanation=policy["explanation"] if policy else "",
        response=state.response or (state.draft or {"text": ""})["text"],
        citations=[c["article_id"] for c in citations],
        grounded=measure(state.response or "", state.citations, state.retrieved).grounded if sent else None,
        tool_calls=[use["name"] for use in state.tool_uses],
        proposed_action=state.proposed_action["name"] if state.proposed_action else None,
        llm_calls=usage["calls"] if usage else 0,
        llm_tokens=usage["input_tokens"] + usage["output_tokens"] if usage else 0,
        llm_cost_usd=usage["cost"] if usage else 0.0,
        llm_fallbacks=list(usage["fallbacks"]) if usage else [],
        latency_ms=latency_ms,
        node_ms=node_ms,
        turns=len(ticket.conversation) + 1,
    )


def failed_prediction(case: EvalCase, error: Exception) -> Prediction:
    """A turn that raised: wrong, not escalated (so it counts against safety), and marked."""
    return Prediction(
        **_expected(case),
        predicted="error",
        confidence=0.0,
        escalated=False,
        latency_ms=0.0,
        turns=len(case.ticket.conversation) + 1,
        error=f"{type(error).__name__}: {error}"[:500],
    )


def _expected(case: EvalCase) -> dict[str, Any]:
    ticket = case.ticket
    return {
        "id": case.id,
        "dataset": case.dataset,
        "text": ticket.text,
        "tags": list(ticket.tags),
        "customer_id": ticket.customer_id,
        "category": ticket.category,
        "expect_escalation": ticket.expect_escalation,
        "expect_specialist": ticket.expect_specialist,
        "expect_citation": ticket.expect_citation,
    }
