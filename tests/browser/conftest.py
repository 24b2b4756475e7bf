"""Browser tests: Playwright driving Debian's Chromium against Django's live server on PostgreSQL (STYLE.md §15).

One browser per session, a fresh context (cookies, storage) per test. The live server runs with DEBUG off and logs
at INFO through the production JSON formatter, so a log call that breaks at the production level breaks the page.
Every test is watched (JavaScript errors, console errors, unexpected 4xx/5xx fail it) and leaves a full-page
screenshot under var/browser/<test name>.png when it fails.
"""

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from pythonjsonlogger.json import JsonFormatter

from calls.models import Call
from calls.services.analysis import call_analyse
from calls.services.recordings import recording_check
from calls.tests.factories import transcribed_call_from_fixture
from checklists.demo import demo_checklists
from companies.models import Company, Membership, Role
from tests.browser.helpers import ACTION_TIMEOUT_MS, Watch

# Playwright's sync API keeps an asyncio loop running in the main thread; Django refuses ORM calls while a loop runs
# unless told the code is synchronous (it is: fixtures and assertions between browser steps). Set for the session,
# because the loop lives as long as the session's browser.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "browser"
CALL_FIXTURES = ROOT / "fixtures" / "calls"
SCORED_CALL = "en-02-complaint"  # the operator misses most items: there is something to correct
CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/ensure-browser.sh); Playwright's own download is unreachable


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, screenshots its pages right away, while every page (a second person's too) is
    still open."""
    report = yield
    watcher = item.funcargs.get("watch") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and isinstance(watcher, Watch):
        watcher.screenshot(SCREENSHOTS, _screenshot_name(item), timeout_ms=ACTION_TIMEOUT_MS)
        item.browser_screenshot_taken = True
    return report


def _screenshot_name(item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", item.name).strip("-")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(autouse=True)
def production_logging() -> Iterator[None]:
    """The live server logs at INFO through the `json` formatter of dialix/settings/base.py, as in production."""
    root = logging.getLogger()
    assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers), (
        "the root logger must use the production `json` formatter (settings.LOGGING)"
    )
    assert settings.LOGGING["formatters"]["json"]["()"] == "pythonjsonlogger.json.JsonFormatter"
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.setLevel(level)


@pytest.fixture(autouse=True)
def watch(request, page, live_server) -> Iterator[Watch]:
    """Fails the test on a JavaScript error, a console error or a 4xx/5xx the test did not declare with
    `watch.expect_status(...)`. A failing test leaves screenshots (pytest_runtest_makereport above)."""
    assert not settings.DEBUG, "browser tests run as production does: DEBUG off"
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    for stale in SCREENSHOTS.glob(f"{_screenshot_name(request.node)}*.png"):  # from an earlier run of this test
        stale.unlink()
    watcher = Watch()
    watcher.attach(page)
    yield watcher
    if watcher.problems and not getattr(request.node, "browser_screenshot_taken", False):
        watcher.screenshot(SCREENSHOTS, _screenshot_name(request.node), timeout_ms=ACTION_TIMEOUT_MS)
    if watcher.problems:
        pytest.fail("the page went wrong:\n" + "\n".join(watcher.problems), pytrace=False)


@pytest.fixture
def shop(company: Company) -> Company:
    """The company of the synthetic calls: the operators say its name, so the offline rules can find it."""
    company.name = "Dialix Market"
    company.save(update_fields=["name"])
    return company


@pytest.fixture
def owner(shop, make_member) -> Membership:
    return make_member(shop, Role.OWNER)


@pytest.fixture
def analyst(shop, make_member) -> Membership:
    return make_member(shop, Role.ANALYST)


@pytest.fixture
def supervisor(shop, make_member) -> Membership:  # the root conftest's, in the shop company
    return make_member(shop, Role.SUPERVISOR)


@pytest.fixture
def scored_call(shop) -> Call:
    """A call as the pipeline leaves it: its recording stored, its turns transcribed (the fixture's ground truth),
    scored by the offline rules against the demo checklists."""
    demo_checklists(shop)
    call = transcribed_call_from_fixture(shop, SCORED_CALL)
    with (CALL_FIXTURES / f"{SCORED_CALL}.stereo8k.mp3").open("rb") as audio:
        fields, _ = recording_check(audio, max_bytes=10**8)
        name = default_storage.save(call.recording.name, audio)
    Call.objects.filter(pk=call.pk).update(recording=name, **fields)
    return call_analyse(call_id=call.pk)
