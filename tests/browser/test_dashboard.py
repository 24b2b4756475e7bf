"""The analysts' dashboard in a browser (issue 15): each page renders with data and its charts are drawn (canvas
pixels, Chart instances), a filter change updates the charts and the URL without a reload, a drill-down lands on the
console list with the same count, exports download with the page's figures, and the dashboard works in Uzbek and
Russian. The watcher (conftest.py) fails a test on any JavaScript error or unexpected 4xx/5xx."""

import csv
import io
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from analytics.selectors import filters_from_params, overview_kpis
from analytics.tests.dashboard_factories import seed_dashboard
from tests.browser.helpers import login

pytestmark = pytest.mark.browser

# Every chart canvas on the page has drawn pixels (an empty canvas is all transparent).
DRAWN = """() => [...document.querySelectorAll(
    '[data-dash-chart] canvas, canvas[data-dash-sparkline], canvas[data-dash-item-trend]'
)].filter((c) => c.offsetParent !== null).map((c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
})"""

# The calls the series chart drew (its bars), read from its Chart.js instance.
SERIES_TOTAL = """() => Chart.getChart(document.querySelector('[data-dash-chart="series"] canvas'))
    .data.datasets[0].data.reduce((a, b) => a + b, 0)"""


@pytest.fixture
def dash(shop):
    return seed_dashboard(shop, days=20, per_day=8)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    _ready(page)


def _ready(page: Page) -> None:
    expect(page.locator('[data-dash][data-dash-ready="true"]')).to_have_count(1)


def _drawn(page: Page, at_least: int) -> None:
    drawn = page.evaluate(DRAWN)
    assert len(drawn) >= at_least and all(drawn), drawn


def _console_count(page: Page) -> int:
    text = page.get_by_test_id("result-count").first.inner_text()
    return int(re.search(r"\d+", text.replace("\u202f", "").replace(",", "")).group(0))


