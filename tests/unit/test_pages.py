"""The web pages as HTTP resources: served by the app, with no data or key in them, nothing from a CDN,
and the vendored chart library exactly the recorded release."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.routes.pages import DASHBOARD_CHARTS, STATIC_DIR, TEMPLATES_DIR

VENDOR = STATIC_DIR / "vendor"
PAGES = ("/", "/widget", "/widget?embed=1", "/console", "/dashboard")


@pytest.fixture(scope="module")
def client() -> TestClient:
    """The app without its lifespan: pages, static files and the schema need no models or store."""
    return TestClient(create_app())


def recorded_sha256(file_name: str) -> str:
    """The sha256 the vendor README records for a file."""
    readme = (VENDOR / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{file_name}`"))
    match = re.search(r"`([0-9a-f]{64})`", row)
    assert match, row
    return match.group(1)


def test_the_vendored_chart_library_is_the_recorded_release() -> None:
    bundle = VENDOR / "chart.umd.min.js"
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == recorded_sha256("chart.umd.min.js")
    header = bundle.read_text()[:200]
    assert "Chart.js v4.6.1" in header and "Released under the MIT License" in header
    assert "4.6.1" in (VENDOR / "README.md").read_text()
    assert "MIT License" in (VENDOR / "chart.js.LICENSE.md").read_text()


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_served_without_authentication(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"sr_[0-9a-f]{12}_", response.text)  # a shell: no key, no data


def test_only_the_widget_may_be_framed(client: TestClient) -> None:
    assert "frame-ancestors http: https:" in client.get("/widget").headers["content-security-policy"]
    for page in ("/console", "/dashboard"):
        response = client.get(page)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


def test_the_pages_load_their_scripts_from_this_server(client: TestClient) -> None:
    scripts = {page: re.findall(r'<script src="([^"]+)"', client.get(page).text) for page in PAGES}
    assert all(src.startswith("/static/") for sources in scripts.values() for src in sources), scripts
    assert any("/static/vendor/chart.umd.min.js" in src for src in scripts["/dashboard"])
    assert any("/static/widget-app.js" in src for src in scripts["/widget"])
    assert any("/static/console.js" in src for src in scripts["/console"])
    for sources in scripts.values():
        for src in sources:
            assert client.get(src).status_code == 200, src
    assert "<script>" not in "".join(client.get(page).text for page in PAGES)  # no inline script


def test_the_dashboard_has_a_card_per_endpoint(client: TestClient) -> None:
    html = client.get("/dashboard").text
    paths = set(client.get("/openapi.json").json()["paths"])
    for chart in DASHBOARD_CHARTS:
        assert f'data-chart="{chart["id"]}"' in html
        assert chart["path"] == f"/v1/dashboard/{chart['id']}" and chart["path"] in paths


def test_the_embed_script_is_served(client: TestClient) -> None:
    response = client.get("/static/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "data-key" in response.text and "/widget?embed=1#" in response.text


def test_nothing_is_fetched_from_another_origin() -> None:
    """No CDN at run time: no page or script names an absolute URL to load (links in comments aside)."""
    loading = re.compile(r"""(?:src|href)\s*=\s*["']https?://|@import|url\(\s*["']?https?://""")
    for path in [*TEMPLATES_DIR.glob("*.html"), *STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("*.css")]:
        code = re.sub(r"/\*.*?\*/|<!--.*?-->", "", path.read_text(), flags=re.S)
        assert not loading.search(code), path


def test_templates_escape_what_they_render() -> None:
    from app.routes.pages import _templates

    assert _templates.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
