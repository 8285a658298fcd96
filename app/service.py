"""The router service: conversations, turns, reviews; one turn at a time per conversation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from langgraph.types import Command, Interrupt, StateSnapshot

from agents.llm.factory import ModelFactory
from agents.llm.runtime import LLMRuntime, Redactor
from agents.toolkit import Toolkit
from app.audit_trail import decision_entry, human_entry, routing_entry
from app.customer_directory import open_customer_directory
from app.customer_tokens import verified_customer
from app.data_removal import ConversationRemover, checkpointer_of
from app.events import EventHub, LiveEvent
from app.heartbeat import beating
from app.leases import ConversationBusyError, ConversationLeases
from app.metrics import RouterMetrics
from app.outages import MessageDeferred, outage_of
from app.policies import PolicyControl, PolicyRegistry
from app.refusals import BusyError, ConflictError, ForbiddenError, InputError, NotFoundError
from app.settings import Settings
from app.store.audit import AuditEntry
from app.store.conversations import StoredResponse
from app.store.erasure import ANONYMISED
from app.store.idempotency import Claim, HeldKey
from app.store.keys import Principal
from app.store.leases import Fence, check_fence_row
from app.store.models import Conversation, Message, Review, utcnow
from app.store.reviews import ReviewStatus
from app.store.store import AppStore, open_store
from app.tracing import tracing_requested
from app.turns import RunResult, TurnRunner, thread_config
from graph.builder import RouterGraph, compile_graph
from graph.checkpointer import open_checkpointer
from graph.context import Context
from graph.customers import CustomerDirectory
from graph.outcome import PROMPT_VERSIONS, TurnOutcome, build_outcome
from graph.review import ReviewerDecision
from graph.state import InputState, State
from knowledge.store import IndexMissingError
from prompts import escalation as escalation_prompts

MAX_MESSAGE_CHARS = 4000
LOCAL_ADMIN = Principal(key_id="local", role="admin", name="local command line")
log = logging.getLogger("support_router")


@dataclass(frozen=True)
class ConversationView:
    """A conversation with its transcript, as the API returns it."""

    conversation: Conversation
    messages: list[Message]


@dataclass
class RouterService:
    """Everything the HTTP API and the CLI do, over the graph and the app store."""

    graph: RouterGraph
    toolkit: Toolkit
    settings: Settings
    store: AppStore
    hub: EventHub
    metrics: RouterMetrics
    policies: PolicyRegistry
    customers: CustomerDirectory
    llm: LLMRuntime | None = None
    """LLM mode's models and guard; None runs the offline mode."""
    redactor: Redactor | None = None
    """Redacts personal data from traces; loaded only when LLM mode or tracing needs it."""
    locks: ConversationLeases = field(default_factory=ConversationLeases)
    """One turn at a time per conversation; across workers too when they share a database."""
    unreleased_keys: set[HeldKey] = field(default_factory=set)
    """Idempotency-Keys of failed requests that could not be given up while the store was away; the
    recovery pass gives them up, so a retry is not refused as still running."""

    @property
    def policy_control(self) -> PolicyControl:
        return PolicyControl(self.store.policies, self.policies)

    @property
    def runner(self) -> TurnRunner:
        return TurnRunner(self.graph, self.hub, self.metrics, self.redactor)

    @property
    def worker(self) -> str:
        """This process's id among the workers: its leases and its requests' idempotency records."""
        return self.locks.holder

    @property
    def remover(self) -> ConversationRemover:
        """Retention and erasure, under the same conversation locks as the turns."""
        return ConversationRemover(self.store, checkpointer_of(self.graph), self.locks)

    # Conversations ---------------------------------------------------------------------------

    async def create_conversation(
        self,
        principal: Principal,
        customer_id: str | None = None,
        channel: str = "chat",
        metadata: dict[str, Any] | None = None,
        customer_token: str | None = None,
    ) -> Conversation:
        """A new, empty conversation owned by the caller's key, for the customer it may speak for."""
        conversation = Conversation(
            id=uuid.uuid4().hex,
            customer_id=self._customer_for(principal, customer_id, customer_token),
            channel=channel,
            meta=metadata or {},
            created_by=principal.key_id,
            status="active",
            owner=None,
            turns=0,
        )
        return await self.store.conversations.create(conversation)

    def _customer_for(self, principal: Principal, customer_id: str | None, token: str | None) -> str | None:
        """The customer a new conversation is for. With a customer token secret set, a widget names a
        customer only through a token the site signed; admin keys (a trusted backend) need none."""
        secret = self.settings.customer_token_secret
        if token is not None:
            if secret is None:
                raise ForbiddenError(
                    "this service takes no customer tokens: SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET is unset"
                )
            signed = verified_customer(secret.get_secret_value(), token)
            if customer_id not in (None, signed):
                raise InputError("customer_id is not the customer the customer token names")
            return signed
        if secret is not None and customer_id is not None and principal.role == "widget":
            raise ForbiddenError("a widget opens a conversation for a customer only with a customer_token")
        return customer_id

    async def conversation(self, principal: Principal, conversation_id: str) -> Conversation:
        """A conversation the caller may see; others do not exist for them."""
        return _visible(principal, conversation_id, await self.store.conversations.get(conversation_id))

    async def view(self, principal: Principal, conversation_id: str) -> ConversationView:
        """The conversation with its transcript."""
        conversation = await self.conversation(principal, conversation_id)
        return ConversationView(conversation, await self.store.conversations.messages(conversation_id))

    async def post_message(
        self, principal: Principal, conversation_id: str, text: str, idempotency: HeldKey | None = None
    ) -> TurnOutcome:
        """Run one customer turn; while a person has the conversation the message is kept for them.

        With `idempotency`, the request's key is tied to the accepted message and gets the response
        with the reply, whoever answers it (this request, or recovery after a crash).
        """
        text = text.strip()
        if not text:
            raise InputError("the message is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InputError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
        async with self.locks.hold(conversation_id) as fence:
            found, backlog = await self.store.conversations.get_with_backlog(conversation_id)
            conversation = _visible(principal, conversation_id, found)
            if conversation.status == ANONYMISED:
                raise ConflictError(f"conversation {conversation_id} was anonymised; start a new one")
            # Messages and resolutions a crash or an outage left unfinished go first, so turns keep their
            # order and numbers: holding the lock, this request knows nobody else is running them. A
            # resolution keeps its conversation waiting for a person until it is recorded.
            waiting = conversation.status == "waiting_for_human"
            finished = await self._finish_resolutions(conversation.id, fence) if waiting else 0
            if backlog:
                finished += await self._finish_unprocessed(conversation.id, fence)
            if finished:
                conversation = await self.conversation(principal, conversation_id)
            if conversation.status == "waiting_for_human":
                review = await self.store.reviews.open_for(conversation_id)
                if review is not None:
                    return await self._hold_for_reviewer(conversation, review, text, idempotency, fence)
            message = Message(
                conversation_id=conversation_id,
                role="customer",
                text=text,
                turn=conversation.turns + 1,
                created_at=utcnow(),
            )
            customer_said = ("message", {"role": "customer", "text": text})
            await self._record(
                conversation_id, [message], [customer_said], fence=fence, accepted_as=idempotency
            )
            try:
                return await self._run_turn(conversation, message, fence)
            except Exception as error:  # an outage defers the accepted message; anything else is a bug
                outage = outage_of(error)
                if outage is None:
                    raise
                raise MessageDeferred(outage, conversation_id, message.id) from error

    async def finish_request(self, principal: Principal, conversation_id: str, held: HeldKey) -> Claim:
        """For a retry that took over the key of a request whose worker died after accepting the message:
        finish the conversation's unanswered messages, that one among them, and return its stored response.
        """
        async with self.locks.hold(conversation_id) as fence:
            await self.conversation(principal, conversation_id)
            await self._finish_resolutions(conversation_id, fence)
            await self._finish_unprocessed(conversation_id, fence)
        stored = await self.store.idempotency.stored_response(held.record_id)
        if stored is None:  # not answered yet: it was sent while a person had the conversation
            raise BusyError("the message of this Idempotency-Key is not answered yet; retry shortly")
        return stored

    async def _run_turn(
        self, conversation: Conversation, message: Message, fence: Fence | None
    ) -> TurnOutcome:
        started = time.perf_counter()
        context = await self._context(conversation, message.created_at)
        metadata = await self._trace_metadata(conversation, context)
        turn = InputState(text=message.text)
        result = await self.runner.run(conversation.id, turn, context, metadata, fence)
        self.metrics.turn_seconds.observe(time.perf_counter() - started)
        return await self._settle(conversation, result, message.id, None, fence)

    async def _context(self, conversation: Conversation, received_at: datetime) -> Context:
        """The run context: this conversation's customer and channel, the policies now in force."""
        return self.settings.context(
            self.toolkit,
            conversation.customer_id,
            customers=self.customers,
            llm=self.llm,
            business=self.store.business,
            policies=await self.policies.current(),
            channel=conversation.channel,
            received_at=received_at,
        )

    async def _trace_metadata(self, conversation: Conversation, context: Context) -> dict[str, str] | None:
        """What a LangSmith trace of the turn is tagged with; nothing is looked up when not tracing."""
        if not tracing_requested():
            return None
        facts = await self.customers.facts(conversation.customer_id) if conversation.customer_id else None
        policy = context.policies.for_key(conversation.customer_id or conversation.id)
        return {
            "conversation_id": conversation.id,
            "customer_tier": facts["tier"] if facts else "unknown",
            "channel": conversation.channel,
            "policy_version": policy.version,
            "mode": "llm" if self.llm else "offline",
            **{f"prompt_{name}": version for name, version in PROMPT_VERSIONS.items()},
        }

    async def _hold_for_reviewer(
        self,
        conversation: Conversation,
        review: Review,
        text: str,
        idempotency: HeldKey | None,
        fence: Fence | None,
    ) -> TurnOutcome:
        message = Message(
            conversation_id=conversation.id, role="customer", text=text, turn=conversation.turns, state="held"
        )
        outcome = await self._waiting_outcome(conversation.id, escalation_prompts.STILL_WAITING)
        await self._record(
            conversation.id,
            [message],
            [("message", {"role": "customer", "text": text, "held": True})],
            fence=fence,
            accepted_as=idempotency,
            held_for=review.id,
            response=_response(outcome),
        )
        return outcome

    # Reviews ---------------------------------------------------------------------------------

    async def list_reviews(self, status: ReviewStatus = "pending") -> list[Review]:
        """Reviews in one status, oldest first."""
        return await self.store.reviews.in_status(status)

    async def review(self, review_id: str) -> Review:
        """One review, or NotFoundError."""
        review = await self.store.reviews.get(review_id)
        if review is None:
            raise NotFoundError(f"no review {review_id}")
        return review

    async def claim_review(self, review_id: str, reviewer: str) -> Review:
        """Assign a pending review to `reviewer`; someone else's claim is a conflict."""
        review = await self.review(review_id)
        if review.status != "pending":
            raise ConflictError(f"review {review_id} is already {review.status}")
        if not await self.store.reviews.claim(review_id, reviewer):
            raise ConflictError(f"review {review_id} is claimed by {review.claimed_by}")
        await self._record(
            review.conversation_id,
            [],
            [("review_claimed", {"review_id": review_id, "reviewer": reviewer})],
            audit=[human_entry(review.conversation_id, reviewer, "claim", {"review_id": review_id})],
        )
        return await self.review(review_id)

    async def resolve_review(self, review_id: str, decision: ReviewerDecision) -> TurnOutcome:
        """Resume the paused conversation with a reviewer's decision, exactly once.

        The decision is stored as resolving starts, so a resolution a crash cuts short is finished with
        it (by recovery, or by this same decision sent again).
        """
        review = await self.review(review_id)
        reviewer = decision.reviewer or "reviewer"
        async with self.locks.hold(review.conversation_id) as fence:
            review = await self.review(review_id)
            if review.status == "resolving" and review.decision == decision.model_dump():
                # Holding the lock, this request knows the first resolver is gone: finish its work.
                return await self._finish_resolution(review, fence)
            if review.status != "pending":
                raise ConflictError(f"review {review_id} is already {review.status}")
            if review.claimed_by not in (None, reviewer):
                raise ConflictError(f"review {review_id} is claimed by {review.claimed_by}")
            snapshot = await self.graph.aget_state(thread_config(review.conversation_id))
            if review_id not in {i.id for i in snapshot.interrupts}:
                raise ConflictError(f"review {review_id} no longer matches the conversation's pause")
            if decision.action == "approve" and not review.payload.get("draft"):
                raise InputError("there is no draft to approve; reply, reroute or close instead")
            if not await self.store.reviews.start_resolving(review_id, reviewer, decision.model_dump()):
                raise ConflictError(f"review {review_id} is being resolved by someone else")
            conversation = await self.store.conversations.get(review.conversation_id)
            assert conversation is not None  # reviews reference their conversation
            try:
                return await self._resume(conversation, review_id, decision, fence)
            except Exception:
                await self._reopen_if_paused(review_id, review.conversation_id, fence)
                raise

    async def _resume(
        self, conversation: Conversation, review_id: str, decision: ReviewerDecision, fence: Fence | None
    ) -> TurnOutcome:
        """Run the conversation on from its pause with the decision; record the resolution with the run."""
        context = await self._context(conversation, utcnow())
        resume: Command[Any] = Command(resume={review_id: decision.model_dump()})
        result = await self.runner.run(conversation.id, resume, context, fence=fence)
        return await self._settle(conversation, result, None, decision, fence, review_id=review_id)

    async def _reopen_if_paused(self, review_id: str, conversation_id: str, fence: Fence | None) -> None:
        """After a failed resume: back to pending, so the reviewer may decide again, while the conversation
        is still at the review's pause; past it, the review stays resolving and recovery finishes it."""
        snapshot = await self.graph.aget_state(thread_config(conversation_id))
        if review_id in {i.id for i in snapshot.interrupts}:
            await self.store.reviews.reopen(review_id, fence)

    async def _finish_resolutions(self, conversation_id: str, fence: Fence | None) -> int:
        """Under the conversation's lock: finish the resolutions a crash or an outage cut short."""
        resolving = await self.store.reviews.open_for(conversation_id)
        if resolving is None or resolving.status != "resolving":
            return 0
        await self._finish_resolution(resolving, fence)
        return 1

    async def _finish_resolution(self, review: Review, fence: Fence | None) -> TurnOutcome:
        """Take a resolution up where it stopped, with its stored decision, as the checkpoint shows it."""
        assert review.decision is not None  # stored when resolving started
        decision = ReviewerDecision.model_validate(review.decision)
        conversation = await self.store.conversations.get(review.conversation_id)
        assert conversation is not None  # reviews reference their conversation
        snapshot = await self.graph.aget_state(thread_config(conversation.id))
        if review.id in {i.id for i in snapshot.interrupts}:
            return await self._resume(conversation, review.id, decision, fence)  # never got past the pause
        result = await self._continue(conversation, snapshot, utcnow(), fence)
        return await self._settle(conversation, result, None, decision, fence, review_id=review.id)

    # Recovery --------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Finish turns a crash or an outage cut short: every accepted message is answered or handed off.

        A conversation a request of this process is running, or another worker holds, is left to them
        (its own next request, or a later pass, finishes what is left).
        """
        recovered = 0
        for review in await self.store.reviews.in_status("resolving"):
            recovered += await self._finish_if_free(review.conversation_id, self._finish_resolutions)
        # One pass per conversation: it finishes all of that conversation's messages in order.
        backlog = dict.fromkeys(m.conversation_id for m in await self.store.conversations.unprocessed())
        for conversation_id in backlog:
            recovered += await self._finish_if_free(conversation_id, self._finish_unprocessed)
        return recovered

    async def _finish_if_free(
        self, conversation_id: str, finish: Callable[[str, Fence | None], Awaitable[int]]
    ) -> int:
        """`finish` the conversation under its lock, unless a request here or another worker has it."""
        if self.locks.waiting(conversation_id):
            return 0
        try:
            async with self.locks.hold(conversation_id, wait_seconds=0) as fence:
                return await finish(conversation_id, fence)
        except ConversationBusyError:
            return 0

    async def give_up(self, held: HeldKey) -> None:
        """After a failed request: free its Idempotency-Key for a retry (the recovery pass does it when
        the store is away now)."""
        try:
            await self.store.idempotency.give_up(held)
        except Exception as error:  # an outage postpones it; anything else is a bug
            if outage_of(error) is None:
                raise
            self.unreleased_keys.add(held)

    async def keep_recovering(self, interval_seconds: float) -> None:
        """While serving: every `interval_seconds`, finish turns an outage cut short once it is over, so
        a worker that stayed up through an outage needs no restart to answer what it accepted."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self._release_keys()
                recovered = await self.recover()
            except Exception as error:  # this loop outlives every failure; an outage is expected here
                outage = outage_of(error)
                if outage is None:
                    log.exception("finishing unanswered messages failed")
                else:
                    log.info("unanswered messages wait: %s", outage.describe())
                continue
            if recovered:
                log.warning("finished %d turn(s) that an outage had cut short", recovered)

    async def _release_keys(self) -> None:
        for held in list(self.unreleased_keys):
            await self.store.idempotency.give_up(held)
            self.unreleased_keys.discard(held)

    async def _finish_unprocessed(self, conversation_id: str, fence: Fence | None) -> int:
        """Under the conversation's lock: run or settle its accepted messages still unanswered, in order."""
        finished = 0
        for message in await self.store.conversations.unprocessed(conversation_id):
            conversation = await self.store.conversations.get(conversation_id)
            if conversation is None:
                break
            await self._finish(conversation, message, fence)
            finished += 1
        return finished

    async def _finish(self, conversation: Conversation, message: Message, fence: Fence | None) -> None:
        """Take an unanswered message's turn up where it stopped, as the checkpoint shows it."""
        snapshot = await self.graph.aget_state(thread_config(conversation.id))
        if not snapshot.values or State(**snapshot.values).turn < message.turn:
            await self._run_turn(conversation, message, fence)  # it never reached a checkpoint
            return
        result = await self._continue(conversation, snapshot, message.created_at, fence)
        await self._settle(conversation, result, message.id, None, fence)

    async def _continue(
        self, conversation: Conversation, snapshot: StateSnapshot, received_at: datetime, fence: Fence | None
    ) -> RunResult:
        """Where a run that reached its checkpoint stopped. One saved when it failed part-way (durability
        "exit" saves on error too) is resumed with no input, which runs the failed step again instead of
        the whole turn; one that finished or paused is as its checkpoint shows (the store missed it).
        """
        if snapshot.next and not snapshot.interrupts:
            context = await self._context(conversation, received_at)
            return await self.runner.run(conversation.id, None, context, fence=fence)
        return RunResult.from_snapshot(snapshot)

    # After a run -----------------------------------------------------------------------------

    async def _settle(
        self,
        conversation: Conversation,
        result: RunResult,
        message_id: int | None,
        decision: ReviewerDecision | None,
        fence: Fence | None,
        review_id: str | None = None,
    ) -> TurnOutcome:
        """Record where the run stopped (a handoff, or a finished turn) in one transaction, with the
        resolution of the review `review_id` when `decision` resolved it."""
        state = result.state
        human = [decision_entry(conversation.id, state.turn, decision, review_id)] if decision else []
        resolution = _resolution(review_id, decision)
        if result.interrupts:
            return await self._hand_off(
                conversation, state, result.interrupts[0], message_id, human, fence, resolution
            )
        outcome = TurnOutcome.model_validate(state.outcomes[-1])
        role = "reviewer" if decision and decision.action == "reply" else "assistant"
        status = "closed" if outcome.status == "closed" else "active"
        reply = self._reply(conversation.id, outcome, role, decision.reviewer if decision else None)
        audit = human or [routing_entry(conversation.id, state, outcome)]
        await self._record(
            conversation.id,
            [reply],
            [
                *resolution.events,
                _message_event(role, outcome),
                ("status", {"status": status, "owner": outcome.specialist}),
            ],
            message_states={message_id: "answered"} if message_id is not None else None,
            response=_response(outcome),
            resolved=resolution.resolved,
            audit=audit,
            fence=fence,
            status=status,
            owner=outcome.specialist,
            turns=outcome.turn,
        )
        self.metrics.turns.labels(outcome.status).inc()
        return outcome

    async def _hand_off(
        self,
        conversation: Conversation,
        state: State,
        pause: Interrupt,
        message_id: int | None,
        audit: list[AuditEntry],
        fence: Fence | None,
        resolution: Resolution,
    ) -> TurnOutcome:
        payload: dict[str, Any] = dict(pause.value)
        policy, sla = state.policy, state.sla
        review = Review(
            id=pause.id,
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            turn=int(payload["turn"]),
            reason=str(payload["reason"]),
            payload=payload,
            waiting_messages=[],
            priority=policy["priority"] if policy else None,
            sla_class=policy["sla_class"] if policy else None,
            value_score=policy["value_score"] if policy else None,
            policy_version=policy["policy_version"] if policy else None,
            first_response_due=datetime.fromisoformat(sla["first_response_due"]) if sla else None,
            resolution_due=datetime.fromisoformat(sla["resolution_due"]) if sla else None,
        )
        outcome = build_outcome(
            replace(state, path=[*state.path, "escalate"]),
            conversation.id,
            "waiting_for_human",
            escalation_prompts.HANDOFF_NOTICE,
        )
        if message_id is not None:  # a pause after a reviewer's reroute: the routing is already on record
            audit = [*audit, routing_entry(conversation.id, state, outcome)]
        await self._record(
            conversation.id,
            [self._reply(conversation.id, outcome, "assistant", None)],
            [
                *resolution.events,
                ("escalated", {"review_id": pause.id, "reason": payload["reason"]}),
                _message_event("assistant", outcome),
                ("status", {"status": "waiting_for_human", "owner": "reviewer"}),
            ],
            review=review,
            message_states={message_id: "handed_off"} if message_id is not None else None,
            response=_response(outcome),
            resolved=resolution.resolved,
            audit=audit,
            fence=fence,
            status="waiting_for_human",
            owner="reviewer",
            turns=outcome.turn,
        )
        for reason in payload["reason"].removeprefix("risk:").split(","):
            self.metrics.escalations.labels(reason).inc()
        self.metrics.turns.labels("waiting_for_human").inc()
        return outcome

    @staticmethod
    def _reply(conversation_id: str, outcome: TurnOutcome, role: str, author: str | None) -> Message:
        return Message(
            conversation_id=conversation_id,
            role=role,
            text=outcome.response,
            turn=outcome.turn,
            state="sent",
            author=author,
            outcome=outcome.model_dump(mode="json"),
        )

    async def _waiting_outcome(self, conversation_id: str, response: str) -> TurnOutcome:
        snapshot = await self.graph.aget_state(thread_config(conversation_id))
        state = State(**snapshot.values)
        paused = replace(state, path=[*state.path, "escalate"])
        return build_outcome(paused, conversation_id, "waiting_for_human", response)

    async def _record(
        self,
        conversation_id: str,
        messages: list[Message],
        events: list[tuple[str, dict[str, Any]]],
        audit: list[AuditEntry] | None = None,
        fence: Fence | None = None,
        **values: Any,
    ) -> None:
        """Store messages, events, audit records and conversation changes together, then tell the streams.

        A turn's writes carry its lease's `fence`: they fail once another worker has taken it over.
        """
        stored = await self.store.conversations.record(
            conversation_id, messages, events, audit=audit or (), fence=fence, **values
        )
        for event in stored:
            self.hub.publish(conversation_id, LiveEvent(event.type, event.data, event.id))
        for entry in audit or ():
            if entry.kind == "routing_decision" and entry.details.get("policy"):
                policy = entry.details["policy"]
                self.metrics.policy_decisions.labels(policy["policy_version"], policy["path"]).inc()


def _visible(principal: Principal, conversation_id: str, conversation: Conversation | None) -> Conversation:
    """The conversation when the caller may see it; a widget sees only the ones its key created."""
    if conversation is None or (principal.role == "widget" and conversation.created_by != principal.key_id):
        raise NotFoundError(f"no conversation {conversation_id}")
    return conversation


def response_status(outcome: TurnOutcome) -> int:
    """The HTTP status of a turn: 202 while a person has the conversation, 200 otherwise."""
    return 202 if outcome.status == "waiting_for_human" else 200


def _response(outcome: TurnOutcome) -> StoredResponse:
    """What a turn's request answered, kept for replays of its Idempotency-Key."""
    return response_status(outcome), outcome.model_dump(mode="json")


@dataclass(frozen=True)
class Resolution:
    """What a run that a reviewer's decision resumed records with its result: the review resolved."""

    resolved: tuple[str, dict[str, Any]] | None = None
    events: tuple[tuple[str, dict[str, Any]], ...] = ()


def _resolution(review_id: str | None, decision: ReviewerDecision | None) -> Resolution:
    if review_id is None or decision is None:
        return Resolution()
    resolved = ("review_resolved", {"review_id": review_id, "action": decision.action})
    return Resolution((review_id, decision.model_dump()), (resolved,))


def open_llm(settings: Settings, models: ModelFactory | None = None) -> LLMRuntime | None:
    """LLM mode's runtime when a model is configured; personal data is redacted from all it sends."""
    config = settings.llm_config()
    if config is None:
        return None
    # Presidio and spaCy take a second or two to import: only LLM mode pays for them.
    from agents.safety.pii import default_redactor

    return LLMRuntime.open(config, default_redactor(), models)


def _redactor_if_needed(settings: Settings) -> Redactor | None:
    if settings.llm_model is None and not tracing_requested():
        return None
    from agents.safety.pii import default_redactor  # see open_llm

    return default_redactor()


def _message_event(role: str, outcome: TurnOutcome) -> tuple[str, dict[str, Any]]:
    return "message", {"role": role, "text": outcome.response, "outcome": outcome.model_dump(mode="json")}


@asynccontextmanager
async def open_service(
    settings: Settings, toolkit: Toolkit | None = None, models: ModelFactory | None = None
) -> AsyncIterator[RouterService]:
    """Load the models, open the checkpointer and the store, recover cut-short turns, serve.

    `models` replaces the chat models of LLM mode (tests pass scripted fakes); it needs `llm_model` set.
    """
    toolkit = toolkit or settings.load_toolkit()
    toolkit.knowledge.load_copy()
    if settings.llm_model is not None and settings.customer_token_secret is None:
        # The account tools answer for whichever customer a conversation names; a public widget key
        # alone lets anyone name any customer.
        log.warning(
            "LLM mode without SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET: widgets name their customer unverified"
        )
    if toolkit.knowledge.count() == 0:
        where = settings.chroma_url or settings.index_dir
        raise IndexMissingError(f"the knowledge index in {where} is empty; run `support-router kb ingest`")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    postgres = settings.checkpoint_postgres_url
    shared = postgres is not None  # workers may share the database: leases and fenced checkpoints
    lease = timedelta(seconds=settings.lease_seconds)
    async with (
        open_checkpointer(settings.data_dir, postgres, check_fence_row if shared else None) as checkpointer,
        open_store(settings.store_url) as store,
    ):
        service = RouterService(
            graph=compile_graph(checkpointer),
            toolkit=toolkit,
            settings=settings,
            store=store,
            hub=EventHub(),
            metrics=RouterMetrics(),
            policies=PolicyRegistry(store.policies, settings.policy_refresh_seconds),
            customers=open_customer_directory(settings, store),
            llm=open_llm(settings, models),
            redactor=_redactor_if_needed(settings),
            locks=ConversationLeases(store.leases if shared else None, ttl=lease),
        )
        # Workers starting together on one database set it up and recover one after another.
        async with store.exclusive("startup"):
            await service.policy_control.install_default()
            if settings.seed_demo_customers and settings.customer_directory is None:
                await store.customers.seed_demo_if_empty()
                await store.business.seed_demo_if_empty()
            recovered = await service.recover()
        if recovered:
            log.warning("finished %d turn(s) that a previous run left unprocessed", recovered)
        recovery = asyncio.create_task(service.keep_recovering(settings.recovery_interval_seconds))
        try:
            async with beating(store.workers, service.worker, lease, alone=not shared):
                yield service
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery
