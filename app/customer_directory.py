"""Which customer directory the service asks: the app store's table, or a team's own adapter."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from graph.customers import CustomerDirectory

if TYPE_CHECKING:
    from app.settings import Settings
    from app.store.store import AppStore


class DirectoryConfigError(ValueError):
    """SUPPORT_ROUTER_CUSTOMER_DIRECTORY does not name a usable factory."""


def open_customer_directory(settings: Settings, store: AppStore) -> CustomerDirectory:
    """`settings.customer_directory` (`package.module:factory`, called with the settings), else the store."""
    reference = settings.customer_directory
    if reference is None:
        return store.customers
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise DirectoryConfigError(
            f"customer directory {reference!r} is not of the form package.module:factory"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise DirectoryConfigError(f"customer directory {reference!r} cannot be loaded: {error}") from error
    directory = factory(settings)
    if not callable(getattr(directory, "facts", None)):
        raise DirectoryConfigError(f"{reference} returned {type(directory).__name__}, which has no facts()")
    return directory
