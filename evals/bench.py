"""Latency benchmark of offline turns: embedding floor, core turn, policy, graph with checkpoints."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agents.specialists.extractive import compose_answer, retrieve
from agents.specialists.routing import DOMAIN_OF, SPECIALIST_FOR
from agents.toolkit import Toolkit
from agents.triage.dataset import read_tickets
from app.settings import Settings
from app.store.portfolio import demo_portfolio, facts_of
from graph.builder import RouterGraph, compile_graph
from graph.checkpointer import open_checkpointer
from graph.context import Context
from graph.nodes.route import policy_inputs
from graph.policy.deployment import default_policy_set
from graph.policy.evaluate import PolicyInputs, evaluate
from graph.state import InputState

# Our own training examples stand in for traffic: realistic lengths, all five categories.
SAMPLE_TICKETS = Path(__file__).resolve().parent.parent / "agents" / "triage" / "examples.jsonl"
WARMUP = 10


def sample_texts(count: int) -> list[str]:
    """`count` ticket texts spread over the whole example file."""
    texts = [t.text for t in read_tickets(SAMPLE_TICKETS)]
    step = max(1, len(texts) // count)
    return (texts[::step] * (count // len(texts[::step]) + 1))[:count]


def summarize(milliseconds: Sequence[float]) -> dict[str, float]:
    """Percentiles and throughput of one measurement."""
    values = np.asarray(milliseconds)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": len(values),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "per_second": float(1000 / values.mean()),
    }


def time_each(texts: Sequence[str], work: Callable[[str], object]) -> list[float]:
    """Milliseconds of `work` per text, after a warm-up."""
    for text in texts[:WARMUP]:
        work(text)
    timings = []
    for text in texts:
        started = time.perf_counter()
        work(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def time_each_async(texts: Sequence[str], work: Callable[[str], Awaitable[object]]) -> list[float]:
    """Milliseconds of an async `work` per text, after a warm-up."""
    for text in texts[:WARMUP]:
        await work(text)
    timings = []
    for text in texts:
        started = time.perf_counter()
        await work(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def core_turn(toolkit: Toolkit, settings: Settings) -> Callable[[str], object]:
    """Triage + retrieval + answer for one message, with no graph and no checkpoint."""

    def turn(text: str) -> object:
        vector = toolkit.embedder.embed_one(text)
        result = toolkit.classifier.classify(text, vector)
        specialist = SPECIALIST_FOR[result.classification["category"]]
        passages = retrieve(
            toolkit.knowledge, vector, DOMAIN_OF[specialist], settings.top_k, settings.retrieval_max_distance
        )
        return compose_answer(passages)

    return turn


def policy_evaluation(toolkit: Toolkit, texts: Sequence[str]) -> Callable[[str], object]:
    """The routing policy alone (value score, segment, rules, SLA, explanation), on real classifications.

    Each ticket gets a customer from the demo portfolio in turn, so every segment is exercised.
    """
    customers = [facts_of(c) for c in demo_portfolio()]
    policy = default_policy_set().active
    at = datetime.now(UTC)
    inputs: dict[str, PolicyInputs] = {}
    for number, text in enumerate(dict.fromkeys(texts)):
        classification = toolkit.classifier.classify(text, toolkit.embedder.embed_one(text)).classification
        specialist = SPECIALIST_FOR[classification["category"]]
        customer = customers[number % len(customers)]
        inputs[text] = policy_inputs(classification, specialist, False, "chat", at, customer)
    return lambda text: evaluate(policy, inputs[text])


async def run_bench(settings: Settings, turns: int) -> dict[str, dict[str, float]]:
    """Every measurement on the same texts, in one process."""
    toolkit = Toolkit.load(settings.triage_model, settings.index_dir)
    texts = sample_texts(turns)
    results = {
        "embedding forward pass": summarize(time_each(texts, toolkit.embedder.embed_one)),
        "core turn (triage + retrieval + answer)": summarize(time_each(texts, core_turn(toolkit, settings))),
        "policy evaluation": summarize(time_each(texts, policy_evaluation(toolkit, texts))),
    }
    context = settings.context(toolkit)
    memory_graph = compile_graph(InMemorySaver())
    results["graph turn, in-memory checkpoints"] = summarize(
        await time_each_async(texts, _graph_turn(memory_graph, context))
    )
    with tempfile.TemporaryDirectory() as scratch:
        async with open_checkpointer(Path(scratch)) as saver:
            sqlite_graph = compile_graph(saver)
            results["graph turn, SQLite checkpoints"] = summarize(
                await time_each_async(texts, _graph_turn(sqlite_graph, context))
            )
    return results


def _graph_turn(graph: RouterGraph, context: Context) -> Callable[[str], Awaitable[object]]:
    counter = iter(range(10**9))

    async def turn(text: str) -> object:
        config: RunnableConfig = {"configurable": {"thread_id": f"bench-{next(counter)}"}}
        return await graph.ainvoke(InputState(text=text), config, context=context)

    return turn
