"""What every browser test uses: a watcher that fails the test on what a person would see go wrong, and a login
through the real login form (STYLE.md §15)."""

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.shortcuts import resolve_url
from playwright.sync_api import ConsoleMessage, Error, Page, Response, expect

from companies.models import Membership

ACTION_TIMEOUT_MS = 10_000  # a step that waits longer than this is broken, not slow
PASSWORD = "pw-123456"  # the root conftest's make_member password
# Chromium logs every 4xx/5xx response also as a console error; the response itself is judged (with the test's
# allow-list), so these duplicates are left out of the console errors.
_FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of \d+")


@dataclass
class Watch:
    """Records JavaScript errors, console errors and every 4xx/5xx response the test did not declare expected."""

    problems: list[str] = field(default_factory=list)
    expected: list[tuple[int, str]] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Watches one more page (a second person's browser, say); each is screenshotted if the test fails."""
        self.pages.append(page)
        page.on("pageerror", self._on_page_error)
        page.on("console", self._on_console)
        page.on("response", self._on_response)

    def expect_status(self, status: int, url_contains: str = "") -> None:
        """Declares that a response with `status` (to a URL containing `url_contains`) is what the page should get."""
        self.expected.append((status, url_contains))

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(f"JavaScript error: {error.message}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not _FAILED_RESOURCE.match(message.text):
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _on_response(self, response: Response) -> None:
        self.responses.append(response)
        if response.status < 400:
            return
        if any(response.status == status and part in response.url for status, part in self.expected):
            return
        self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def screenshot(self, folder: Path, name: str, *, timeout_ms: float) -> None:
        """Full-page screenshots of every watched page still open: <name>.png, then <name>-2.png..."""
        folder.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(p for p in self.pages if not p.is_closed()):
            path = folder / (f"{name}.png" if index == 0 else f"{name}-{index + 1}.png")
            try:
                page.screenshot(path=str(path), full_page=True, timeout=timeout_ms)
            except Error as exc:  # a screenshot must never hide the test's own failure
                print(f"screenshot {path} failed: {exc.message}")

    def statuses(self, url_contains: str) -> list[int]:
        return [r.status for r in self.responses if url_contains in r.url]


def wait_until(page: Page, expression: str, *, timeout_ms: float = ACTION_TIMEOUT_MS) -> None:
    """Waits until a JavaScript expression is true in the page. Not page.wait_for_function: that evaluates its string
    with eval() inside the page, which our Content-Security-Policy forbids (no 'unsafe-eval'); page.evaluate goes
    through the browser's debugging protocol instead."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms / 1000:.0f} s: {expression}")
        page.wait_for_timeout(50)


def login(page: Page, live_server, membership: Membership) -> None:
    """Logs in as a person does: the login page, username, password, the button; waits to leave the form."""
    login_path = resolve_url(settings.LOGIN_URL)
    page.goto(f"{live_server.url}{login_path}")
    page.get_by_label("Username").fill(membership.user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(re.escape(login_path) + r"(\?.*)?$"))


def expect_message(page: Page, text: str | re.Pattern) -> None:
    """The console shows a message (Django admin's message list) containing `text`."""
    expect(page.locator("ul.messagelist li").filter(has_text=text).first).to_be_visible()


def run_action(page: Page, action: str, *, rows: str | re.Pattern | None = None) -> None:
    """On a console list: ticks the rows (all shown rows, or those containing `rows`), picks the action, Go."""
    table = page.locator("#result_list tbody tr")
    for row in (table.filter(has_text=rows) if rows is not None else table).all():
        row.get_by_role("checkbox", name=re.compile("Select this object")).check()
    page.get_by_role("combobox", name=re.compile(r"^Action")).select_option(label=action)
    page.get_by_role("button", name="Go").click()


def open_console_list(page: Page, live_server, name: str) -> None:
    """From the console's home page, opens the list called `name` (Calls, Checklists, PBX accounts...)."""
    page.goto(f"{live_server.url}{resolve_url('admin:index')}")
    page.get_by_role("rowheader").get_by_role("link", name=name, exact=True).click()
