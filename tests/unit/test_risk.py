"""Table-driven tests of the explainable risk-signal patterns."""

from __future__ import annotations

from typing import get_args

import pytest

from agents.triage.risk import RiskSignal, detect_risk_signals

POSITIVES: list[tuple[RiskSignal, str]] = [
    ("refund_request", "I want a refund for my broken headphones"),
    ("refund_request", "Can I get my money back for the order that never arrived?"),
    ("refund_request", "Please reimburse the delivery fee you charged me"),
    ("refund_request", "I want to return this and get my money back"),
    ("chargeback", "I'm going to file a chargeback with my bank"),
    ("chargeback", "I want to dispute this transaction"),
    ("chargeback", "I am disputing the charge from last Tuesday"),
    ("unrecognised_charge", "There is a payment on my card I don't recognise"),
    ("unrecognised_charge", "I didn't make this purchase of EUR 49 at an electronics store"),
    ("unrecognised_charge", "There's a suspicious transaction on my statement from a shop in Berlin"),
    ("unrecognised_charge", "This charge is not mine"),
    ("unrecognised_charge", "I did not authorise this payment"),
    ("unrecognised_charge", "I can't identify a payment of EUR 30 from yesterday"),
    ("duplicate_charge", "You charged me twice for the same subscription"),
    ("duplicate_charge", "I was double charged for my order"),
    ("duplicate_charge", "There is a duplicate payment on my statement for my monthly plan"),
    ("duplicate_charge", "The same payment shows up 2x on my statement"),
    ("duplicate_charge", "My subscription was charged two times this month"),
    ("fraud_or_takeover", "My account was hacked and someone changed my email"),
    ("fraud_or_takeover", "I think I fell for a phishing email and gave away my password"),
    ("fraud_or_takeover", "My card was stolen yesterday"),
    ("fraud_or_takeover", "Someone logged into my account from another country"),
    ("fraud_or_takeover", "I received a text pretending to be Lumora asking for my PIN"),
    ("fraud_or_takeover", "My account has been compromised"),
    ("legal_threat", "I will contact my lawyer about this"),
    ("legal_threat", "I'm going to sue you"),
    ("legal_threat", "I'm reporting you to the financial ombudsman"),
    ("legal_threat", "I'll take you to small claims court"),
    ("legal_threat", "I want to take legal action against you"),
    ("human_request", "Can I speak to a real person please?"),
    ("human_request", "I want to talk to a human"),
    ("human_request", "Get me an agent"),
    ("human_request", "agent"),
    ("human_request", "Please escalate this to a supervisor"),
    ("abuse", "You are useless"),
    ("abuse", "This stupid bot can't answer anything"),
    ("abuse", "shut up and fix my account"),
    ("strong_frustration", "This is absolutely unacceptable"),
    ("strong_frustration", "I'm furious, this is the third time I've asked"),
    ("strong_frustration", "I'm sick and tired of waiting for my card"),
    ("strong_frustration", "This is the worst service I have ever had"),
]

ORDINARY_TICKETS = [
    "how do I change my card PIN",
    "what is the fee for ATM withdrawals abroad",
    "the app crashes when I open it",
    "Are you a real person?",
    "How do I reset my password?",
    "When will my new card arrive?",
    "Can I use Apple Pay with my Lumora card?",
    "How much does the Premium plan cost per month?",
    "How do I download my invoices?",
    "I forgot my passcode and can't log in",
    "Notifications are not arriving on my phone",
    "How do I turn on two-factor authentication?",
    "My contactless payments are not working",
    "How do I update my payment method?",
    "What documents do I need to verify my identity?",
    "Can I change my plan from monthly to yearly?",
    "I haven't received my card",
    "I didn't get the verification email",
    "I never got the confirmation code",
    "How can I stop my subscription renewing?",
    "Can I pay twice a month instead of once?",
    "Can I see the login history from other devices?",
    "Thanks, that fixed it!",
]


def test_every_signal_has_at_least_three_positive_examples() -> None:
    counts = {signal: 0 for signal in get_args(RiskSignal)}
    for signal, _ in POSITIVES:
        counts[signal] += 1
    assert min(counts.values()) >= 3, counts


@pytest.mark.parametrize(("signal", "text"), POSITIVES)
def test_signal_is_detected(signal: RiskSignal, text: str) -> None:
    assert signal in detect_risk_signals(text)


@pytest.mark.parametrize("text", ORDINARY_TICKETS)
def test_ordinary_ticket_has_no_signal(text: str) -> None:
    assert detect_risk_signals(text) == []


def test_signals_come_in_the_fixed_order_without_duplicates() -> None:
    text = "I was charged twice and I want a refund, or I will call my lawyer, I want a refund!"
    assert detect_risk_signals(text) == ["refund_request", "duplicate_charge", "legal_threat"]


def test_matching_ignores_case() -> None:
    assert detect_risk_signals("MY ACCOUNT WAS HACKED") == ["fraud_or_takeover"]


def test_empty_text_has_no_signal() -> None:
    assert detect_risk_signals("") == []
