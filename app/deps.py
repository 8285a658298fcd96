"""FastAPI dependencies: the service opened in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.service import RouterService


def get_service(request: Request) -> RouterService:
    """The process's router service."""
    service: RouterService = request.app.state.service
    return service


ServiceDep = Annotated[RouterService, Depends(get_service)]
