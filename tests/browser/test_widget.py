"""The chat widget in Chromium: a cited answer, the progress shown from the stream, a dropped network
that loses and doubles nothing, and the one-tag embed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser_helpers import (
    ANSWERED,
    HELP_CENTRE,
    SECOND_ANSWERED,
    Browser,
    customer_token,
    no_horizontal_scroll,
    send,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Every text the progress line shows, in order (a MutationObserver sees each one, even several set in
# one task, since each replaces the line's text node).
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const line = document.querySelector("[data-role=typing-text]");
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) window.progressSeen.push(node.textContent);
    }
  }).observe(line, { childList: true });
}"""


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_message_gets_a_cited_answer(browser: Browser, viewport: str) -> None:
    page = browser.widget(customer=f"cus-answer-{viewport}")
    page.evaluate(RECORD_PROGRESS)
    send(page, ANSWERED)

    answer = page.locator(".msg.assistant")
    expect(answer).to_have_count(1)
    sources = answer.locator(".sources a")
    expect(sources.first).to_have_attribute("href", HELP_CENTRE)
    expect(sources.first).to_have_attribute("target", "_blank")
    expect(answer.locator(".bubble")).not_to_contain_text("Source:")  # shown as links instead
    expect(page.locator(".msg.customer .state")).to_have_text("Delivered")
    expect(page.locator("[data-widget]")).to_have_attribute("data-typing", "false")
    seen = page.evaluate("window.progressSeen")
    assert "Sending…" in seen, seen
    # Progress from the event stream's node events, shown before the answer arrived.
    assert {"Reading your message…", "Checking our help articles…"} <= set(seen), seen
    expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    no_horizontal_scroll(page)


def test_a_dropped_network_loses_and_doubles_nothing(browser: Browser) -> None:
    page = browser.widget(customer="cus-offline")
    conversation = page.locator("[data-widget]").get_attribute("data-conversation-id")

    # Written while offline: it waits, then goes out (with its Idempotency-Key) when the network is back.
    browser.context.set_offline(True)
    send(page, ANSWERED)
    expect(page.locator(".msg.customer .state")).to_have_text("Waiting for the network…")
    expect(page.locator("[data-role=connection]")).to_contain_text("Offline")
    browser.context.set_offline(False)
    expect(page.locator(".msg.assistant")).to_have_count(1)
    expect(page.locator(".msg.customer .state")).to_have_text("Delivered")
    expect(page.locator("[data-role=connection]")).to_have_text("")

    # Sent, then the network drops while the answer is on its way: the stream resumes after the last
    # event it saw (Last-Event-ID) and the answer arrives once.
    send(page, SECOND_ANSWERED)
    browser.context.set_offline(True)
    page.wait_for_timeout(300)
    browser.context.set_offline(False)
    expect(page.locator(".msg.assistant")).to_have_count(2)
    page.wait_for_timeout(1500)  # time for a late duplicate to show up, if there were one
    expect(page.locator(".msg.customer")).to_have_count(2)
    expect(page.locator(".msg.assistant")).to_have_count(2)

    # The server has each message once, and a reload rebuilds the same conversation from its events.
    with browser.server.api("widget") as api:
        transcript = api.get(f"/v1/conversations/{conversation}").json()["transcript"]
    assert [m["text"] for m in transcript if m["role"] == "customer"] == [ANSWERED, SECOND_ANSWERED]
    page.reload()
    expect(page.locator("[data-widget]")).to_have_attribute("data-conversation-id", conversation or "")
    expect(page.locator(".msg.customer")).to_have_count(2)
    expect(page.locator(".msg.assistant")).to_have_count(2)
    expect(page.locator(".msg.assistant .sources a").first).to_have_attribute("href", HELP_CENTRE)


@contextmanager
def shop_site(html: str) -> Iterator[str]:
    """Another site on loopback (another origin than the app's) serving one page: its URL."""

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the handler API's name)
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def test_the_widget_embeds_with_one_script_tag(browser: Browser) -> None:
    key = browser.server.keys["widget"]
    src = f"{browser.server.base_url}/static/widget.js"
    shop = (
        "<!doctype html><title>Lumora shop</title><h1>Lumora shop</h1>"
        f'<script src="{src}" data-key="{key}" data-customer="cus-embed" '
        f'data-customer-token="{customer_token("cus-embed")}" async></script>'
    )
    with shop_site(shop) as url:
        page = browser.page("")
        page.goto(url)
        # The server takes a customer only with a token the site signed: the answer shows the embed's
        # data-customer-token reached the conversation it opened.
        embedded(page)


def embedded(page: Page) -> None:
    """The button the tag adds opens the widget, which answers; Escape closes it again."""
    launcher = page.get_by_role("button", name="Chat with support")
    launcher.click()
    expect(page.get_by_role("button", name="Close chat")).to_have_attribute("aria-expanded", "true")
    chat = page.frame_locator("iframe[title='Support chat']")
    expect(chat.locator("[data-widget]")).to_have_attribute("data-stream", "open")
    box = chat.get_by_label("Your message")
    box.fill(ANSWERED)
    box.press("Enter")
    expect(chat.locator(".msg.assistant .sources a").first).to_have_attribute("href", HELP_CENTRE)
    # Escape in the widget closes the panel and gives the focus back to the button.
    box.press("Escape")
    expect(page.get_by_role("button", name="Chat with support")).to_be_focused()
