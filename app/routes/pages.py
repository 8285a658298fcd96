"""The web pages: chat widget, reviewer console and supervisor dashboard, with their static files.

The pages are shells with no data in them: their JavaScript calls the same `/v1` API with the key the
person enters (console, dashboard) or the embedding site gives (widget), so every page has exactly
the rights of its key and nothing here bypasses the API's authentication.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static"

router = APIRouter(tags=["pages"], include_in_schema=False)

DASHBOARD_CHARTS = (
    {"id": "sla", "title": "SLA attainment per service tier", "path": "/v1/dashboard/sla"},
    {"id": "response-times", "title": "MTTA and MTTR", "path": "/v1/dashboard/response-times"},
    {"id": "escalations", "title": "Escalation rate by reason", "path": "/v1/dashboard/escalations"},
    {"id": "deflection", "title": "Automated resolution (deflection)", "path": "/v1/dashboard/deflection"},
    {"id": "volume", "title": "Volume per category", "path": "/v1/dashboard/volume"},
    {
        "id": "policy-versions",
        "title": "Policy versions: active vs canary",
        "path": "/v1/dashboard/policy-versions",
    },
    {"id": "confidence", "title": "Triage confidence", "path": "/v1/dashboard/confidence"},
)
"""One card per chart; `id` is both the endpoint's last segment and the key of its drawing in dashboard.js."""

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Scripts and styles come only from this origin (no CDN, no inline script); the API is same-origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
)
# The widget is made to be framed by the sites that embed it; the staff pages never are.
_WIDGET_HEADERS = {"Content-Security-Policy": _CSP + "frame-ancestors http: https:"}
_STAFF_HEADERS = {"Content-Security-Policy": _CSP + "frame-ancestors 'none'", "X-Frame-Options": "DENY"}
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def asset_version() -> str:
    """A digest of the static files, appended to their URLs so a new release is never served stale."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def render(template: str, headers: dict[str, str], **context: object) -> HTMLResponse:
    """A page from its template, with the security headers of its kind."""
    html = _templates.get_template(template).render(static=STATIC_PREFIX, version=asset_version(), **context)
    return HTMLResponse(html, headers=_COMMON_HEADERS | headers)


@router.get("/", response_class=HTMLResponse)
async def index_page() -> HTMLResponse:
    """Links to the three pages."""
    return render("index.html", _STAFF_HEADERS)


@router.get("/widget", response_class=HTMLResponse)
async def widget_page(embed: bool = False) -> HTMLResponse:
    """The chat widget; `?embed=1` is the bare widget that `widget.js` puts in an iframe."""
    return render("widget.html", _WIDGET_HEADERS, embed=embed)


@router.get("/console", response_class=HTMLResponse)
async def console_page() -> HTMLResponse:
    """The reviewer console (needs a reviewer or admin key)."""
    return render("console.html", _STAFF_HEADERS)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    """The supervisor dashboard (needs a reviewer or admin key)."""
    return render("dashboard.html", _STAFF_HEADERS, charts=DASHBOARD_CHARTS)


def install_pages(app: FastAPI) -> None:
    """Serve the pages and their static files from `app`."""
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
