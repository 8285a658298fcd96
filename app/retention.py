"""Retention: delete or anonymise the conversations whose last activity is older than a configured age.

A conversation waiting for a person, with an open review or with a message still to process is
kept, whatever its age. Runs are idempotent: a deleted conversation is gone, an anonymised one is
marked so, and a run cut short is finished by the next. Each run is recorded in the audit log.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from app.data_removal import ConversationRemover
from app.leases import ConversationBusyError
from app.refusals import ConflictError
from app.settings import Settings
from app.store.audit import AuditEntry
from app.store.erasure import RemovalMode
from app.store.models import utcnow

BATCH = 500
"""Conversations listed at a time."""
MAX_DAYS = 36_500
"""A century: any longer age means "keep everything", and dates that far back do not exist."""


class RetentionPlan(BaseModel):
    """What one run removes: conversations idle for `older_than_days`, deleted or anonymised."""

    older_than_days: int = Field(
        ge=1, le=MAX_DAYS, description="Remove conversations whose last activity is older."
    )
    mode: RemovalMode = Field(description="delete or anonymise")
    dry_run: bool = Field(default=False, description="Count what a run would remove, change nothing.")
    limit: int | None = Field(default=None, ge=1, description="Remove at most this many conversations.")

    @classmethod
    def configured(
        cls,
        settings: Settings,
        older_than_days: int | None = None,
        mode: RemovalMode | None = None,
        dry_run: bool = False,
        limit: int | None = None,
    ) -> RetentionPlan:
        """The settings' plan with what the caller overrides; an age must come from one of them, else
        ConflictError (the server is not configured for a run without one)."""
        days = older_than_days or settings.retention_days
        if days is None:
            raise ConflictError(
                "no retention age: set SUPPORT_ROUTER_RETENTION_DAYS or pass --older-than-days"
            )
        return cls(older_than_days=days, mode=mode or settings.retention_mode, dry_run=dry_run, limit=limit)


class RetentionReport(BaseModel):
    """What a run removed (or, in a dry run, would remove)."""

    mode: RemovalMode
    dry_run: bool
    older_than_days: int
    cutoff: datetime = Field(description="Conversations last active before this were removed.")
    conversations: int = Field(description="Conversations deleted or anonymised.")
    skipped: dict[str, int] = Field(
        description="Old conversations kept, by reason: waiting_for_human, open_review, "
        "turn_in_progress (a message still to process), busy (another worker held it)."
    )
    rows: dict[str, int] = Field(description="Store rows deleted or anonymised, per table.")
    checkpoint_threads: int = Field(description="Conversations whose checkpoints were deleted.")
    audit_records_redacted: int = Field(description="Audit records whose personal inputs were redacted.")
    expired_idempotency_records: int = Field(
        description="Responses kept for Idempotency-Key retries older than the cutoff, deleted."
    )
    limited: bool = Field(description="Whether the run stopped at its limit with more left to remove.")

    def summary(self) -> list[str]:
        """The report as a few readable lines."""
        verb = "would be " if self.dry_run else ""
        done = "deleted" if self.mode == "delete" else "anonymised"
        skipped = ", ".join(
            f"{count} {reason.replace('_', ' ')}" for reason, count in sorted(self.skipped.items())
        )
        rows = ", ".join(f"{table} {count}" for table, count in sorted(self.rows.items())) or "none"
        lines = [
            f"retention{' (dry run)' if self.dry_run else ''}: conversations last active before "
            f"{self.cutoff.isoformat(timespec='seconds')} ({self.older_than_days} days)",
            f"  {self.conversations} conversation(s) {verb}{done}; kept: {skipped or 'none'}",
            f"  store rows {verb}{done}: {rows}",
            f"  checkpoint threads {verb}deleted: {self.checkpoint_threads}",
            f"  audit records {verb}redacted: {self.audit_records_redacted}",
            f"  expired idempotency records {verb}deleted: {self.expired_idempotency_records}",
        ]
        if self.limited:
            lines.append("  stopped at the limit: run again to remove the rest")
        return lines


async def run_retention(
    remover: ConversationRemover, plan: RetentionPlan, actor: str, now: datetime | None = None
) -> RetentionReport:
    """Remove every conversation the plan covers, then record the run (not a dry run) in the audit log."""
    store = remover.store
    cutoff = (now or utcnow()) - timedelta(days=plan.older_than_days)
    removed, skipped, rows = 0, Counter[str](), Counter[str]()
    threads = redacted = 0
    limited = False
    after = ""
    while not limited and (batch := await store.erasure.idle_before(cutoff, after, BATCH)):
        for conversation_id in batch:
            if plan.limit is not None and removed >= plan.limit:
                limited = True
                break
            try:
                done = await remover.remove(
                    conversation_id, plan.mode, actor, "retention", cutoff, plan.dry_run
                )
            except ConversationBusyError:
                skipped["busy"] += 1
                continue
            if done.removal.kept is not None:
                if done.removal.kept != "gone":
                    skipped[done.removal.kept] += 1
                continue
            removed += 1
            rows.update(done.removal.rows)
            threads += done.checkpoints
            redacted += done.removal.audit_redacted
        after = batch[-1]
    expired = await store.erasure.delete_idempotency_before(cutoff, plan.dry_run)
    report = RetentionReport(
        mode=plan.mode,
        dry_run=plan.dry_run,
        older_than_days=plan.older_than_days,
        cutoff=cutoff,
        conversations=removed,
        skipped=dict(skipped),
        rows=dict(rows),
        checkpoint_threads=threads,
        audit_records_redacted=redacted,
        expired_idempotency_records=expired,
        limited=limited,
    )
    if not plan.dry_run:
        details = {"action": "retention_run", **report.model_dump(mode="json", exclude={"dry_run"})}
        await store.audit.append([AuditEntry("data_lifecycle", actor, None, {}, details)])
    return report
