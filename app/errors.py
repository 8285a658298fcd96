"""One JSON error body for every failure, and the status code each kind of error gets."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any

import asyncpg
import psycopg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.outages import RETRY_AFTER_SECONDS, MessageDeferred, Outage, outage_of
from app.refusals import BusyError, ConflictError, ForbiddenError, InputError, NotFoundError
from knowledge.store import KnowledgeUnavailable

log = logging.getLogger("support_router")
BUSY_RETRY_AFTER_SECONDS = 1

_STATUS_OF: dict[type[Exception], int] = {
    InputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ForbiddenError: status.HTTP_403_FORBIDDEN,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
}


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_response(
    status_code: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A response in the uniform error shape."""
    code = HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    body = ErrorBody(error=ErrorDetail(status=status_code, code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


# The errors a dependency's outage surfaces as; each is looked at by `outage_of` (a bug is still a 500).
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    psycopg.Error,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    KnowledgeUnavailable,
)


def unavailable_response(outage: Outage, message: str | None = None, **detail: Any) -> JSONResponse:
    """503 with Retry-After, naming the dependency that is down."""
    return error_response(
        503,
        message or f"{outage.describe()}; retry in {RETRY_AFTER_SECONDS} s",
        details=[{"dependency": outage.dependency, "reason": outage.reason, **detail}],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to the uniform body; nothing leaks a traceback."""

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 400:  # FastAPI's "error parsing the body": bad JSON is a 422 here
            return error_response(422, "the request body is not valid JSON")
        return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError | ValidationError)
        return error_response(422, "the request is not valid", _validation_details(error.errors()))

    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        # The nearest registered kind: a lost lease or a busy conversation is a conflict too.
        status_code = next(_STATUS_OF[kind] for kind in type(error).__mro__ if kind in _STATUS_OF)
        # Busy now, free shortly: the same request (with the same Idempotency-Key) can be sent again.
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)} if isinstance(error, BusyError) else None
        return error_response(status_code, str(error), headers=headers)

    async def deferred(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, MessageDeferred)
        log.warning("message %d kept for later: %s", error.message_id, error.outage.describe())
        message = (
            f"{error.outage.describe()}; the message was received and will be answered when it is back "
            "(retry with the same Idempotency-Key to get the answer)"
        )
        return unavailable_response(error.outage, message, accepted=True, message_id=error.message_id)

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        outage = outage_of(error)
        if outage is not None:
            log.warning("%s %s: %s", request.method, request.url.path, outage.describe())
            return unavailable_response(outage)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; it has been logged")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ValidationError, invalid_request)
    for error_type in _STATUS_OF:
        app.add_exception_handler(error_type, domain_error)
    app.add_exception_handler(MessageDeferred, deferred)
    # Registered by type, so they are answered inside the app (no traceback logged for an outage).
    for error_type in DRIVER_ERRORS:
        app.add_exception_handler(error_type, unexpected)
    app.add_exception_handler(Exception, unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": HTTPStatus(code).phrase}
    for code in (401, 403, 404, 409, 413, 422, 429, 503)
}
