"""FastAPI dependencies: the service opened in the lifespan, and conversations the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth import AnyRole
from app.service import RouterService
from app.store.models import Conversation


def get_service(request: Request) -> RouterService:
    """The process's router service."""
    service: RouterService = request.app.state.service
    return service


ServiceDep = Annotated[RouterService, Depends(get_service)]


async def visible_conversation(conversation_id: str, principal: AnyRole, service: ServiceDep) -> Conversation:
    """The conversation in the path, if this caller may see it (404 otherwise)."""
    return await service.conversation(principal, conversation_id)


VisibleConversation = Annotated[Conversation, Depends(visible_conversation)]
