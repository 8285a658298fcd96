"""The reviewer console in Chromium: an escalation from the widget is claimed and answered with the
keyboard, the reply reaches the widget live; keys without the reviewer role are turned away."""

from __future__ import annotations

import pytest
from browser_helpers import ESCALATED, HELP_CENTRE, Browser, customer_token, no_horizontal_scroll, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

REPLY = "I'm sorry about the headphones. I've started a replacement for you; it ships tomorrow."


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_an_escalation_is_claimed_and_answered_in_the_console(browser: Browser, viewport: str) -> None:
    widget = browser.widget(customer="cus_vip")
    conversation = widget.locator("[data-widget]").get_attribute("data-conversation-id")
    send(widget, ESCALATED)
    banner = widget.locator("[data-role=banner]")
    expect(banner).to_contain_text("A person from our support team will reply here")
    expect(widget.locator(".msg.customer .state")).to_have_text("Delivered")

    console = browser.sign_in("/console", "reviewer")
    item = console.locator(f".queue li[data-conversation-id='{conversation}']")
    expect(item).to_contain_text("cus_vip")
    expect(item.locator(".badge.vip")).to_have_text("VIP")
    expect(item.locator(".badge.category")).to_have_text("refund")
    item.get_by_role("button").click()

    detail = console.locator(f"[data-role=detail][data-conversation-id='{conversation}']")
    expect(detail).to_be_visible()
    # The whole handoff: transcript, classification, risk, customer and value, the rule and why,
    # the retrieved articles, the draft, and the trail.
    expect(detail.locator("[data-role=transcript]")).to_contain_text(ESCALATED)
    expect(detail.locator("[data-role=classification]")).to_contain_text("Confidence")
    expect(detail.locator("[data-role=classification] .badge.risk").first).to_be_visible()
    expect(detail.locator("[data-role=customer]")).to_contain_text("Value score")
    expect(detail.locator("[data-role=customer] .bars li").first).to_be_visible()
    expect(detail.locator("[data-role=explanation]")).to_contain_text("Rule")
    expect(detail.locator("[data-role=articles] a").first).to_have_attribute("href", HELP_CENTRE)
    draft = detail.locator("[data-role=draft-text]")
    expect(draft).not_to_be_empty()
    expect(detail.locator("[data-role=audit] li").first).to_contain_text("routing decision")

    # Claim with t: the customer sees that a person has it.
    console.keyboard.press("t")
    expect(detail.locator("[data-role=detail-status]")).to_contain_text("You have claimed this review")
    expect(banner).to_contain_text("is looking at your conversation now")

    # Edit and send with e, then Ctrl+Enter: the reply starts from the draft.
    console.keyboard.press("e")
    reply = console.get_by_label("Reply to the customer (starts from the draft)")
    expect(reply).to_be_focused()
    expect(reply).to_have_value(draft.inner_text())
    reply.fill(REPLY)
    reply.press("Control+Enter")
    expect(console.locator("[data-role=toast]")).to_have_text("Reply sent")
    expect(item).to_have_count(0)
    no_horizontal_scroll(console)

    # The reply arrives in the widget as it is sent, and the conversation is back to normal.
    expect(widget.locator(".msg.reviewer .bubble")).to_have_text(REPLY)
    expect(banner).to_be_hidden()
    no_horizontal_scroll(widget)


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_widget_key_cannot_open_the_console_or_the_dashboard(browser: Browser, viewport: str) -> None:
    for path, name in (("/console", "reviewer console"), ("/dashboard", "dashboard")):
        page = browser.sign_in(path, "widget")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(f"This key cannot open the {name}")
        expect(alert).to_contain_text("reviewer or admin key")
        expect(page.locator("[data-role=app]")).to_be_hidden()
        expect(page.locator("body")).to_have_attribute("data-signed-in", "false")
        assert page.evaluate("sessionStorage.getItem('support-router.staff-key')") is None
        no_horizontal_scroll(page)
    # A key that is not a key at all is told apart from one of the wrong role.
    page.get_by_label("API key").fill("sr_000000000000_not-a-key")
    page.get_by_label("API key").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("was not accepted")


def test_the_queue_moves_with_j_and_k(browser: Browser) -> None:
    with browser.server.api("widget") as api:
        for customer in ("cus-queue-1", "cus-queue-2"):
            created = api.post("/v1/conversations", json={"customer_token": customer_token(customer)}).json()
            sent = api.post(f"/v1/conversations/{created['id']}/messages", json={"text": ESCALATED})
            assert sent.status_code == 202, sent.text
    console = browser.sign_in("/console", "reviewer")
    items = console.locator(".queue li button")
    expect(items.nth(1)).to_be_visible()
    expect(items.first).to_have_attribute("aria-current", "true")  # the first is opened on sign-in
    console.locator("body").press("j")
    expect(items.nth(1)).to_have_attribute("aria-current", "true")
    expect(items.nth(1)).to_be_focused()
    console.keyboard.press("k")
    expect(items.first).to_have_attribute("aria-current", "true")
    # Shortcuts are shown next to the actions they trigger.
    for label in ("Claim t", "Approve draft a", "Edit & send e", "Reroute r", "Close c"):
        expect(console.get_by_role("button", name=label)).to_be_visible()
