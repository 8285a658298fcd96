"""Every model call goes through here: budgets, a circuit breaker per endpoint, timeouts, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import openai
from langchain_core.messages import AIMessage
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from agents.llm.config import AgentName, LLMConfig
from agents.llm.usage import DailyLedger, UsageMeter

T = TypeVar("T")

# Worth another attempt: the endpoint may answer next time. Anything else (bad request, auth) will not.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)
# What langchain-openai raises for a 200 whose body is not a chat completion: not JSON (ValueError),
# JSON without `choices` (KeyError) or with null ones (TypeError). The endpoint is broken, not our code.
MALFORMED_RESPONSE_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, TypeError)


class LLMUnavailable(Exception):
    """The model was not asked, or did not answer; `reason` says why and is recorded in the turn."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class LLMGuard:
    """Shared by every turn of a process, so breakers and the daily ledger see all traffic."""

    def __init__(self, config: LLMConfig, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self._clock = clock
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=config.resilience.breaker_threshold,
            default_ttl=config.resilience.breaker_reset_seconds,
        )
        self.ledger = DailyLedger(day=clock().date())

    async def call(self, agent: AgentName, meter: UsageMeter, request: Callable[[], Awaitable[T]]) -> T:
        """Run one model request for `agent`, or raise LLMUnavailable; the meter records its usage."""
        self._check_budgets(meter)
        endpoint = self.config.endpoint(agent)
        breaker = await self._breakers.get_breaker(endpoint.name)
        try:
            async with breaker:
                result = await self._with_retries(request, endpoint.timeout_seconds)
        except OpenedState as error:
            raise LLMUnavailable("circuit_open", endpoint.name) from error
        except TRANSIENT_ERRORS as error:
            raise LLMUnavailable("endpoint_unavailable", type(error).__name__) from error
        except openai.APIError as error:
            raise LLMUnavailable("endpoint_error", type(error).__name__) from error
        except MALFORMED_RESPONSE_ERRORS as error:
            raise LLMUnavailable("invalid_response", type(error).__name__) from error
        self._record(meter, result)
        return result

    async def _with_retries(self, request: Callable[[], Awaitable[T]], timeout: float) -> T:
        resilience = self.config.resilience
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            stop=stop_after_attempt(resilience.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=resilience.backoff_seconds,
                max=4 * resilience.backoff_seconds,
                jitter=resilience.backoff_seconds,
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                # The client has its own timeout; this one also bounds a server that trickles bytes.
                return await asyncio.wait_for(request(), timeout)
        raise AssertionError("tenacity either returns or reraises")  # pragma: no cover

    def _check_budgets(self, meter: UsageMeter) -> None:
        budgets = self.config.budgets
        self.ledger.roll(self._clock().date())
        if meter.conversation_tokens + meter.tokens >= budgets.tokens_per_conversation:
            raise LLMUnavailable("budget_conversation")
        if self.ledger.tokens >= budgets.tokens_per_day:
            raise LLMUnavailable("budget_day")
        if budgets.cost_per_day is not None and self.ledger.cost >= budgets.cost_per_day:
            raise LLMUnavailable("budget_cost")

    def _record(self, meter: UsageMeter, result: Any) -> None:
        message = result.get("raw") if isinstance(result, dict) else result
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        input_tokens = usage["input_tokens"] if usage else 0
        output_tokens = usage["output_tokens"] if usage else 0
        cost = self.config.budgets.cost(input_tokens, output_tokens)
        meter.calls += 1
        meter.input_tokens += input_tokens
        meter.output_tokens += output_tokens
        meter.cost += cost
        # No await between reading and writing the ledger, so concurrent turns cannot lose an update.
        self.ledger.roll(self._clock().date())
        self.ledger.tokens += input_tokens + output_tokens
        self.ledger.cost += cost

    async def breaker_state(self, agent: AgentName) -> str:
        """`closed`, `opened` or `half-opened`, for health and metrics."""
        breaker = await self._breakers.get_breaker(self.config.endpoint(agent).name)
        return str(breaker.context.state)
