"""Screenshots of the dashboard's overview, operators and items pages with a month of demo calls (issue 15). They go
to var/browser/ on every run; `DIALIX_DOCS_SCREENSHOTS=1 pytest tests/browser/test_dashboard_screenshots.py` writes
the ones committed under docs/ (shown in the README)."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analytics.tests.dashboard_factories import seed_dashboard
from tests.browser.conftest import ROOT, SCREENSHOTS
from tests.browser.helpers import login

pytestmark = pytest.mark.browser

PAGES = [
    ("dashboard-overview", "/dashboard/?period=30d"),
    ("dashboard-operators", "/dashboard/operators/?period=30d"),
    ("dashboard-items", "/dashboard/items/?period=30d"),
]


def test_dashboard_screenshots(page, live_server, analyst):
    seed_dashboard(analyst.company, days=60, per_day=14, seed=2026)  # 30 days shown, 30 before
    folder = ROOT / "docs" if os.environ.get("DIALIX_DOCS_SCREENSHOTS") == "1" else SCREENSHOTS
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, analyst)
    for name, path in PAGES:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator('[data-dash][data-dash-ready="true"]')).to_have_count(1)
        shot = Path(folder) / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000  # a page with drawn charts, not a blank one
