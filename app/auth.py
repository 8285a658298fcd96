"""Authentication by API key and the role each route requires."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_response, unavailable_response
from app.outages import outage_of
from app.store.keys import Principal, Role

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}
PROTECTED_PREFIX = "/v1/"


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer …` or `X-API-Key`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


class Authenticate:
    """Check the API key of every `/v1/` request before anything else reads it (body included).

    An unauthenticated caller learns nothing about the request it sent: not whether its JSON was
    valid, not whether the conversation exists.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        service = request.app.state.service
        key = presented_key(request)
        try:
            principal = await service.store.keys.verify(key) if key else None
        except Exception as error:  # outside the app's handlers: an outage is answered here
            outage = outage_of(error)
            if outage is None:
                raise
            await unavailable_response(outage)(scope, receive, send)
            return
        if principal is None:
            service.metrics.rejected.labels("unauthenticated").inc()
            response = error_response(401, "a valid API key is required", headers=UNAUTHORIZED_HEADERS)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only `roles` (others get 403), within the key's rate limit (429)."""

    async def dependency(request: Request) -> Principal:
        principal: Principal = request.state.principal  # set by Authenticate
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {', '.join(roles)}")
        retry_after = await request.app.state.rate_limiter.retry_after(principal.key_id)
        if retry_after is not None:
            request.app.state.service.metrics.rejected.labels("rate_limited").inc()
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many requests for this key",
                headers={"Retry-After": str(retry_after)},
            )
        return principal

    return dependency


WidgetOrAdmin = Annotated[Principal, Depends(require("widget", "admin"))]
AnyRole = Annotated[Principal, Depends(require("widget", "reviewer", "admin"))]
ReviewerOrAdmin = Annotated[Principal, Depends(require("reviewer", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
