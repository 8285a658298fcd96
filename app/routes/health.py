"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.deps import ServiceDep
from app.outages import outage_of
from app.service import RouterService
from app.turns import thread_config
from knowledge.store import IndexMissingError

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0
"""A dependency that has not answered by then counts as down: a probe must answer quickly."""
MIN_FREE_BYTES = 1024 * 1024
"""Below this, an embedded (SQLite) deployment's data dir cannot take another turn's writes."""


class Health(BaseModel):
    """The process is up, with the models it loaded."""

    status: str
    triage_model: str
    embedding_model: str


class Readiness(BaseModel):
    """Whether each dependency answered: `ok`, `error: …` (not ready) or `degraded: …` (ready, but
    something needs a person's attention)."""

    status: str
    checks: dict[str, str]


@router.get("/healthz", response_model=Health)
async def health(service: ServiceDep) -> Health:
    """Liveness: the process answers."""
    return Health(
        status="ok",
        triage_model=service.toolkit.classifier.version,
        embedding_model=service.toolkit.embedder.model_id,
    )


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(service: ServiceDep) -> Any:
    """Readiness: checkpointer, store and knowledge index all reachable (503 otherwise, naming each
    failing dependency and why); a Chroma server that is away while its index is searched in memory is
    `degraded`, not a failure."""
    checks = {
        "checkpointer": await _check(service.graph.aget_state(thread_config("readiness-probe"))),
        "store": await _check(service.store.ping()),
        "knowledge_index": _searchable(service, await _check(_index_has_passages(service))),
        "policy": await _check(service.policies.current()),
    }
    if checks["policy"] == "ok" and service.policies.problem:
        checks["policy"] = f"degraded: {service.policies.problem}"
    if service.settings.database_url is None:  # SQLite under the data dir: its disk must have room
        checks["disk"] = _disk_check(service)
    ok = not any(value.startswith("error") for value in checks.values())
    body = Readiness(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _searchable(service: RouterService, reached: str) -> str:
    """A Chroma server that does not answer is no outage while the worker searches its in-memory copy."""
    entries = service.toolkit.knowledge.in_memory
    if reached.startswith("error") and reached != "error: empty" and entries:
        return (
            f"degraded: {reached.removeprefix('error: ')}; searching the in-memory copy of {entries} entries"
        )
    return reached


def _disk_check(service: RouterService) -> str:
    free = shutil.disk_usage(service.settings.data_dir).free
    return "ok" if free >= MIN_FREE_BYTES else f"error: disk full ({free / 2**20:.1f} MiB free)"


async def _index_has_passages(service: RouterService) -> None:
    # Chroma's client is synchronous: off the event loop, so a slow server cannot stall other requests.
    if not await asyncio.to_thread(service.toolkit.knowledge.count):
        raise IndexMissingError("the knowledge index is empty")


async def _check(probe: Awaitable[object]) -> str:
    """`ok`, or `error: ` and why the dependency did not answer in time."""
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as error:  # a readiness probe reports any failure instead of raising it
        if isinstance(error, IndexMissingError):
            return "error: empty"
        outage = outage_of(error)
        return f"error: {outage.reason if outage else type(error).__name__}"
    return "ok"


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics of this process; the review queue's depth is the store's, shared by all workers."""
    try:
        service.metrics.review_queue.set(await service.store.reviews.count_pending())
    except Exception as error:  # with the store away the other metrics still matter; the depth stays
        if outage_of(error) is None:
            raise
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
