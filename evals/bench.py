"""Benchmark of offline turns: in process against a no-op floor of the same graph shape, and over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import httpx
import numpy as np
import psutil
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Durability

from agents.specialists.extractive import compose_answer, retrieve
from agents.specialists.routing import DOMAIN_OF, SPECIALIST_FOR
from agents.toolkit import Toolkit
from agents.triage.dataset import read_tickets
from app.refusals import InputError
from app.settings import Settings
from app.store.portfolio import demo_portfolio, facts_of
from graph.builder import compile_graph
from graph.checkpointer import open_checkpointer
from graph.context import Context
from graph.nodes.route import policy_inputs
from graph.policy.deployment import default_policy_set
from graph.policy.evaluate import PolicyInputs, evaluate
from graph.state import InputState
from knowledge.embedding import MiniLMEmbedder, Vector

ROOT = Path(__file__).resolve().parent.parent
# Our own training examples stand in for traffic: realistic lengths, all five categories.
SAMPLE_TICKETS = ROOT / "agents" / "triage" / "examples.jsonl"
TEXT_POOL = 200
"""Distinct texts a measurement cycles through (the policy rows classify each one up front)."""
SERVICE_DURABILITY: Durability = "exit"
"""What the service runs turns with (app/turns.py): one checkpoint when a turn ends or pauses."""
FIRST_MESSAGE = "How do I reset my password?"
REQUEST_TIMEOUT_S = 60.0
MB = 1024 * 1024

EMBEDDING = "embedding forward pass"
CORE_TURN = "core turn (triage + retrieval + answer)"
POLICY = "policy evaluation"
REAL_SQLITE = "graph turn, SQLite checkpoints"
REAL_PER_STEP = "graph turn, SQLite, a checkpoint per step"
REAL_MEMORY = "graph turn, in-memory checkpoints"
REAL_NONE = "graph turn, no checkpointer"
FLOOR_SQLITE = "floor: no-op nodes, SQLite checkpoints"
FLOOR_MEMORY = "floor: no-op nodes, in-memory checkpoints"
FLOOR_NONE = "floor: no-op nodes, no checkpointer"

CheckpointerKind = Literal["sqlite", "memory", "none"]
AnyGraph = CompiledStateGraph[Any, Any, Any, Any]
Stats = dict[str, float]


@dataclass(frozen=True)
class Budget:
    """How long one in-process measurement runs: until `seconds` pass or `max_turns` are timed."""

    seconds: float = 8.0
    max_turns: int = 2000
    min_turns: int = 20
    warmup: int = 10


@dataclass(frozen=True)
class HttpPlan:
    """The HTTP part: concurrency levels, each run for `seconds` against one fresh server."""

    concurrency: tuple[int, ...] = (1, 8, 32)
    seconds: float = 15.0


@dataclass(frozen=True)
class GraphCase:
    """One graph measurement: the real graph or its no-op floor, on a checkpointer kind."""

    name: str
    floor: bool
    checkpointer: CheckpointerKind
    durability: Durability = SERVICE_DURABILITY


GRAPH_CASES = (
    GraphCase(REAL_SQLITE, False, "sqlite"),
    GraphCase(REAL_PER_STEP, False, "sqlite", "async"),
    GraphCase(REAL_MEMORY, False, "memory"),
    GraphCase(REAL_NONE, False, "none"),
    GraphCase(FLOOR_SQLITE, True, "sqlite"),
    GraphCase(FLOOR_MEMORY, True, "memory"),
    GraphCase(FLOOR_NONE, True, "none"),
)


class TimedEmbedder(MiniLMEmbedder):
    """The real embedder, counting its forward passes and their time so a turn's share can be told apart."""

    spent_ms = 0.0
    passes = 0

    def _forward(self, texts: list[str]) -> Vector:
        started = time.perf_counter()
        try:
            return super()._forward(texts)
        finally:
            self.spent_ms += (time.perf_counter() - started) * 1000
            self.passes += 1


# --- texts and timing -------------------------------------------------------------------------


