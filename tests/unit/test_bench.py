"""The benchmark's structure and report: the floor graph's shape, the ratios, the markdown, a tiny run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from app.refusals import InputError
from app.settings import Settings
from evals.bench import (
    CORE_TURN,
    EMBEDDING,
    FLOOR_NONE,
    FLOOR_SQLITE,
    GRAPH_CASES,
    POLICY,
    REAL_NONE,
    REAL_SQLITE,
    Budget,
    compare,
    floor_graph,
    graph_shape,
    parse_levels,
    render_markdown,
    run_in_process,
    write_report,
)
from graph.builder import compile_graph
from graph.state import InputState
from knowledge.articles import DEFAULT_ARTICLES_DIR, load_articles
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import KnowledgeBase, open_client


@pytest.fixture(scope="module")
def small_index(embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of two articles per domain: enough for a few turns, quicker to build than the whole one."""
    directory = tmp_path_factory.mktemp("small-chroma")
    articles = load_articles(DEFAULT_ARTICLES_DIR)
    domains = sorted({article.domain for article in articles})
    chosen = [a for domain in domains for a in [a for a in articles if a.domain == domain][:2]]
    KnowledgeBase(open_client(directory), embedder).ingest(chosen)
    return directory


def stats(p50: float, mean: float, n: int = 100) -> dict[str, float]:
    return {"n": n, "p50": p50, "p95": p50 * 2, "p99": p50 * 3, "mean": mean, "per_second": 1000 / mean}


def test_the_floor_has_exactly_the_real_graphs_nodes_and_edges() -> None:
    real = compile_graph(None)
    floor = floor_graph(real, None)
    assert graph_shape(floor) == graph_shape(real)
    nodes, edges = graph_shape(real)
    assert {"intake", "route", "escalate", "finalize"} <= nodes
    assert any(conditional for _, _, conditional in edges)


async def test_a_floor_turn_walks_the_shortest_path_and_reaches_the_end() -> None:
    floor = floor_graph(compile_graph(None), InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "t"}}
    steps = [
        list(update) async for update in floor.astream(InputState(text="hi"), config, stream_mode="updates")
    ]
    nodes = [step[0] for step in steps]
    assert nodes[:4] == ["intake", "enrich", "triage", "route"]
    assert nodes[-1] == "finalize" and len(nodes) == 6


def test_ratios_and_the_split_of_a_turn() -> None:
    rows = {
        EMBEDDING: stats(5.0, 6.0),
        REAL_SQLITE: stats(20.0, 25.0),
        REAL_NONE: stats(18.0, 20.0),
        FLOOR_SQLITE: stats(4.0, 5.0),
        FLOOR_NONE: stats(2.0, 2.5),
    }
    result = compare(rows, embedding_ms_per_turn=7.5)
    assert result["real_over_floor_p50"] == pytest.approx(5.0)
    assert result["floor_over_real_turns_per_second"] == pytest.approx(5.0)
    assert result["real_over_embedding_p50"] == pytest.approx(4.0)
    split = result["turn_time"]
    assert split["mean_turn_ms"] == 25.0
    assert split["ms"] == pytest.approx(
        {"checkpointing": 5.0, "embedding forward pass": 7.5, "graph machinery": 2.5, "other node work": 10.0}
    )
    assert sum(split["share"].values()) == pytest.approx(1.0)
    assert split["share"]["checkpointing"] == pytest.approx(0.2)


def test_a_negative_difference_is_clamped_to_zero() -> None:
    rows = {
        EMBEDDING: stats(5.0, 6.0),
        REAL_SQLITE: stats(20.0, 20.0),
        REAL_NONE: stats(21.0, 21.0),
        FLOOR_SQLITE: stats(4.0, 5.0),
        FLOOR_NONE: stats(2.0, 2.0),
    }
    assert compare(rows, 6.0)["turn_time"]["ms"]["checkpointing"] == 0.0


