"""Each specialist's tools, bound to the conversation's customer: the model never chooses whose data."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from agents.specialists.routing import Specialist
from agents.tools.business import BusinessData
from agents.tools.diagnostics import CHECKLISTS, Symptom
from prompts import agents as agent_prompts

SENSITIVE_TOOLS = frozenset({"issue_refund", "reset_mfa", "downgrade_plan"})
"""Tools whose call is a proposal for a human to approve, never an action the agent takes."""


class NoArguments(BaseModel):
    """A tool that needs nothing but the conversation's customer."""

    # Extra keys are refused, so a customer id smuggled into the arguments fails instead of being ignored.
    model_config = ConfigDict(extra="forbid")


class Limit(NoArguments):
    limit: int = Field(default=5, ge=1, le=20, description="How many of the most recent to list.")


class OrderArguments(NoArguments):
    order_id: str = Field(description="The order's id, e.g. ord_7781.", max_length=40)


class RefundArguments(OrderArguments):
    amount_cents: int = Field(gt=0, le=10_000_000, description="The amount to refund, in cents.")
    reason: str = Field(max_length=300, description="Why the customer should get this refund.")


class ReasonArguments(NoArguments):
    reason: str = Field(max_length=300, description="Why this is needed.")


class PlanArguments(ReasonArguments):
    plan: str = Field(max_length=40, description="The plan to move to, e.g. Free plan.")


class SymptomArguments(NoArguments):
    symptom: Symptom = Field(description="What the customer sees.")


Lookup = Callable[..., Awaitable[Any]]


def _tool(name: str, description: str, schema: type[BaseModel], run: Lookup) -> BaseTool:
    async def call(**arguments: Any) -> str:
        return json.dumps(await run(**arguments), default=str)

    return StructuredTool.from_function(
        coroutine=call, name=name, description=description, args_schema=schema, handle_validation_error=True
    )


def _proposal(name: str, description: str, schema: type[BaseModel]) -> BaseTool:
    async def submit(**arguments: Any) -> str:
        return agent_prompts.ACTION_SUBMITTED

    return StructuredTool.from_function(
        coroutine=submit, name=name, description=description, args_schema=schema, handle_validation_error=True
    )


async def _checklist(symptom: Symptom) -> list[str]:
    return CHECKLISTS[symptom]


def _billing(business: BusinessData, customer: str, turn_key: str) -> list[BaseTool]:
    async def invoices(limit: int = 5) -> Any:
        return await business.invoices(customer, limit)

    async def charges(limit: int = 10) -> Any:
        return await business.charges(customer, limit)

    async def plan() -> Any:
        return await business.plan(customer)

    async def methods() -> Any:
        return await business.payment_methods(customer)

    return [
        _tool("list_invoices", "The customer's recent invoices.", Limit, invoices),
        _tool("list_charges", "The customer's recent card and wallet charges.", Limit, charges),
        _tool("current_plan", "The customer's plan, price and renewal date.", NoArguments, plan),
        _tool("payment_methods", "The customer's saved payment methods.", NoArguments, methods),
        _proposal("downgrade_plan", "Propose moving the customer to a cheaper plan.", PlanArguments),
    ]


def _access(business: BusinessData, customer: str, turn_key: str) -> list[BaseTool]:
    async def status() -> Any:
        return await business.account_status(customer)

    async def reset_link() -> Any:
        # One link per turn: the turn run again after a crash gets the link it sent, not a second one.
        return await business.password_reset_link(customer, f"{turn_key}:send_password_reset_link")

    return [
        _tool(
            "account_status",
            "Whether the account is active or locked, and its 2FA setup.",
            NoArguments,
            status,
        ),
        _tool(
            "send_password_reset_link", "Email a reset link to the address on file.", NoArguments, reset_link
        ),
        _proposal("reset_mfa", "Propose resetting two-factor authentication.", ReasonArguments),
    ]


def _technical(business: BusinessData, customer: str, turn_key: str) -> list[BaseTool]:
    async def status() -> Any:
        return await business.service_status()

    async def incidents() -> Any:
        return await business.incidents(customer)

    return [
        _tool("service_status", "The status of each Lumora service.", NoArguments, status),
        _tool(
            "known_incidents",
            "Current incidents and whether they affect this customer.",
            NoArguments,
            incidents,
        ),
    ]


def _refunds(business: BusinessData, customer: str, turn_key: str) -> list[BaseTool]:
    async def orders(limit: int = 10) -> Any:
        return await business.orders(customer, limit)

    async def payments(order_id: str) -> Any:
        return await business.payments(customer, order_id)

    async def eligibility(order_id: str) -> Any:
        return await business.refund_eligibility(customer, order_id)

    return [
        _tool("list_orders", "The customer's recent orders.", Limit, orders),
        _tool("order_payments", "The payments of one of the customer's orders.", OrderArguments, payments),
        _tool(
            "refund_eligibility",
            "Whether an order can be refunded, and how much.",
            OrderArguments,
            eligibility,
        ),
        _proposal("issue_refund", "Propose a refund for one of the customer's orders.", RefundArguments),
    ]


_CUSTOMER_TOOLS: dict[Specialist, Callable[[BusinessData, str, str], list[BaseTool]]] = {
    "billing": _billing,
    "access": _access,
    "technical": _technical,
    "refunds": _refunds,
}


def tools_for(
    specialist: Specialist, business: BusinessData | None, customer_id: str | None, turn_key: str
) -> list[BaseTool]:
    """The tools `specialist` may use this turn, every lookup scoped to `customer_id`; a tool that does
    something (sends a reset link) does it once per `turn_key` (the conversation and turn).

    The customer comes from the conversation, never from the model: no tool takes a customer argument.
    """
    tools: list[BaseTool] = []
    if specialist == "technical":
        tools.append(_tool("diagnostics_checklist", "Troubleshooting steps.", SymptomArguments, _checklist))
    build = _CUSTOMER_TOOLS.get(specialist)
    if build is None or business is None or customer_id is None:
        return tools
    return tools + build(business, customer_id, turn_key)
