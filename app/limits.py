"""Request limits: body size (ASGI middleware) and per-key request rate."""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413, whether or not they declare a Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes and not refused:
                # Answer now, and tell the app the client went away so it stops reading.
                refused = True
                await self._refuse(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"the request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)


class KeyRateLimiter:
    """A moving-window limit per API key (in process; a shared storage makes it cluster-wide)."""

    def __init__(self, limit: str) -> None:
        self._items: list[RateLimitItem] = parse_many(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def retry_after(self, key_id: str) -> int | None:
        """None when the request may go ahead; otherwise seconds until it may."""
        for item in self._items:
            if not await self._limiter.hit(item, "api-key", key_id):
                stats: Any = await self._limiter.get_window_stats(item, "api-key", key_id)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
