"""Conversations for the chat widget: create, post messages, read, and stream events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from app.auth import WidgetOrAdmin
from app.deps import ServiceDep, VisibleConversation
from app.errors import ERROR_RESPONSES
from app.service import MAX_MESSAGE_CHARS, response_status
from app.storable import NO_NUL, NO_NUL_NOT_BLANK
from app.store.idempotency import Claim
from graph.outcome import TurnOutcome

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERROR_RESPONSES)

Channel = Literal["chat", "email", "web", "mobile", "api"]
MetadataValue = str | int | float | bool | None


class ConversationIn(BaseModel):
    """A new conversation."""

    # NaN and Infinity are not JSON: a stored NaN would come back as null, and PostgreSQL refuses it.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    customer_id: str | None = Field(
        default=None, max_length=128, pattern=NO_NUL, description="The customer's id."
    )
    customer_token: str | None = Field(
        default=None,
        max_length=4096,
        description="A token the embedding site signed for the customer (a JWT, HS256, audience "
        "`support-router`, `sub` the customer id): required of widget keys for a customer when the "
        "service has a customer token secret.",
    )
    channel: Channel = Field(default="chat", description="Where the customer writes from.")
    metadata: dict[Annotated[str, Field(max_length=64)], MetadataValue] = Field(
        default_factory=dict, max_length=32, description="Free-form attributes kept with it."
    )


class ConversationCreated(BaseModel):
    """The id to post messages to."""

    id: str
    customer_id: str | None
    channel: str
    status: str
    created_at: datetime


class MessageIn(BaseModel):
    """One customer message."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        pattern=NO_NUL_NOT_BLANK,
        description="The customer's message: not only white space.",
    )


class TranscriptEntry(BaseModel):
    """One line of the transcript."""

    id: int
    role: str = Field(description="customer, assistant or reviewer")
    text: str
    turn: int
    state: str = Field(description="customer: answered, handed_off, held or received; replies: sent")
    author: str | None
    created_at: datetime


class ConversationOut(BaseModel):
    """A conversation with its transcript and the outcome of every turn."""

    id: str
    customer_id: str | None
    channel: str
    metadata: dict[str, Any]
    status: str = Field(description="active, waiting_for_human, closed or anonymised (by retention)")
    owner: str | None = Field(description="The specialist that holds it, or `reviewer`.")
    turns: int
    created_at: datetime
    updated_at: datetime
    transcript: list[TranscriptEntry]
    outcomes: list[TurnOutcome]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated)
async def create_conversation(
    body: ConversationIn, principal: WidgetOrAdmin, service: ServiceDep
) -> ConversationCreated:
    """Start a conversation; post its messages to `/v1/conversations/{id}/messages`."""
    conversation = await service.create_conversation(
        principal, body.customer_id, body.channel, body.metadata, body.customer_token
    )
    return ConversationCreated(
        id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        status=conversation.status,
        created_at=conversation.created_at,
    )


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnOutcome,
    responses={202: {"model": TurnOutcome, "description": "A person has the conversation; they will reply."}},
)
async def post_message(
    conversation_id: str,
    body: MessageIn,
    principal: WidgetOrAdmin,
    service: ServiceDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Route one message. 200 with the answer, or 202 while a person has the conversation.

    With an `Idempotency-Key`, a retry of the same request replays the first response; the same key
    with another body is 422, and while the first is still running 409. When the worker running the
    first died, a retry takes over: it gets the answer to the message the first had accepted (or
    sends it, if it had not got that far). Messages to one conversation are processed one at a time
    in arrival order.
    """
    if idempotency_key is None:
        outcome = await service.post_message(principal, conversation_id, body.text)
        response.status_code = response_status(outcome)
        return outcome
    request_hash = hashlib.sha256(
        json.dumps({"conversation_id": conversation_id, "text": body.text}, sort_keys=True).encode()
    ).hexdigest()
    claim = await service.store.idempotency.begin(
        principal.key_id, idempotency_key, request_hash, service.worker
    )
    if claim.outcome == "mismatch":
        raise HTTPException(422, "this Idempotency-Key was already used for a different request")
    if claim.outcome == "in_progress":
        raise HTTPException(409, "a request with this Idempotency-Key is still running", {"Retry-After": "1"})
    if claim.outcome == "replay":
        return replayed(claim)
    held = claim.held
    assert held is not None  # `new` and `resume` claims own the key
    try:
        if claim.outcome == "resume":
            return replayed(await service.finish_request(principal, conversation_id, held))
        # The service ties the key to the accepted message, and stores the response with the reply.
        outcome = await service.post_message(principal, conversation_id, body.text, held)
    except BaseException:
        await service.give_up(held)
        raise
    response.status_code = response_status(outcome)
    return outcome


def replayed(claim: Claim) -> JSONResponse:
    """The stored response of an Idempotency-Key, marked as a replay."""
    return JSONResponse(claim.body, status_code=claim.status or 200, headers={"Idempotent-Replayed": "true"})


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation: VisibleConversation, service: ServiceDep) -> ConversationOut:
    """The transcript, status, owner and every turn's outcome."""
    messages = await service.store.conversations.messages(conversation.id)
    return ConversationOut(
        id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        metadata=conversation.meta,
        status=conversation.status,
        owner=conversation.owner,
        turns=conversation.turns,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        transcript=[
            TranscriptEntry(
                id=m.id,
                role=m.role,
                text=m.text,
                turn=m.turn,
                state=m.state,
                author=m.author,
                created_at=m.created_at,
            )
            for m in messages
        ],
        outcomes=[TurnOutcome.model_validate(m.outcome) for m in messages if m.outcome],
    )


@router.get("/{conversation_id}/events", response_class=EventSourceResponse)
async def conversation_events(
    conversation: VisibleConversation,
    service: ServiceDep,
    after: Annotated[int, Query(ge=0, description="Replay stored events after this id.")] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Server-Sent Events of the conversation: progress of each turn, replies, escalations, status.

    Stored events (`message`, `escalated`, `status`, `review_claimed`, `review_resolved`) carry an id
    and are replayed after `Last-Event-ID` (or `?after=`) on reconnection; progress events
    (`node_started`, `node_finished`, `answer_chunk`) are live only.
    """
    last = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    with service.hub.subscribe(conversation.id) as live:
        for stored in await service.store.events.after(conversation.id, last):
            last = stored.id
            yield ServerSentEvent(data=stored.data, event=stored.type, id=str(stored.id))
        while True:
            event = await live.get()
            if event.id is None:
                yield ServerSentEvent(data=event.data, event=event.type)
            elif event.id > last:
                # Stored events can be published out of order (or by another worker): send every
                # stored event up to this one from the store, in id order, so none is skipped.
                for stored in await service.store.events.after(conversation.id, last):
                    last = stored.id
                    yield ServerSentEvent(data=stored.data, event=stored.type, id=str(stored.id))
