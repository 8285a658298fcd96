"""The FastAPI application: models and stores opened once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from agents.toolkit import Toolkit
from app.routes import health, route
from app.service import ConflictError, InputError, NotFoundError, open_service
from app.settings import Settings

_STATUS_OF: dict[type[Exception], int] = {
    InputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
}


def create_app(settings: Settings | None = None, toolkit: Toolkit | None = None) -> FastAPI:
    """The app; `toolkit` lets tests share loaded models between apps."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service(settings, toolkit) as service:
            app.state.service = service
            yield

    app = FastAPI(title="support-router", version="0.1.0", lifespan=lifespan)
    app.include_router(route.router)
    app.include_router(health.router)

    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=_STATUS_OF[type(error)], content={"detail": str(error)})

    for error_type in _STATUS_OF:
        app.add_exception_handler(error_type, domain_error)
    return app
