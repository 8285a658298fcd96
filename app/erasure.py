"""Erasing one customer's personal data everywhere: the index, the conversations, the customer's records.

The knowledge index is checked first (it holds only articles, so normally nothing is found), then
every conversation of the customer is deleted with its checkpoints and its audit inputs redacted,
then the customer's profile and business records go, and the erasure is recorded in the audit log.
Erasing again is harmless: whatever is left is erased, and nothing left is not an error.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from chromadb.api import ClientAPI
from pydantic import BaseModel, Field

from app.data_removal import ConversationRemover
from app.refusals import NotFoundError
from knowledge.personal_data import delete_entries, entries_naming


class ErasureReport(BaseModel):
    """What erasing a customer removed."""

    customer_id: str
    already_erased: bool = Field(description="Nothing was left: an earlier erasure had removed it all.")
    conversations: int = Field(description="The customer's conversations deleted.")
    rows: dict[str, int] = Field(description="Store rows deleted, per table (conversations and records).")
    checkpoint_threads: int = Field(description="Conversations whose checkpoints were deleted.")
    audit_records_redacted: int = Field(description="Audit records whose personal inputs were redacted.")
    index_entries: int = Field(description="Knowledge-index entries naming the customer, deleted.")

    def summary(self) -> list[str]:
        """The report as a few readable lines."""
        if self.already_erased:
            return [f"customer {self.customer_id}: already erased, nothing left to erase"]
        rows = ", ".join(f"{table} {count}" for table, count in sorted(self.rows.items()) if count) or "none"
        return [
            f"customer {self.customer_id} erased",
            f"  conversations deleted: {self.conversations}",
            f"  store rows deleted: {rows}",
            f"  checkpoint threads deleted: {self.checkpoint_threads}",
            f"  audit records redacted: {self.audit_records_redacted} (the chain still verifies)",
            f"  index entries naming the customer: {self.index_entries}",
        ]


async def erase_customer(
    remover: ConversationRemover, index: ClientAPI, customer_id: str, actor: str
) -> ErasureReport:
    """Erase the customer; NotFoundError when the router never knew them.

    Raises ConversationBusyError when a worker holds one of the conversations for too long: nothing
    erased so far comes back, and running it again finishes the job.
    """
    store = remover.store
    identifiers = await store.erasure.identifiers_of(customer_id)
    # Chroma's client blocks: off the event loop.
    found = await asyncio.to_thread(entries_naming, index, identifiers)
    index_entries = await asyncio.to_thread(delete_entries, index, found)
    conversations, threads, redacted = 0, 0, 0
    rows = Counter[str]()
    for conversation_id in await store.erasure.conversations_of(customer_id):
        done = await remover.remove(conversation_id, "delete", actor, "erasure")
        if done.removal.kept is not None:
            continue
        conversations += 1
        rows.update(done.removal.rows)
        threads += done.checkpoints
        redacted += done.removal.audit_redacted
    summary = {
        "conversations": conversations,
        "conversation_rows": dict(rows),
        "checkpoint_threads": threads,
        "audit_records_redacted": redacted,
        "index_entries": index_entries,
    }
    erased_elsewhere = bool(conversations or index_entries)
    customer_rows = await store.erasure.erase_customer_records(customer_id, actor, summary, erased_elsewhere)
    rows.update(customer_rows)
    nothing_left = not erased_elsewhere and not any(customer_rows.values())
    if nothing_left and not await store.erasure.erasures_of(customer_id):
        raise NotFoundError(f"no customer {customer_id}")
    return ErasureReport(
        customer_id=customer_id,
        already_erased=nothing_left,
        conversations=conversations,
        rows={table: count for table, count in rows.items() if count},
        checkpoint_threads=threads,
        audit_records_redacted=redacted,
        index_entries=index_entries,
    )
