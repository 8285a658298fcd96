"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.deps import ServiceDep
from app.turns import thread_config

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process is up, with the models it loaded."""

    status: str
    triage_model: str
    embedding_model: str


class Readiness(BaseModel):
    """Whether each dependency answered."""

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
    """Readiness: checkpointer, store and knowledge index all reachable (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        await service.graph.aget_state(thread_config("readiness-probe"))
        checks["checkpointer"] = "ok"
    except Exception as error:  # a readiness probe reports any failure instead of raising it
        checks["checkpointer"] = f"error: {type(error).__name__}"
    try:
        await service.store.ping()
        checks["store"] = "ok"
    except Exception as error:
        checks["store"] = f"error: {type(error).__name__}"
    try:
        passages = service.toolkit.knowledge.count()
        checks["knowledge_index"] = "ok" if passages else "error: empty"
    except Exception as error:
        checks["knowledge_index"] = f"error: {type(error).__name__}"
    ok = all(value == "ok" for value in checks.values())
    body = Readiness(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
