"""Customer value score, SLA clocks and canary bucketing."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from graph.policy.canary import CANARY_BUCKETS, bucket, choose_policy, in_canary
from graph.policy.evaluate import Policy, PolicyDecision
from graph.policy.schema import DEFAULT_POLICY_FILE, load_policy_file
from graph.policy.sla import clock_state, due_times
from graph.policy.value import CustomerFacts, score_value

DOCUMENT = load_policy_file(DEFAULT_POLICY_FILE)
WEIGHTS = DOCUMENT.value
TODAY = date(2025, 6, 4)
SIGNALS = {"contract_value", "tier", "renewal", "churn_risk", "open_incidents"}


def customer(**changes: Any) -> CustomerFacts:
    """A customer who earns nothing unless changed."""
    facts = CustomerFacts(
        customer_id="cus_1",
        tier="free",
        annual_contract_value=0.0,
        renewal_date=None,
        churn_signals=[],
        open_incidents=0,
        region=None,
    )
    facts.update(changes)  # type: ignore[typeddict-item]
    return facts


def points(signal: str, **changes: Any) -> float:
    return score_value(WEIGHTS, customer(**changes), TODAY)["contributions"][signal]


# --- value score ------------------------------------------------------------------------------------


def test_no_customer_scores_zero_on_every_signal() -> None:
    value = score_value(WEIGHTS, None, TODAY)
    assert value["score"] == 0.0
    assert value["contributions"] == dict.fromkeys(SIGNALS, 0.0)


def test_customer_who_earns_nothing_scores_zero() -> None:
    assert score_value(WEIGHTS, customer(), TODAY)["score"] == 0.0


@pytest.mark.parametrize(
    ("acv", "expected"),
    [
        (0.0, 0.0),
        (-10.0, 0.0),
        (499.0, 17.5),  # log10(500) is half of log10(250001): half the weight
        (250000.0, 35.0),
        (5_000_000.0, 35.0),  # capped
    ],
)
def test_contract_value_is_log_scaled_and_capped(acv: float, expected: float) -> None:
    assert points("contract_value", annual_contract_value=acv) == pytest.approx(expected, abs=0.01)


def test_contract_value_grows_by_decades_not_by_dollars() -> None:
    small, mid, large = (
        points("contract_value", annual_contract_value=v) for v in (1_000.0, 10_000.0, 100_000.0)
    )
    assert mid - small == pytest.approx(large - mid, abs=0.02)


@pytest.mark.parametrize(
    ("tier", "expected"),
    [("enterprise", 25.0), ("business", 15.0), ("standard", 6.25), ("free", 0.0), ("gold", 0.0)],
)
def test_tier_levels(tier: str, expected: float) -> None:
    assert points("tier", tier=tier) == expected


@pytest.mark.parametrize(
    ("renewal", "expected"),
    [
        ("2025-06-04", 15.0),  # today: full weight
        ("2025-07-19", 7.5),  # 45 of 90 days away: half
        ("2025-06-19", 12.5),  # 15 days away: 75/90 of the weight
        ("2025-09-01", 0.17),  # 89 days away: 1/90 of the weight
        ("2025-09-02", 0.0),  # 90 days away: nothing
        ("2026-01-01", 0.0),  # far away
        ("2025-06-03", 0.0),  # already past
        (None, 0.0),
    ],
)
def test_renewal_is_linear_within_the_window(renewal: str | None, expected: float) -> None:
    assert points("renewal", renewal_date=renewal) == expected


def test_renewal_date_must_be_iso() -> None:
    with pytest.raises(ValueError, match="not an ISO date"):
        score_value(WEIGHTS, customer(renewal_date="next spring"), TODAY)


@pytest.mark.parametrize(("count", "expected"), [(0, 0.0), (1, 5.0), (2, 10.0), (3, 15.0), (7, 15.0)])
def test_churn_signals_count_up_to_full_at(count: int, expected: float) -> None:
    assert points("churn_risk", churn_signals=[f"signal-{i}" for i in range(count)]) == expected


@pytest.mark.parametrize(("count", "expected"), [(0, 0.0), (1, 3.33), (3, 10.0), (9, 10.0), (-2, 0.0)])
def test_open_incidents_count_up_to_full_at(count: int, expected: float) -> None:
    assert points("open_incidents", open_incidents=count) == expected


def test_contributions_sum_to_the_score() -> None:
    value = score_value(
        WEIGHTS,
        customer(
            tier="business",
            annual_contract_value=42_000.0,
            renewal_date="2025-06-30",
            churn_signals=["downgrade"],
            open_incidents=1,
        ),
        TODAY,
    )
    assert set(value["contributions"]) == SIGNALS
    assert value["score"] == round(value["score"], 1)
    assert value["score"] == pytest.approx(sum(value["contributions"].values()), abs=0.05)
    assert 0 < value["score"] < 100


def test_a_customer_maxing_every_signal_scores_100() -> None:
    best = customer(
        tier="enterprise",
        annual_contract_value=1e7,
        renewal_date=TODAY.isoformat(),
        churn_signals=["a", "b", "c"],
        open_incidents=3,
    )
    assert score_value(WEIGHTS, best, TODAY)["score"] == 100.0


# --- SLA clocks ------------------------------------------------------------------------------------

START = datetime(2025, 6, 4, 10, 0, tzinfo=UTC)
DUE = START + timedelta(minutes=100)


def decision(first_response: int, resolution: int) -> PolicyDecision:
    return PolicyDecision(
        policy_version="v1",
        rule="defaults",
        path="ai_only",
        priority="normal",
        sla_class="basic",
        segment="basic",
        specialist="billing",
        reason=None,
        value_score=0.0,
        value_contributions={},
        first_response_minutes=first_response,
        resolution_minutes=resolution,
        explanation="",
    )


def test_due_times_add_the_decision_minutes() -> None:
    due = due_times(START, decision(15, 240))
    assert due == {
        "first_response_due": "2025-06-04T10:15:00+00:00",
        "resolution_due": "2025-06-04T14:00:00+00:00",
    }


def test_due_times_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="received_at must be timezone-aware"):
        due_times(datetime(2025, 6, 4, 10, 0), decision(15, 240))


@pytest.mark.parametrize(
    ("stopped", "now", "expected"),
    [
        (START + timedelta(minutes=30), START + timedelta(days=3), "met"),
        (DUE, DUE + timedelta(days=1), "met"),  # answering exactly on time meets the target
        (DUE + timedelta(seconds=1), DUE + timedelta(seconds=1), "missed"),
        (None, START + timedelta(minutes=10), "on_track"),
        (None, START + timedelta(minutes=79), "on_track"),
        (None, START + timedelta(minutes=80), "at_risk"),  # 80% of the time used
        (None, DUE, "at_risk"),
        (None, DUE + timedelta(seconds=1), "breached"),
    ],
)
def test_clock_states(stopped: datetime | None, now: datetime, expected: str) -> None:
    assert clock_state(START, DUE, stopped, now) == expected


def test_at_risk_share_is_configurable() -> None:
    assert clock_state(START, DUE, None, START + timedelta(minutes=50), at_risk_share=0.5) == "at_risk"
    assert clock_state(START, DUE, None, START + timedelta(minutes=49), at_risk_share=0.5) == "on_track"
    with pytest.raises(ValueError, match="at_risk_share"):
        clock_state(START, DUE, None, START, at_risk_share=1.5)


# --- canary ---------------------------------------------------------------------------------------

IDS = [f"cus_{i:05d}" for i in range(10_000)]
ACTIVE = Policy(version="v1", document=DOCUMENT)
CANARY = Policy(version="v2", document=DOCUMENT)


def test_bucket_is_the_first_8_bytes_of_sha256_mod_10000() -> None:
    for key in ("cus_00000", "conv-7f3a", ""):
        expected = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % CANARY_BUCKETS
        assert bucket(key) == expected
    assert all(0 <= bucket(key) < CANARY_BUCKETS for key in IDS[:500])


def test_bucket_is_stable_per_key() -> None:
    assert [bucket(key) for key in IDS[:100]] == [bucket(key) for key in IDS[:100]]


@pytest.mark.parametrize("percent", [10.0, 25.0])
def test_canary_share_is_close_to_the_percent(percent: float) -> None:
    share = 100 * sum(in_canary(key, percent) for key in IDS) / len(IDS)
    assert abs(share - percent) <= 1.5


def test_zero_percent_is_nobody_and_hundred_is_everybody() -> None:
    assert not any(in_canary(key, 0) for key in IDS)
    assert all(in_canary(key, 100) for key in IDS)


def test_canary_takes_buckets_below_the_percent_only() -> None:
    key = IDS[0]
    edge = bucket(key) / 100  # the percent whose first bucket left out is this key's
    assert not in_canary(key, edge)
    assert in_canary(key, edge + 0.01)


def test_growing_the_canary_keeps_everyone_already_in_it() -> None:
    assert all(in_canary(key, 25) for key in IDS if in_canary(key, 10))


@pytest.mark.parametrize("percent", [-1.0, 100.5])
def test_percent_out_of_range_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="within 0..100"):
        in_canary("cus_1", percent)
    with pytest.raises(ValueError, match="within 0..100"):
        choose_policy(ACTIVE, None, percent, "cus_1")


def test_choose_policy_sends_in_bucket_keys_to_the_canary() -> None:
    inside = next(key for key in IDS if bucket(key) < 1000)
    outside = next(key for key in IDS if bucket(key) >= 1000)
    assert choose_policy(ACTIVE, CANARY, 10, inside) is CANARY
    assert choose_policy(ACTIVE, CANARY, 10, outside) is ACTIVE
    assert choose_policy(ACTIVE, None, 10, inside) is ACTIVE
    assert all(choose_policy(ACTIVE, CANARY, 10, inside) is CANARY for _ in range(20))