def sample_texts(count: int) -> list[str]:
    """`count` ticket texts spread over the whole example file."""
    texts = [t.text for t in read_tickets(SAMPLE_TICKETS)]
    step = max(1, len(texts) // count)
    return (texts[::step] * (count // len(texts[::step]) + 1))[:count]


def percentiles(milliseconds: Sequence[float]) -> Stats:
    """p50, p95 and p99 of some latencies."""
    p50, p95, p99 = np.percentile(np.asarray(milliseconds), [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}


def summarize(milliseconds: Sequence[float]) -> Stats:
    """Percentiles, mean and sequential throughput of one measurement."""
    mean = float(np.mean(milliseconds))
    return {"n": len(milliseconds), **percentiles(milliseconds), "mean": mean, "per_second": 1000 / mean}


def paced(texts: Sequence[str], budget: Budget) -> Iterator[str]:
    """The texts over and over until the budget's time or turns are spent (never fewer than its minimum)."""
    deadline = time.perf_counter() + budget.seconds
    for count, text in enumerate(itertools.islice(itertools.cycle(texts), budget.max_turns)):
        if count >= budget.min_turns and time.perf_counter() >= deadline:
            return
        yield text


def time_each(texts: Sequence[str], work: Callable[[str], object], budget: Budget) -> list[float]:
    """Milliseconds of `work` per text, after a warm-up."""
    for text in texts[: budget.warmup]:
        work(text)
    timings = []
    for text in paced(texts, budget):
        started = time.perf_counter()
        work(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


# --- what is timed in process -----------------------------------------------------------------


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


def graph_turn(
    graph: AnyGraph, context: Context, durability: Durability | None
) -> Callable[[str], Awaitable[object]]:
    """One turn of `graph` per call, each in a new conversation (thread)."""
    counter = itertools.count()

    async def turn(text: str) -> object:
        config: RunnableConfig = {"configurable": {"thread_id": f"bench-{next(counter)}"}}
        return await graph.ainvoke(InputState(text=text), config, context=context, durability=durability)

    return turn


@asynccontextmanager
async def checkpointer_of(kind: CheckpointerKind) -> AsyncIterator[BaseCheckpointSaver[str] | None]:
    """A fresh checkpointer of `kind`; SQLite is the embedded default's, on a scratch data dir."""
    if kind != "sqlite":
        yield InMemorySaver() if kind == "memory" else None
        return
    with tempfile.TemporaryDirectory() as scratch:
        async with open_checkpointer(Path(scratch)) as saver:
            yield saver


# --- the floor: the real graph's shape with no-op nodes ---------------------------------------


def graph_shape(graph: AnyGraph) -> tuple[set[str], set[tuple[str, str, bool]]]:
    """Node names and (source, target, conditional) edges of a compiled graph, as drawn by LangGraph."""
    drawn = graph.get_graph()
    nodes = set(drawn.nodes) - {START, END}
    return nodes, {(e.source, e.target, e.conditional) for e in drawn.edges}


def steps_to_end(edges: set[tuple[str, str, bool]]) -> dict[str, int]:
    """For each node, the fewest edges from it to END (breadth first over the reversed edges)."""
    into: defaultdict[str, list[str]] = defaultdict(list)
    for source, target, _ in edges:
        into[target].append(source)
    distance, queue = {END: 0}, deque([END])
    while queue:
        node = queue.popleft()
        for source in into[node]:
            if source not in distance:
                distance[source] = distance[node] + 1
                queue.append(source)
    return distance


class StateNode(Protocol):
    """A graph node that takes only the state (LangGraph matches nodes by the parameter's name)."""

    def __call__(self, state: Any) -> Awaitable[Command[str] | None]: ...


def noop_node(goto: str | None) -> StateNode:
    """A node that does nothing; where the real node branches it takes the branch `goto`."""

    async def node(state: Any) -> Command[str] | None:
        return Command(goto=goto) if goto else None

    return node


def floor_graph(real: AnyGraph, checkpointer: BaseCheckpointSaver[str] | None) -> AnyGraph:
    """The real graph's nodes, edges and schemas with no-op nodes, built from its structure.

    Where a node branches, the floor takes the branch nearest END, so a floor turn walks the
    shortest path through the graph: the one an answered turn takes.
    """
    nodes, edges = graph_shape(real)
    distance = steps_to_end(edges)
    source = real.builder
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        source.state_schema, context_schema=source.context_schema, input_schema=source.input_schema
    )
    for name in sorted(nodes):
        branches = sorted(t for s, t, conditional in edges if s == name and conditional)
        goto = min(branches, key=lambda t: distance.get(t, len(nodes) + 1)) if branches else None
        builder.add_node(name, noop_node(goto), destinations=tuple(branches) or None)
    for start, end, conditional in sorted(edges):
        if not conditional:
            builder.add_edge(start, end)
    return builder.compile(checkpointer=checkpointer, name="support-router floor")


# --- in-process run ---------------------------------------------------------------------------


async def graph_work(
    stack: AsyncExitStack, case: GraphCase, context: Context
) -> Callable[[str], Awaitable[object]]:
    """One turn of the case's graph per call, on a checkpointer that `stack` closes."""
    saver = await stack.enter_async_context(checkpointer_of(case.checkpointer))
    real = compile_graph(saver)
    graph = floor_graph(real, saver) if case.floor else real
    return graph_turn(graph, context, case.durability if saver is not None else None)


def counting_embedding(
    work: Callable[[str], Awaitable[object]], context: Context, tally: list[tuple[float, int]]
) -> Callable[[str], Awaitable[object]]:
    """`work`, appending the embedding milliseconds and forward passes of each call to `tally`."""

    async def counted(text: str) -> object:
        ms_before, passes_before = embedding_spent(context)
        result = await work(text)
        ms_after, passes_after = embedding_spent(context)
        tally.append((ms_after - ms_before, passes_after - passes_before))
        return result

    return counted


def embedding_spent(context: Context) -> tuple[float, int]:
    """Milliseconds and forward passes of the context's embedder so far (0 when it does not keep count)."""
    embedder = context.toolkit.embedder
    return (embedder.spent_ms, embedder.passes) if isinstance(embedder, TimedEmbedder) else (0.0, 0)


def as_async(work: Callable[[str], object]) -> Callable[[str], Awaitable[object]]:
    """A synchronous `work` callable from the interleaved rounds."""

    async def call(text: str) -> object:
        return work(text)

    return call


async def interleaved(
    works: dict[str, Callable[[str], Awaitable[object]]], texts: Sequence[str], budget: Budget
) -> dict[str, list[float]]:
    """Milliseconds per call of each work, taken in rounds of one call each on the same text.

    Interleaving puts a change in the machine's load (another process, a noisy neighbour) on
    every measurement alike, so their ratios and differences hold even when absolute numbers move.
    """
    for work in works.values():
        for text in texts[: budget.warmup]:
            await work(text)
    rounds = replace(budget, seconds=budget.seconds * len(works))
    timings: dict[str, list[float]] = {name: [] for name in works}
    for text in paced(texts, rounds):
        for name, work in works.items():
            started = time.perf_counter()
            await work(text)
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


async def run_in_process(settings: Settings, budget: Budget) -> dict[str, Any]:
    """Every in-process measurement on the same texts, and the real turn against its floor."""
    toolkit = settings.load_toolkit(embedder=TimedEmbedder())
    texts = sample_texts(min(TEXT_POOL, budget.max_turns))
    rows = {POLICY: summarize(time_each(texts, policy_evaluation(toolkit, texts), budget))}
    context = settings.context(toolkit)
    tally: list[tuple[float, int]] = []
    async with AsyncExitStack() as stack:
        works = {
            EMBEDDING: as_async(toolkit.embedder.embed_one),
            CORE_TURN: as_async(core_turn(toolkit, settings)),
        }
        for case in GRAPH_CASES:
            works[case.name] = await graph_work(stack, case, context)
        works[REAL_SQLITE] = counting_embedding(works[REAL_SQLITE], context, tally)
        timings = await interleaved(works, texts, budget)
    rows |= {name: summarize(ms) for name, ms in timings.items()}
    embedding_ms, passes = np.mean(np.asarray(tally[budget.warmup :] or tally), axis=0)
    comparison = compare(rows, float(embedding_ms)) | {"embedding_passes_per_turn": float(passes)}
    return {"measurements": rows, "comparison": comparison}


# --- ratios and where a turn's time goes ------------------------------------------------------


def compare(rows: dict[str, Stats], embedding_ms_per_turn: float) -> dict[str, Any]:
    """The real SQLite turn against its floor and the bare forward pass, and its time split by cause."""
    real, floor = rows[REAL_SQLITE], rows[FLOOR_SQLITE]
    return {
        "real_over_floor_p50": real["p50"] / floor["p50"],
        "floor_over_real_turns_per_second": floor["per_second"] / real["per_second"],
        "real_over_embedding_p50": real["p50"] / rows[EMBEDDING]["p50"],
        "turn_time": turn_time(rows, embedding_ms_per_turn),
    }


def turn_time(rows: dict[str, Stats], embedding_ms_per_turn: float) -> dict[str, Any]:
    """Mean milliseconds of a real SQLite turn by cause, and each cause's share.

    Means add up where percentiles do not. Checkpointing is the real turn with SQLite minus the
    same turn with no checkpointer; the embedding is timed inside the real turns; the graph
    machinery is the floor with no checkpointer; node work is what remains. Differences of
    separate runs can come out slightly negative on a busy machine; they are clamped to zero.
    """
    total = rows[REAL_SQLITE]["mean"]
    checkpointing = max(0.0, total - rows[REAL_NONE]["mean"])
    machinery = rows[FLOOR_NONE]["mean"]
    parts = {
        "checkpointing": checkpointing,
        "embedding forward pass": embedding_ms_per_turn,
        "graph machinery": machinery,
        "other node work": max(0.0, total - checkpointing - embedding_ms_per_turn - machinery),
    }
    return {
        "mean_turn_ms": total,
        "ms": parts,
        "share": {name: ms / total for name, ms in parts.items()},
    }


# --- HTTP run ---------------------------------------------------------------------------------


class RssSampler:
    """Resident memory of a process and its children, sampled in a background thread; keeps peaks."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.pid = pid
        self.peak_bytes = 0
        self.window_peak_bytes = 0
        self.processes = 1

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> int:
        """Bytes resident now, over the process tree; a child that just exited counts as nothing."""
        tree = [self._process, *self._process.children(recursive=True)]
        self.processes = max(self.processes, len(tree))
        total = 0
        for process in tree:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        self.peak_bytes = max(self.peak_bytes, total)
        self.window_peak_bytes = max(self.window_peak_bytes, total)
        return total

    def take_window_peak(self) -> int:
        """The peak since the last call, and start a new window."""
        peak, self.window_peak_bytes = self.window_peak_bytes, 0
        return peak

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.sample()
            except psutil.NoSuchProcess:
                return


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process and its children so far."""
    process = psutil.Process(pid)
    tree = [process, *process.children(recursive=True)]
    return sum(times.user + times.system for times in (p.cpu_times() for p in tree))


def until(deadline: float, texts: Sequence[str]) -> Iterator[str]:
    """The texts over and over until `deadline` (a `time.perf_counter()` value)."""
    for text in itertools.cycle(texts):
        if time.perf_counter() >= deadline:
            return
        yield text


async def http_level(
    client: httpx.AsyncClient, headers: dict[str, str], concurrency: int, seconds: float, rss: RssSampler
) -> dict[str, Any]:
    """`concurrency` widgets posting back to back for `seconds`, each into its own conversations."""
    from evals.load import widget  # here, not at the top: evals.load imports this module

    texts = sample_texts(TEXT_POOL)
    pid = rss.pid
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    deadline = started + seconds
    runs = await asyncio.gather(
        *(widget(client, headers, until(deadline, texts[i::concurrency]), 0, i) for i in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    statuses = sum((run.statuses for run in runs), Counter[int]())
    accepted = statuses[200] + statuses[202]
    return {
        "concurrency": concurrency,
        "seconds": elapsed,
        "turns": accepted,
        "answered": statuses[200],
        "handed_to_a_person": statuses[202],
        "errors": sum(len(run.errors) for run in runs),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "turns_per_second": accepted / elapsed,
        "latency_ms": percentiles([ms for run in runs for ms in run.latencies_ms]),
        "server_cpu_ms_per_turn": (cpu_seconds(pid) - cpu_before) * 1000 / max(accepted, 1),
        "peak_rss_mb": rss.take_window_peak() / MB,
    }


async def first_turn(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, float]:
    """Status and milliseconds of the first message a fresh server answers."""
    from evals.load import widget

    run = await widget(client, headers, [FIRST_MESSAGE], 0, 0)
    return next(iter(run.statuses), 0), run.latencies_ms[0]


async def run_http(settings: Settings, plan: HttpPlan) -> dict[str, Any]:
    """Start-up, first turn, then each concurrency level against one fresh `support-router serve`."""
    from evals.load import serving, wait_ready

    async with serving(settings) as server:
        limits = httpx.Limits(max_connections=max(plan.concurrency) + 4)
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits
        ) as client:
            await wait_ready(client, server.process)
            ready_s = time.perf_counter() - server.started
            headers = {"Authorization": f"Bearer {server.widget_key}"}
            status, first_ms = await first_turn(client, headers)
            first_s = time.perf_counter() - server.started
            with RssSampler(server.process.pid) as rss:
                rss_ready = rss.sample()
                rss.take_window_peak()
                levels = [await http_level(client, headers, c, plan.seconds, rss) for c in plan.concurrency]
    return {
        "start_to_ready_s": ready_s,
        "start_to_first_turn_s": first_s,
        "first_turn": {"status": status, "ms": first_ms},
        "rss_after_first_turn_mb": rss_ready / MB,
        "peak_rss_mb": rss.peak_bytes / MB,
        "server_processes": rss.processes,
        "levels": levels,
    }


# --- the whole run and its report -------------------------------------------------------------


def git_revision() -> dict[str, Any]:
    """The checkout's commit and whether it has uncommitted changes (None outside a git checkout)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}
    if head.returncode != 0:
        return {"revision": None, "dirty": None}
    return {"revision": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def machine_facts() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": git_revision(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def run_bench(settings: Settings, budget: Budget, plan: HttpPlan | None) -> dict[str, Any]:
    """Machine facts, the in-process measurements and, unless `plan` is None, the HTTP ones."""
    results: dict[str, Any] = {"machine": machine_facts()}
    results["config"] = {"in_process": asdict(budget), "http": asdict(plan) if plan else None}
    results |= await run_in_process(settings, budget)
    results["http"] = await run_http(settings, plan) if plan else None
    return results


def parse_levels(text: str) -> tuple[int, ...]:
    """Concurrency levels from "1,8,32"."""
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--concurrency takes comma-separated whole numbers, not {text!r}") from None
    if not levels or min(levels) < 1 or max(levels) > 256:
        raise InputError(f"concurrency levels must be between 1 and 256, not {text!r}")
    return levels


def write_numbers_and_tables(report_dir: Path, stem: str, results: Any, markdown: str) -> tuple[Path, Path]:
    """A benchmark's report: `stem`.json (every number) and `stem`.md (the tables) in `report_dir`."""
    report_dir.mkdir(parents=True, exist_ok=True)
    numbers, tables = report_dir / f"{stem}.json", report_dir / f"{stem}.md"
    numbers.write_text(json.dumps(results, indent=2) + "\n")
    tables.write_text(markdown)
    return numbers, tables


def write_report(results: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    """bench.json (every number) and bench.md (the tables) in `report_dir`."""
    return write_numbers_and_tables(report_dir, "bench", results, render_markdown(results))


# --- markdown ---------------------------------------------------------------------------------


def render_markdown(results: dict[str, Any]) -> str:
    """The report's tables: in process, real turn against its floor, over HTTP."""
    sections = [
        "# support-router bench",
        machine_line(results["machine"]),
        measurements_table(results["measurements"]),
        comparison_table(results["comparison"]),
    ]
    if results.get("http"):
        sections += [startup_table(results["http"]), http_table(results["http"]["levels"])]
    return "\n\n".join(sections) + "\n"


def machine_line(machine: dict[str, Any]) -> str:
    """One line: cores, Python, platform, revision, load when the run started."""
    git = machine["git"]
    revision = (git["revision"] or "unknown")[:12] + (" (dirty)" if git["dirty"] else "")
    load = " ".join(f"{x:.2f}" for x in machine["load_average_at_start"])
    return (
        f"{machine['cores']} cores · Python {machine['python']} · {machine['platform']} · "
        f"revision {revision} · load average at start {load}"
    )


def measurements_table(rows: dict[str, Stats]) -> str:
    """In-process measurements, one row each, sequential turns."""
    lines = ["| in process | n | p50 ms | p95 ms | p99 ms | turns/s |", "|---|--:|--:|--:|--:|--:|"]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['n']:.0f} | {row['p50']:.3f} | {row['p95']:.3f} | {row['p99']:.3f} "
            f"| {row['per_second']:.0f} |"
        )
    return "\n".join(lines)


def comparison_table(comparison: dict[str, Any]) -> str:
    """The real SQLite turn over its floor and the bare forward pass, and where its mean time goes."""
    split = comparison["turn_time"]
    lines = [
        "| real turn (SQLite) against | value |",
        "|---|--:|",
        f"| p50 ÷ floor p50 | {comparison['real_over_floor_p50']:.1f}× |",
        f"| floor turns/s ÷ real turns/s | {comparison['floor_over_real_turns_per_second']:.1f}× |",
        f"| p50 ÷ embedding forward pass p50 | {comparison['real_over_embedding_p50']:.1f}× |",
        f"| mean turn | {split['mean_turn_ms']:.2f} ms |",
    ]
    if "embedding_passes_per_turn" in comparison:
        lines.append(f"| embedding forward passes per turn | {comparison['embedding_passes_per_turn']:.2f} |")
    lines += [f"| {name} | {ms:.2f} ms ({split['share'][name]:.0%}) |" for name, ms in split["ms"].items()]
    return "\n".join(lines)


def startup_table(http: dict[str, Any]) -> str:
    """Server start-up, first turn and memory."""
    return "\n".join(
        [
            "| server | value |",
            "|---|--:|",
            f"| process start → /readyz 200 | {http['start_to_ready_s']:.2f} s |",
            f"| process start → first turn answered | {http['start_to_first_turn_s']:.2f} s |",
            f"| first turn (status {http['first_turn']['status']}) | {http['first_turn']['ms']:.1f} ms |",
            f"| RSS after first turn | {http['rss_after_first_turn_mb']:.0f} MB |",
            f"| peak RSS under load, {http['server_processes']} process(es) | {http['peak_rss_mb']:.0f} MB |",
        ]
    )


def http_table(levels: Sequence[dict[str, Any]]) -> str:
    """One row per concurrency level."""
    lines = [
        "| HTTP concurrency | turns | errors | turns/s | p50 ms | p95 ms | p99 ms | server CPU ms/turn "
        "| peak RSS MB |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for level in levels:
        latency = level["latency_ms"]
        lines.append(
            f"| {level['concurrency']} | {level['turns']} | {level['errors']} "
            f"| {level['turns_per_second']:.1f} "
            f"| {latency['p50']:.1f} | {latency['p95']:.1f} | {latency['p99']:.1f} "
            f"| {level['server_cpu_ms_per_turn']:.1f} | {level['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)
