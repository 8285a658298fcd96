"""The dashboard endpoints over HTTP: who may read them, the time window, numbers from real turns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import CLEAR_TICKET, REFUND_TICKET, assert_error, auth, escalate, pending_review, post_text
from api_helpers import new_conversation as start_conversation
from fastapi.testclient import TestClient

from app.store.keys import IssuedKey

ENDPOINTS = ("sla", "response-times", "escalations", "deflection", "volume", "policy-versions", "confidence")


def get(client: TestClient, key: IssuedKey, endpoint: str, **params: str) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/v1/dashboard/{endpoint}", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_reviewers_and_admins_read_the_dashboard_and_widgets_do_not(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey, endpoint: str
) -> None:
    url = f"/v1/dashboard/{endpoint}"
    assert_error(client.get(url), 401)
    assert_error(client.get(url, headers={"Authorization": "Bearer sr_nope"}), 401)
    assert "reviewer" in assert_error(client.get(url, headers=auth(widget)), 403)["message"]
    assert client.get(url, headers=auth(reviewer)).status_code == 200
    assert client.get(url, headers=auth(admin)).status_code == 200


def test_the_default_window_is_the_last_seven_days(client: TestClient, reviewer: IssuedKey) -> None:
    before = datetime.now(UTC)
    window = get(client, reviewer, "volume")["window"]
    since, until = datetime.fromisoformat(window["since"]), datetime.fromisoformat(window["until"])
    assert before <= until <= datetime.now(UTC)
    assert until - since == timedelta(days=7)
    # With only `until`, the window is the seven days before it.
    window = get(client, reviewer, "volume", until="2026-01-08T00:00:00Z")["window"]
    assert datetime.fromisoformat(window["since"]) == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_window_is_converted_to_utc_and_a_naive_one_is_utc(client: TestClient, reviewer: IssuedKey) -> None:
    window = get(client, reviewer, "sla", since="2026-01-01T02:00:00+02:00", until="2026-01-02T00:00:00")[
        "window"
    ]
    assert datetime.fromisoformat(window["since"]) == datetime(2026, 1, 1, tzinfo=UTC)
    assert datetime.fromisoformat(window["until"]) == datetime(2026, 1, 2, tzinfo=UTC)


def test_a_bad_window_is_a_clear_422(client: TestClient, reviewer: IssuedKey) -> None:
    url = "/v1/dashboard/escalations"
    error = assert_error(
        client.get(
            url,
            params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            headers=auth(reviewer),
        ),
        422,
    )
    assert "`since` must be before `until`" in error["message"]
    assert_error(client.get(url, params={"since": "yesterday"}, headers=auth(reviewer)), 422)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00+14:00"},  # before the calendar's first instant in UTC
        {"until": "9999-12-31T23:59:59-14:00", "since": "2026-01-01T00:00:00Z"},  # after its last
        {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"},  # the whole calendar
    ],
)
def test_windows_at_the_edges_of_the_calendar_are_answered(
    client: TestClient, reviewer: IssuedKey, params: dict[str, str]
) -> None:
    for endpoint in ENDPOINTS:
        response = client.get(f"/v1/dashboard/{endpoint}", params=params, headers=auth(reviewer))
        assert response.status_code == 200, (endpoint, response.text)


def test_the_numbers_come_from_the_turns_the_api_ran(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey
) -> None:
    answered = start_conversation(client, widget, customer_id="cus_free")
    assert post_text(client, widget, answered, CLEAR_TICKET).status_code == 200
    escalated, _ = escalate(client, widget, REFUND_TICKET)
    review = pending_review(client, reviewer, escalated)
    assert client.post(f"/v1/reviews/{review['id']}/claim", headers=auth(reviewer)).status_code == 200
    resolved = client.post(
        f"/v1/reviews/{review['id']}/resolve", json={"action": "approve"}, headers=auth(reviewer)
    )
    assert resolved.status_code == 200, resolved.text

    escalations = get(client, reviewer, "escalations")
    assert (escalations["turns"], escalations["escalated"], escalations["escalation_rate"]) == (2, 1, 0.5)
    reason = review["reason"]
    signals = reason.removeprefix("risk:").split(",") if reason.startswith("risk:") else None
    expected = {f"risk:{signal}" for signal in signals} if signals else {reason}
    assert {r["reason"] for r in escalations["reasons"]} == expected

    deflection = get(client, reviewer, "deflection")
    assert (deflection["turns"], deflection["automated"], deflection["rate"]) == (2, 1, 0.5)
    assert sum(p["turns"] for p in deflection["series"]) == 2

    volume = get(client, reviewer, "volume")
    assert volume["turns"] == 2
    assert {c["category"] for c in volume["categories"]} == {"account_access", "refund"}

    confidence = get(client, reviewer, "confidence")
    assert (
        confidence["turns"] == 2 and sum(b["not_escalated"] + b["escalated"] for b in confidence["bins"]) == 2
    )

    sla = get(client, reviewer, "sla")["overall"]
    assert sla["reviews"] == 1
    assert (sla["first_response"]["met"], sla["first_response"]["attainment"]) == (1, 1.0)
    assert (sla["resolution"]["met"], sla["resolution"]["attainment"]) == (1, 1.0)

    times = get(client, reviewer, "response-times")["overall"]
    assert (times["acknowledged"], times["resolved"]) == (1, 1)
    assert 0 <= times["mtta_seconds"] <= times["mttr_seconds"] < 60

    versions = get(client, reviewer, "policy-versions")
    assert (versions["active_version"], versions["canary_version"]) == ("1", None)
    (active,) = versions["versions"]
    assert (active["policy_version"], active["role"], active["turns"], active["reviews"]) == (
        "1",
        "active",
        2,
        1,
    )
    assert (active["escalation_rate"], active["automated_resolution_rate"]) == (0.5, 0.5)

    # A window that ended before the turns holds none of them.
    past = get(client, reviewer, "volume", until=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert past["turns"] == 0


def test_the_endpoints_are_documented(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for endpoint in ENDPOINTS:
        operation = schema["paths"][f"/v1/dashboard/{endpoint}"]["get"]
        assert operation["tags"] == ["dashboard"]
        assert operation["description"]
        assert {p["name"] for p in operation["parameters"]} == {"since", "until"}
        assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert not {"/widget", "/console", "/dashboard", "/"} & set(schema["paths"])
