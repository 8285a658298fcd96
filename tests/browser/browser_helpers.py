"""Tickets the browser tests send, and traffic seeded through the API for the dashboard and screenshots."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from app.customer_tokens import issue_customer_token

ANSWERED = "How do I reset my password?"
"""Answered at once by the access specialist, quoting an article."""
ESCALATED = "I want a refund for my broken headphones"
"""Refunds stop for a person, with the specialist's draft."""
SECOND_ANSWERED = "How do I enable two-factor authentication?"
HELP_CENTRE = re.compile(r"^https://help\.lumora\.example/")
"""Where the cited articles live."""

# Enough customers that both policy versions (a 50% canary by hashed customer id) get traffic.
TRAFFIC = (
    ("cus_vip", "How do I change my card PIN?"),
    ("cus_vip", "I was charged twice for my subscription this month"),
    ("cus_free", "How do I reset my password?"),
    ("cus_free", "I want to speak to a human"),
    ("cus_0001", "My app keeps crashing when I open it"),
    ("cus_0002", "Where can I download my invoices?"),
    ("cus_0003", "I want a refund for my broken headphones"),
    ("cus_0004", "How do I enable two-factor authentication?"),
    ("cus_0005", "My account is locked after too many attempts"),
    ("cus_0006", "The app is very slow to load my transactions"),
    ("cus_0007", "I was charged twice for my subscription this month"),
    ("cus_0008", "How do I change my email address?"),
    ("cus_0009", "Can I get a refund for an order I cancelled?"),
    ("cus_0010", "Why was I charged a fee this month?"),
    ("cus_0011", "this is useless, I want to talk to someone now"),
    ("cus_0012", "How do I verify my mobile number?"),
)
LEFT_PENDING = 3
"""Escalations left in the queue, so the console has something to show."""
CUSTOMER_TOKEN_SECRET = "the browser suite's site secret, shared with its server only"
"""The server runs with it, so every widget names its customer through a token the site signed."""


def customer_token(customer: str) -> str:
    """What the embedding site's backend signs for its signed-in `customer`."""
    return issue_customer_token(CUSTOMER_TOKEN_SECRET, customer)


@dataclass(frozen=True)
class Server:
    """The app under test: its address and a key of each role (by name, see KEY_ROLES)."""

    base_url: str
    keys: dict[str, str]
    log: Path

    def api(self, key: str) -> httpx.Client:
        """An HTTP client of the API with one of the keys."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.keys[key]}"}, timeout=30
        )


@dataclass
class Browser:
    """One test's Chromium: a fresh profile, its pages, and the errors its pages raised."""

    context: BrowserContext
    server: Server
    shots: Path
    errors: list[str] = field(default_factory=list)

    def page(self, path: str = "/") -> Page:
        """A page (the context's first, then new tabs) at `path` on the server."""
        blank = [p for p in self.context.pages if p.url == "about:blank"]
        page = blank[0] if blank else self.context.new_page()
        if path:
            page.goto(self.server.base_url + path)
        return page

    def widget(self, customer: str, key: str = "widget") -> Page:
        """The widget page running for `customer`, its event stream open."""
        token = customer_token(customer)
        page = self.page(f"/widget#key={self.server.keys[key]}&customer={customer}&customer_token={token}")
        expect(page.locator("[data-widget]")).to_have_attribute("data-stream", "open")
        return page

    def sign_in(self, path: str, key: str) -> Page:
        """A staff page with the sign-in form submitted with one of the server's keys."""
        page = self.page(path)
        page.get_by_label("API key").fill(self.server.keys[key])
        page.get_by_label("API key").press("Enter")
        return page


@dataclass(frozen=True)
class Traffic:
    """What the seeding did."""

    turns: int
    escalated: int
    resolved: int
    pending: list[dict[str, Any]]


def seed_traffic(server: Server) -> Traffic:
    """Conversations through the API as widgets make them; reviewers decide all but a few escalations."""
    escalated = 0
    with server.api("widget") as widget, server.api("reviewer") as reviewer:
        for customer, text in TRAFFIC:
            created = widget.post("/v1/conversations", json={"customer_token": customer_token(customer)})
            assert created.status_code == 201, created.text
            sent = widget.post(f"/v1/conversations/{created.json()['id']}/messages", json={"text": text})
            assert sent.status_code in (200, 202), sent.text
            escalated += sent.status_code == 202
        reviews = [r for r in reviewer.get("/v1/reviews").json() if r["customer_id"] in dict(TRAFFIC)]
        assert len(reviews) > LEFT_PENDING, reviews
        resolved = 0
        for review in reviews[LEFT_PENDING:]:
            assert reviewer.post(f"/v1/reviews/{review['id']}/claim").status_code == 200
            decision = (
                {"action": "approve"}
                if review["handoff"].get("draft")
                else {"action": "reply", "text": "Thanks for waiting: I have sorted this out for you."}
            )
            answered = reviewer.post(f"/v1/reviews/{review['id']}/resolve", json=decision)
            assert answered.status_code == 200, answered.text
            resolved += 1
    return Traffic(turns=len(TRAFFIC), escalated=escalated, resolved=resolved, pending=reviews[:LEFT_PENDING])


def send(page: Page, text: str) -> None:
    """Type a message and press Enter, as a person does."""
    box = page.get_by_label("Your message")
    box.click()
    box.press_sequentially(text, delay=0)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(box).to_be_focused()


def no_horizontal_scroll(page: Page) -> None:
    """The page fits its viewport's width."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]}px wide in a {widths[1]}px viewport"
