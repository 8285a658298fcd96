"""The FastAPI application: models, checkpointer and store opened once in the lifespan."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agents.llm.factory import ModelFactory
from agents.safety.pii import default_redactor
from agents.toolkit import Toolkit
from app.auth import Authenticate
from app.errors import install_error_handlers
from app.limits import BodySizeLimit, KeyRateLimiter
from app.log_redaction import install_log_redaction
from app.routes import audit, conversations, customers, dashboard, health, keys, policies, retention, reviews
from app.routes.pages import install_pages
from app.service import RouterService, open_service
from app.settings import Settings
from app.storable import NulInPathIsNotFound

log = logging.getLogger("support_router")


async def ensure_first_admin_key(service: RouterService) -> None:
    """On a store with no keys at all, issue an admin key and print it, this once."""
    if await service.store.keys.count():
        return
    issued = await service.store.keys.create("admin", "first admin (created on first run)")
    print(
        f"\nsupport-router: created the first admin API key (shown once, store it now):\n  {issued.secret}\n",
        file=sys.stderr,
        flush=True,
    )


def create_app(
    settings: Settings | None = None, toolkit: Toolkit | None = None, models: ModelFactory | None = None
) -> FastAPI:
    """The app; `toolkit` lets tests share loaded models between apps, `models` swaps the chat models."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # After uvicorn has configured logging, so the filter lands on the handlers it made.
        install_log_redaction(default_redactor())
        async with open_service(settings, toolkit, models) as service:
            async with service.store.exclusive("first-admin-key"):  # one key, whichever worker is first
                await ensure_first_admin_key(service)
            app.state.service = service
            app.state.rate_limiter = KeyRateLimiter(settings.rate_limit)
            yield

    app = FastAPI(
        title="support-router",
        version="0.1.0",
        summary="Routes support tickets to specialist agents or human reviewers.",
        lifespan=lifespan,
    )
    # Added first, so it runs after Authenticate: an unauthenticated caller still gets 401 first.
    app.add_middleware(NulInPathIsNotFound)
    app.add_middleware(Authenticate)
    # Added last, so it runs first: a declared oversize body is refused before anything else.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    routers = (
        conversations.router,
        audit.router,
        reviews.router,
        customers.router,
        policies.router,
        keys.router,
        retention.router,
        dashboard.router,
        health.router,
    )
    for router in routers:
        app.include_router(router)
    install_pages(app)
    return app