def small_results() -> dict[str, Any]:
    names = [EMBEDDING, CORE_TURN, POLICY, *(case.name for case in GRAPH_CASES)]
    measurements = {name: stats(1.0 + number, 2.0 + number) for number, name in enumerate(names)}
    return {
        "machine": {
            "cores": 2,
            "python": "3.11.7",
            "platform": "Linux-x86_64",
            "git": {"revision": "0123456789abcdef", "dirty": True},
            "load_average_at_start": [0.5, 0.25, 0.0],
        },
        "measurements": measurements,
        "comparison": compare(measurements, 3.25) | {"embedding_passes_per_turn": 1.25},
        "http": {
            "start_to_ready_s": 4.56,
            "start_to_first_turn_s": 4.78,
            "first_turn": {"status": 200, "ms": 87.6},
            "rss_after_first_turn_mb": 512.0,
            "peak_rss_mb": 777.0,
            "server_processes": 1,
            "levels": [
                {
                    "concurrency": c,
                    "turns": 100 + c,
                    "errors": c % 3,
                    "turns_per_second": 10.0 + c,
                    "latency_ms": {"p50": 40.0 + c, "p95": 60.0 + c, "p99": 80.0 + c},
                    "server_cpu_ms_per_turn": 30.0 + c,
                    "peak_rss_mb": 700.0 + c,
                }
                for c in (1, 8, 32)
            ],
        },
    }


def test_the_markdown_renders_every_measurement() -> None:
    results = small_results()
    text = render_markdown(results)
    for name, row in results["measurements"].items():
        assert f"| {name} | {row['n']:.0f} | {row['p50']:.3f} | {row['p95']:.3f} | {row['p99']:.3f}" in text
    for part in ("checkpointing", "embedding forward pass", "graph machinery", "other node work"):
        assert f"| {part} |" in text
    assert "p50 ÷ floor p50" in text and "floor turns/s ÷ real turns/s" in text
    for value in (
        "| embedding forward passes per turn | 1.25 |",
        "4.56 s",
        "4.78 s",
        "87.6 ms",
        "512 MB",
        "777 MB",
        "0123456789ab (dirty)",
    ):
        assert value in text
    for level in results["http"]["levels"]:
        assert f"| {level['concurrency']} | {level['turns']} | {level['errors']} |" in text
        assert f"| {level['latency_ms']['p99']:.1f} | {level['server_cpu_ms_per_turn']:.1f} |" in text


def test_the_markdown_leaves_out_http_when_it_was_not_run(tmp_path: Path) -> None:
    results = small_results() | {"http": None}
    numbers, table = write_report(results, tmp_path / "bench")
    assert numbers.name == "bench.json" and table.name == "bench.md"
    assert "HTTP concurrency" not in table.read_text()
    assert REAL_SQLITE in table.read_text()


def test_concurrency_levels_are_parsed_or_refused() -> None:
    assert parse_levels("1,8,32") == (1, 8, 32)
    for bad in ("", "1,x", "0", "1,999"):
        with pytest.raises(InputError):
            parse_levels(bad)


async def test_a_tiny_in_process_run_returns_every_measurement(
    tmp_path: Path, head_dir: Path, small_index: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", triage_model=head_dir)
    settings = settings.model_copy(update={"index_dir_override": small_index})
    results = await run_in_process(settings, Budget(seconds=0.0, max_turns=3, min_turns=2, warmup=1))
    expected = {EMBEDDING, CORE_TURN, POLICY, *(case.name for case in GRAPH_CASES)}
    assert set(results["measurements"]) == expected
    for row in results["measurements"].values():
        assert set(row) == {"n", "p50", "p95", "p99", "mean", "per_second"}
        assert row["n"] >= 2
    assert set(results["comparison"]) == {
        "real_over_floor_p50",
        "floor_over_real_turns_per_second",
        "real_over_embedding_p50",
        "turn_time",
        "embedding_passes_per_turn",
    }
    assert results["comparison"]["embedding_passes_per_turn"] >= 1
    assert results["comparison"]["turn_time"]["ms"]["embedding forward pass"] > 0
