"""GET /healthz: liveness with the loaded model versions."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import ServiceDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service is up, with what it has loaded."""

    status: str
    triage_model: str
    embedding_model: str
    knowledge_passages: int


@router.get("/healthz", response_model=Health)
async def health(service: ServiceDep) -> Health:
    """Report liveness and loaded versions."""
    toolkit = service.toolkit
    return Health(
        status="ok",
        triage_model=toolkit.classifier.version,
        embedding_model=toolkit.embedder.model_id,
        knowledge_passages=toolkit.knowledge.count(),
    )
