"""What the service refuses, by kind: the HTTP layer maps each kind to one status code."""

from __future__ import annotations


class InputError(ValueError):
    """The caller sent something the router cannot take."""


class ForbiddenError(PermissionError):
    """The caller may not do this (a widget speaking for a customer it has no signed token for)."""


class NotFoundError(LookupError):
    """No such conversation, review or policy version (or not one this caller may see)."""


class ConflictError(RuntimeError):
    """The request conflicts with the current state (a stale, claimed or repeated decision)."""


class BusyError(ConflictError):
    """Someone else has the conversation or the request right now: the same request can succeed shortly."""
