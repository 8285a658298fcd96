"""Removing one conversation everywhere it lives: its checkpoints, its store rows, its audit inputs.

The conversation's lease is held throughout, so no turn of it runs meanwhile (on one worker or many).
Checkpoints go first and the store rows after, in one transaction with the audit redaction: a crash
in between leaves the conversation in the store, so the next run finds it and finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from app.leases import ConversationLeases
from app.settings import Settings
from app.store.erasure import Removal, RemovalMode
from app.store.store import AppStore, open_store
from app.turns import thread_config
from graph.builder import RouterGraph
from graph.checkpointer import open_checkpointer

log = logging.getLogger(__name__)
LEASE_WAIT_SECONDS = 5.0
"""How long a command-line run waits for a conversation a worker is busy with, before skipping it."""


@dataclass(frozen=True)
class RemovedConversation:
    """What removing one conversation did: the store's part, and whether it had checkpoints."""

    removal: Removal
    checkpoints: bool


@dataclass(frozen=True)
class ConversationRemover:
    """Deletes or anonymises conversations for retention and erasure."""

    store: AppStore
    checkpointer: BaseCheckpointSaver[Any]
    locks: ConversationLeases

    async def remove(
        self,
        conversation_id: str,
        mode: RemovalMode,
        actor: str,
        reason: str,
        cutoff: datetime | None = None,
        dry_run: bool = False,
    ) -> RemovedConversation:
        """Remove the conversation (see ErasureStore.remove for `cutoff`); a dry run changes nothing.

        Raises ConversationBusyError when another worker holds the conversation for too long.
        """
        if dry_run:
            removal = await self.store.erasure.remove(conversation_id, mode, actor, reason, cutoff, True)
            return RemovedConversation(
                removal, removal.kept is None and await self._has_checkpoints(conversation_id)
            )
        async with self.locks.hold(conversation_id):
            kept = await self.store.erasure.kept_because(conversation_id, cutoff)
            if kept is not None:
                return RemovedConversation(Removal(kept), False)
            had_checkpoints = await self._has_checkpoints(conversation_id)
            await self.checkpointer.adelete_thread(conversation_id)
            removal = await self.store.erasure.remove(conversation_id, mode, actor, reason, cutoff)
            if removal.kept is not None:  # only a writer that ignores the lease can get here
                log.warning(
                    "conversation %s changed while it was removed (%s)", conversation_id, removal.kept
                )
            return RemovedConversation(removal, had_checkpoints)

    async def _has_checkpoints(self, conversation_id: str) -> bool:
        return await self.checkpointer.aget_tuple(thread_config(conversation_id)) is not None


def checkpointer_of(graph: RouterGraph) -> BaseCheckpointSaver[Any]:
    """The checkpointer the router graph was compiled with."""
    saver = graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):
        raise TypeError("the router graph has no checkpointer of its own")
    return saver


@asynccontextmanager
async def open_remover(settings: Settings) -> AsyncIterator[ConversationRemover]:
    """A remover for the command line: the store and the checkpoints, without loading any model.

    It takes the conversations' leases in the database: on PostgreSQL the workers honour them. The
    embedded SQLite deployment's single worker does not look at leases, so run retention and erasure
    through its API (or with the server stopped) there.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with (
        open_store(settings.store_url) as store,
        open_checkpointer(settings.data_dir, settings.checkpoint_postgres_url) as checkpointer,
    ):
        locks = ConversationLeases(store.leases, wait_seconds=LEASE_WAIT_SECONDS)
        yield ConversationRemover(store, checkpointer, locks)
