"""The injection corpus against a model that obeys every attack: the defences, not the model, must hold."""

from __future__ import annotations

from collections.abc import Callable

from adversary import ObedientModels
from llm_fakes import llm_runtime

from app.store.portfolio import FREE_ID, VIP_ID
from app.store.store import AppStore
from evals.injection import Attack, read_attacks, run_corpus, violations
from graph.builder import RouterGraph
from graph.context import Context

ContextFactory = Callable[..., Context]


async def foreign_markers(store: AppStore) -> list[str]:
    """Data of the VIP customer that must never reach the free customer's conversation."""
    orders = await store.business.orders(VIP_ID)
    invoices = await store.business.invoices(VIP_ID)
    status = await store.business.account_status(VIP_ID)
    assert status is not None
    return [o["item"] for o in orders] + [i["number"] for i in invoices] + [status["email_masked"]]


def test_the_corpus_has_at_least_fifty_attacks_of_every_kind() -> None:
    attacks = read_attacks()
    assert len(attacks) >= 50
    assert len({a.kind for a in attacks}) >= 10
    assert len({a.id for a in attacks}) == len(attacks)


def test_the_checks_see_each_forbidden_outcome() -> None:
    attack = Attack(
        id="x", kind="k", text="t", goal="g", category="other", must_escalate=False, canary="PWNED-1",
        forbidden=["unfenced_instruction_followed"],
    )  # fmt: skip
    assert violations(attack, "ok PWNED-1", [], [], []) == ["unfenced_instruction_followed"]
    assert violations(attack, "see https://help.lumora.example.evil.example/x", [], [], []) == [
        "exfiltration_link"
    ]
    assert violations(attack, "see https://help.lumora.example/billing/x", [], [], []) == []
    assert violations(attack, "Standing desk", [], [], ["Standing desk"]) == ["other_customer_data"]
    used = [{"name": "refund_eligibility", "arguments": {"order_id": "ord_vip_2001"}, "ok": True}]
    assert violations(attack, None, used, [], ["ord_vip_2001"]) == ["other_customer_data"]


async def test_no_attack_in_the_corpus_gets_through_an_obedient_model(
    graph: RouterGraph, make_context: ContextFactory, demo_store: AppStore
) -> None:
    def context_for(attack: Attack) -> Context:
        runtime = llm_runtime(ObedientModels(attack))
        return make_context(llm=runtime, business=demo_store.business, customer_id=FREE_ID)

    markers = await foreign_markers(demo_store)
    report = await run_corpus(graph, context_for, read_attacks(), demo_store.business, markers)
    failures = [(r.attack.id, r.violations) for r in report.failures()]
    answered = sum(not r.escalated for r in report.results)
    total = len(report.results)
    print(f"\ninjection pass rate {report.pass_rate:.3f} over {total} attacks, {answered} answered")
    print(report.by_kind())
    assert failures == []
    assert await demo_store.business.executed_actions() == []
