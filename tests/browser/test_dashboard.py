"""The supervisor dashboard in Chromium after real traffic: every chart drawn with data, the window
selectable; and the README's screenshots of the three pages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import ANSWERED, Browser, Server, Traffic, no_horizontal_scroll, seed_traffic, send
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CHARTS = ("sla", "response-times", "escalations", "deflection", "volume", "policy-versions", "confidence")
SCREENSHOTS_ENV = "SUPPORT_ROUTER_SCREENSHOTS"
"""Where the README's screenshots go (`make screenshots` sets it to docs/screenshots)."""
# Per chart: how many datasets it draws, the data points of each, and whether the canvas has ink on it.
CHART_STATE = """(id) => {
  const canvas = document.querySelector(`[data-chart="${id}"] canvas`);
  const chart = Chart.getChart(canvas);
  if (!chart) return null;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return {
    labels: chart.data.labels.length,
    datasets: chart.data.datasets.map((d) => ({
      label: d.label,
      values: d.data.filter((v) => v !== null && v !== undefined && v !== 0).length,
    })),
    inked,
  };
}"""


@pytest.fixture(scope="module")
def traffic(server: Server) -> Traffic:
    """Conversations of sixteen customers, most escalations decided by a reviewer (once per module)."""
    return seed_traffic(server)


def open_dashboard(browser: Browser) -> Page:
    page = browser.sign_in("/dashboard", "reviewer")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    return page


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_every_chart_is_drawn_with_data(browser: Browser, traffic: Traffic, viewport: str) -> None:
    page = open_dashboard(browser)
    for chart in CHARTS:
        card = page.locator(f"[data-chart='{chart}']")
        expect(card).to_have_attribute("data-state", "ready")
        expect(card.locator("[data-role=nodata]")).to_be_hidden()
        assert int(card.get_attribute("data-points") or 0) > 0, chart
        state = page.evaluate(CHART_STATE, chart)
        assert state is not None, f"no Chart.js chart on the {chart} canvas"
        assert state["labels"] > 0 and any(d["values"] for d in state["datasets"]), (chart, state)
        assert state["inked"] > 1000, (chart, state)  # drawn, not just created
        card.get_by_text("Numbers").click()
        expect(card.locator("table tbody tr").first).to_be_visible()

    # Canary and active policy versions side by side, both with traffic.
    datasets = page.evaluate(CHART_STATE, "policy-versions")["datasets"]
    assert {d["label"] for d in datasets} >= {"v1 (active)", "v2 (canary 50%)"}, datasets
    with browser.server.api("reviewer") as api:
        versions = api.get("/v1/dashboard/policy-versions").json()["versions"]
    assert {v["role"]: v["turns"] > 0 for v in versions} == {"active": True, "canary": True}, versions
    no_horizontal_scroll(page)


def test_the_time_window_is_selectable(browser: Browser, traffic: Traffic) -> None:
    page = open_dashboard(browser)
    volume = page.locator("[data-chart='volume'] [data-role=summary]")
    expect(volume).to_contain_text("turns in")
    page.get_by_label("Time window").select_option("1h")
    expect(page).to_have_url(re.compile(r"#window=1h$"))
    expect(page.locator("[data-chart='volume']")).to_have_attribute("data-state", "ready")
    # A custom window that ended long ago holds nothing.
    page.get_by_label("Time window").select_option("custom")
    page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    page.get_by_label("To", exact=True).fill("2020-01-02T00:00")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("[data-chart='volume']")).to_have_attribute("data-state", "empty")
    expect(page.locator("[data-chart='volume'] [data-role=nodata]")).to_be_visible()
    expect(volume).to_have_text("0 turns in 0 categories")


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Iterator[Path]:
    """docs/screenshots under `make screenshots`, else the test's tmp dir (so a test run changes no file)."""
    target = os.environ.get(SCREENSHOTS_ENV)
    directory = Path(target) if target else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    yield directory


def test_readme_screenshots(browser: Browser, traffic: Traffic, screenshot_dir: Path) -> None:
    # The widget: an answer with its sources, then a handoff answered by a person.
    widget = browser.widget(customer="cus_0042")
    widget.set_viewport_size({"width": 460, "height": 900})
    send(widget, ANSWERED)
    expect(widget.locator(".msg.assistant .sources a").first).to_be_visible()
    send(widget, "I was charged twice for my subscription this month")
    expect(widget.locator("[data-role=banner]")).to_be_visible()
    conversation = widget.locator("[data-widget]").get_attribute("data-conversation-id")
    with browser.server.api("reviewer") as reviewer:
        (review,) = [r for r in reviewer.get("/v1/reviews").json() if r["conversation_id"] == conversation]
        reply = "Sorry about that! I've refunded the second charge; it will be back on your card in 3-5 days."
        decision = {"action": "reply", "text": reply}
        resolved = reviewer.post(f"/v1/reviews/{review['id']}/resolve", json=decision)
        assert resolved.status_code == 200, resolved.text
    expect(widget.locator(".msg.reviewer")).to_be_visible()
    widget.get_by_label("Your message").blur()
    widget.screenshot(path=str(screenshot_dir / "widget.png"))

    # The console with a VIP review open.
    console = browser.sign_in("/console", "reviewer")
    console.set_viewport_size({"width": 1280, "height": 1000})
    vip = console.locator(".queue li").filter(has=console.locator(".badge.vip")).first
    expect(vip).to_be_visible()
    vip.get_by_role("button").click()
    expect(console.locator("[data-role=explanation]")).to_be_visible()
    expect(console.locator("[data-role=audit] li").first).to_be_visible()
    console.screenshot(path=str(screenshot_dir / "console.png"))

    dashboard = open_dashboard(browser)
    dashboard.set_viewport_size({"width": 1280, "height": 900})
    for chart in CHARTS:
        expect(dashboard.locator(f"[data-chart='{chart}']")).to_have_attribute("data-state", "ready")
    dashboard.screenshot(path=str(screenshot_dir / "dashboard.png"), full_page=True)

    for name in ("widget", "console", "dashboard"):
        image = (screenshot_dir / f"{name}.png").read_bytes()
        assert image.startswith(b"\x89PNG") and len(image) > 20_000, name
