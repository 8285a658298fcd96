"""POST /v1/route: run one turn of a conversation."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.deps import ServiceDep
from app.service import MAX_MESSAGE_CHARS, NotFoundError
from graph.outcome import TurnOutcome

router = APIRouter(prefix="/v1", tags=["route"])


class RouteRequest(BaseModel):
    """One customer message."""

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The customer's message.")
    conversation_id: str | None = Field(
        default=None, max_length=64, description="Continue this conversation; omit to start one."
    )
    customer_id: str | None = Field(default=None, max_length=128, description="The customer's id.")


@router.post("/route", response_model=TurnOutcome)
async def route_message(request: RouteRequest, service: ServiceDep) -> TurnOutcome:
    """Classify, route and answer one message, or hand it to a human."""
    if request.conversation_id is not None:
        try:
            await service.conversation_state(request.conversation_id)
        except NotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return await service.run_turn(request.text, request.conversation_id, request.customer_id)
