"""Customer tokens: with a secret set, a widget names a customer only through a token the site signed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from api_helpers import assert_error, auth, issue_key
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from agents.toolkit import Toolkit
from app.api import create_app
from app.customer_tokens import AUDIENCE, issue_customer_token, verified_customer
from app.refusals import ForbiddenError
from app.settings import Settings

SECRET = "a-site-secret-of-at-least-thirty-two-bytes-and-long-enough-for-hs512-too"
SCRIPT = Path(sys.executable).parent / "support-router"


def test_a_token_names_its_customer_until_it_expires() -> None:
    token = issue_customer_token(SECRET, "cus_vip", timedelta(minutes=5))
    assert verified_customer(SECRET, token) == "cus_vip"
    expired = issue_customer_token(SECRET, "cus_vip", timedelta(seconds=-1))
    with pytest.raises(ForbiddenError, match="expired"):
        verified_customer(SECRET, expired)


@pytest.mark.parametrize(
    "token",
    [
        issue_customer_token("another-secret-that-is-also-long-enough", "cus_vip"),
        jwt.encode({"sub": "cus_vip", "aud": "another-service", "exp": 4102444800}, SECRET, "HS256"),
        jwt.encode({"sub": "cus_vip", "aud": AUDIENCE}, SECRET, "HS256"),  # no expiry
        jwt.encode({"aud": AUDIENCE, "exp": 4102444800}, SECRET, "HS256"),  # no customer
        jwt.encode({"sub": "cus_vip", "aud": AUDIENCE, "exp": 4102444800}, SECRET, "HS512"),
        "not-a-token",
    ],
    ids=["other secret", "other audience", "no expiry", "no customer", "other algorithm", "garbage"],
)
def test_forged_foreign_and_incomplete_tokens_are_refused(token: str) -> None:
    with pytest.raises(ForbiddenError):
        verified_customer(SECRET, token)


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(data_dir=tmp_path, customer_token_secret=SecretStr("short"))


@pytest.fixture
def signed_client(settings: Settings, toolkit: Toolkit) -> Iterator[TestClient]:
    """The app with a customer token secret."""
    with TestClient(
        create_app(settings.model_copy(update={"customer_token_secret": SecretStr(SECRET)}), toolkit)
    ) as client:
        yield client


def test_with_a_secret_a_widget_needs_a_token_to_name_a_customer(signed_client: TestClient) -> None:
    widget, admin = issue_key(signed_client, "widget"), issue_key(signed_client, "admin")
    create = "/v1/conversations"

    refused = signed_client.post(create, json={"customer_id": "cus_vip"}, headers=auth(widget))
    assert_error(refused, 403)
    token = issue_customer_token(SECRET, "cus_vip")
    created = signed_client.post(create, json={"customer_token": token}, headers=auth(widget))
    assert created.status_code == 201, created.text
    assert created.json()["customer_id"] == "cus_vip"
    same = signed_client.post(
        create, json={"customer_id": "cus_vip", "customer_token": token}, headers=auth(widget)
    )
    assert same.status_code == 201 and same.json()["customer_id"] == "cus_vip"

    other = {"customer_id": "cus_free", "customer_token": token}
    assert_error(signed_client.post(create, json=other, headers=auth(widget)), 422)
    forged = {"customer_token": issue_customer_token("another-secret-that-is-also-long-enough", "cus_vip")}
    assert_error(signed_client.post(create, json=forged, headers=auth(widget)), 403)
    expired = {"customer_token": issue_customer_token(SECRET, "cus_vip", timedelta(seconds=-1))}
    assert (
        "expired"
        in assert_error(signed_client.post(create, json=expired, headers=auth(widget)), 403)["message"]
    )

    anonymous = signed_client.post(create, json={}, headers=auth(widget))
    assert anonymous.status_code == 201 and anonymous.json()["customer_id"] is None
    backend = signed_client.post(create, json={"customer_id": "cus_free"}, headers=auth(admin))
    assert backend.status_code == 201 and backend.json()["customer_id"] == "cus_free"


def test_without_a_secret_a_token_is_refused(client: TestClient) -> None:
    widget = issue_key(client, "widget")
    body = {"customer_token": issue_customer_token(SECRET, "cus_vip")}
    error = assert_error(client.post("/v1/conversations", json=body, headers=auth(widget)), 403)
    assert "SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET" in error["message"]


def test_the_command_line_signs_tokens_the_service_accepts(tmp_path: Path) -> None:
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(tmp_path),
        "SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET": SECRET,
    }
    signed = subprocess.run(
        [str(SCRIPT), "customers", "token", "cus_0042", "--minutes", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert signed.returncode == 0, signed.stderr
    assert verified_customer(SECRET, signed.stdout.strip()) == "cus_0042"
    del env["SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET"]
    unset = subprocess.run(
        [str(SCRIPT), "customers", "token", "cus_0042"], env=env, capture_output=True, text=True, timeout=120
    )
    assert unset.returncode == 2 and unset.stderr.startswith(
        "error: set SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET"
    )
