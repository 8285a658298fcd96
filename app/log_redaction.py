"""A logging filter that redacts PII from log records before any handler formats them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TypeAlias

from agents.safety.pii import Redactor

REDACTED_LOGGERS = ("support_router", "uvicorn.access", "uvicorn.error")
"""Loggers whose own records are redacted even when they do not propagate to the root handlers."""

_Args: TypeAlias = tuple[object, ...] | Mapping[str, object]
_MARK = "_pii_redacted"
_KEPT_TYPES = (int, float, bool, type(None))
"""Arg types left as they are: they cannot hold PII text and `%d`-style formats need them unchanged."""


class RedactingFilter(logging.Filter):
    """Redacts a record's message template, its args, and any exception or stack text, in place.

    Args keep their positions and types (uvicorn's access formatter unpacks them), so a string arg
    stays a string with placeholders in it; any other object is replaced by its redacted `str()`.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._busy = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record and let it through; drop records logged while redacting."""
        if getattr(self._busy, "active", False):
            # The analyzer's own debug logging would re-enter here; those records describe the text
            # being redacted, so they are dropped rather than redacted recursively.
            return False
        if getattr(record, _MARK, False):
            return True
        self._busy.active = True
        try:
            self._redact(record)
        finally:
            self._busy.active = False
        setattr(record, _MARK, True)
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        # getMessage() would str() a non-string message anyway.
        record.msg = self.redactor.redact(str(record.msg))
        record.args = self._redact_args(record.args)
        if record.exc_info and not record.exc_text:
            # Formatting the traceback here, once, lets its text (exception messages quote input) be
            # redacted; handlers reuse exc_text instead of formatting exc_info again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)

    def _redact_args(self, args: _Args | None) -> _Args | None:
        if isinstance(args, Mapping):
            return {key: self._redact_value(value) for key, value in args.items()}
        if isinstance(args, tuple):
            return tuple(self._redact_value(value) for value in args)
        return args

    def _redact_value(self, value: object) -> object:
        if isinstance(value, _KEPT_TYPES):
            return value
        return self.redactor.redact(value if isinstance(value, str) else str(value))


def _attach(target: logging.Logger | logging.Handler, redacting: RedactingFilter) -> None:
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(redacting)


def install_log_redaction(redactor: Redactor, loggers: Iterable[str] = REDACTED_LOGGERS) -> RedactingFilter:
    """Attach one redacting filter to the root logger's handlers and to the named loggers.

    Handler filters see every record that reaches the root handlers; logger filters cover records of
    loggers that do not propagate (uvicorn's). Installing twice does not stack filters.
    """
    redacting = RedactingFilter(redactor)
    for handler in logging.getLogger().handlers:
        _attach(handler, redacting)
    for name in loggers:
        _attach(logging.getLogger(name), redacting)
    return redacting
