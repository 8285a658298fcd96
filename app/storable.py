"""Text the stores can keep: PostgreSQL's text type cannot hold the NUL character, so no input may carry it.

Request fields say so in their schema (`NO_NUL`), so clients and fuzzers know; an id in a path that
holds one names nothing, and is answered 404 before any store is asked.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_response

NO_NUL = r"^[^\x00]*$"
"""The pattern of a request string field: anything but the NUL character."""
# \x1c-\x1f are white space to Python's str.strip(), which the service trims with, but not to the
# regex engine that checks request fields.
NO_NUL_NOT_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f][^\x00]*$"
"""The same, with at least one character that str.strip() keeps: no message is only white space."""


class NulInPathIsNotFound:
    """404 for a path with a NUL in it (`%00`): every id is stored as text, so nothing has that name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope["path"]:
            await error_response(404, "Not Found")(scope, receive, send)
            return
        await self.app(scope, receive, send)