def test_overview_draws_its_charts_and_a_filter_change_updates_them_and_the_url(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/?period=30d")
    expect(page.get_by_test_id("kpi-calls-value")).to_have_text(str(dash.calls))
    _drawn(page, 3)  # series, sentiment, outcome
    assert page.evaluate("window.dashCharts.length") == 3
    series_total = page.evaluate(SERIES_TOTAL)
    assert series_total == dash.calls  # the chart (from the API) and the tile (from the page) agree
    expect(page.get_by_test_id("heatmap").locator("table td a").first).to_be_visible()

    page.evaluate("window.dashNoReload = 1")  # survives only if the page is not reloaded
    page.get_by_label("Direction").select_option("inbound")
    expect(page).to_have_url(re.compile(r"direction=inbound"))
    _ready(page)
    filters = filters_from_params(company=analyst.company, params={"period": "30d", "direction": "inbound"})
    inbound = overview_kpis(company=analyst.company, filters=filters)["current"]["calls"]
    assert 0 < inbound < dash.calls
    expect(page.get_by_test_id("kpi-calls-value")).to_have_text(str(inbound))
    assert page.evaluate("window.dashNoReload") == 1
    assert page.evaluate(SERIES_TOTAL) == inbound
    _drawn(page, 3)

    # The link reproduces the view; Back returns to the previous one.
    url = page.url
    page.go_back()
    expect(page.get_by_test_id("kpi-calls-value")).to_have_text(str(dash.calls))
    _open(page, url)
    expect(page.get_by_label("Direction")).to_have_value("inbound")
    expect(page.get_by_test_id("kpi-calls-value")).to_have_text(str(inbound))


def test_a_drill_down_lands_on_the_console_list_with_the_same_count(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/?period=30d&language=ru")
    expected = int(page.get_by_test_id("kpi-answered-value").inner_text())
    page.get_by_test_id("kpi-answered").click()
    expect(page).to_have_url(re.compile(r"/admin/calls/call/\?"))
    assert _console_count(page) == expected

    _open(page, f"{live_server.url}/dashboard/?period=30d")
    cell = page.get_by_test_id("heatmap").locator("td a").first
    missed = int(cell.inner_text())
    cell.click()
    expect(page).to_have_url(re.compile(r"weekhour="))
    assert _console_count(page) == missed


def test_operators_sparklines_sorting_and_the_operator_page(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/operators/?period=30d")
    rows = page.get_by_test_id("operator-row")
    expect(rows).to_have_count(len(dash.operators))
    _drawn(page, len(dash.operators))

    page.get_by_test_id("sort-mean_score").click()
    expect(page).to_have_url(re.compile(r"sort=-mean_score"))
    _ready(page)
    scores = [float(t.replace(",", ".")) for t in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    _drawn(page, len(dash.operators))

    first = rows.first.get_by_test_id("operator-link")
    name = first.inner_text()
    first.click()
    expect(page.get_by_test_id("operator-name")).to_have_text(name)
    _ready(page)
    _drawn(page, 1)
    expect(page.get_by_test_id("worst-items").locator("tbody tr").first).to_be_visible()


def test_items_trends_and_missed_calls_in_the_console(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/items/?period=30d")
    rows = page.get_by_test_id("item-row")
    expect(rows.first).to_be_visible()
    _drawn(page, rows.count())
    link = rows.first.get_by_test_id("item-not-met")
    missed = int(link.inner_text())
    link.click()
    expect(page).to_have_url(re.compile(r"item_result="))
    assert _console_count(page) == missed


def test_exports_download_with_the_pages_figures(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/operators/?period=30d")
    shown = [int(n) for n in page.get_by_test_id("operator-calls").all_inner_texts()]
    with page.expect_download() as info:
        page.get_by_test_id("export-operators-csv").click()
    body = open(info.value.path(), encoding="utf-8-sig").read()
    _header, *rows = list(csv.reader(io.StringIO(body)))
    assert [int(r[1]) for r in rows] == shown

    # The calls behind the overview: a background job, a progress bar, then the file.
    _open(page, f"{live_server.url}/dashboard/?period=30d")
    page.get_by_test_id("export-calls-csv").click()
    job = page.get_by_test_id("export-job")
    expect(job.locator("progress")).to_be_visible()
    download_link = page.get_by_test_id("export-job-download")
    expect(download_link).to_be_visible()
    expect(job).to_have_attribute("data-status", "done")
    with page.expect_download() as info:
        download_link.click()
    body = open(info.value.path(), encoding="utf-8-sig").read()
    _header, *rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == dash.calls == int(page.get_by_test_id("kpi-calls-value").inner_text())


def test_printable_summary(page, live_server, analyst, dash):
    login(page, live_server, analyst)
    _open(page, f"{live_server.url}/dashboard/?period=30d")
    page.get_by_role("link", name="Printable summary").click()
    expect(page.get_by_test_id("print-kpis")).to_contain_text(str(dash.calls))
    pdf = page.pdf(format="A4")  # what "Save as PDF" makes
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000


@pytest.mark.parametrize(
    ("language", "label", "words"),
    [
        ("uz", "Oʻzbekcha", ["Operatorlar", "Qoʻngʻiroqlar", "Yoʻnalish"]),
        ("ru", "Русский", ["Операторы", "Звонки", "Направление"]),
    ],
)
def test_dashboard_in_uzbek_and_russian(page, live_server, analyst, dash, language, label, words):
    login(page, live_server, analyst)
    for path in (reverse("dashboard:home"), reverse("dashboard:operators"), reverse("dashboard:items")):
        _open(page, f"{live_server.url}{path}?period=30d")
        if path == reverse("dashboard:home"):
            page.get_by_test_id("language-switcher").get_by_role("combobox").select_option(label=label)
            page.wait_for_load_state()
            _ready(page)
        expect(page.locator("html")).to_have_attribute("lang", language)
        _drawn(page, 1)
    _open(page, f"{live_server.url}/dashboard/?period=30d")
    text = page.locator("[data-dash]").inner_text()
    for word in words:
        assert word in text, word
    page.get_by_label(words[2]).select_option("outbound")  # the filter bar works in this language too
    expect(page).to_have_url(re.compile(r"direction=outbound"))
    _ready(page)
    _drawn(page, 3)
