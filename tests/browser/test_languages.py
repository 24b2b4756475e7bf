"""The console in Uzbek and in Russian (issue 12): a supervisor switches the language in the header, the console
reads in it, and the choice follows the person to another browser. Screenshots of both are kept:
var/browser/console-uz.png and var/browser/console-ru.png."""

import pytest
from django.shortcuts import resolve_url
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import login

pytestmark = pytest.mark.browser


def _switch(page, language: str) -> None:
    page.get_by_test_id("language-switcher").get_by_role("combobox").select_option(label=language)
    page.wait_for_load_state()


def test_console_in_uzbek_and_russian_remembered_per_person(page, live_server, supervisor):
    login(page, live_server, supervisor)
    page.goto(f"{live_server.url}{resolve_url('admin:index')}")
    expect(page.locator("#site-name")).to_contain_text("Dialix console")

    # Oʻzbekcha: our labels and Django's own.
    _switch(page, "Oʻzbekcha")
    expect(page.locator("html")).to_have_attribute("lang", "uz")
    expect(page.locator("#site-name")).to_contain_text("Dialix konsoli")
    expect(page.get_by_role("heading", name="Qoʻngʻiroqlar tahlili")).to_be_visible()
    models = page.locator("#content-main").get_by_role("rowheader")
    expect(models.get_by_role("link", name="Qoʻngʻiroqlar", exact=True)).to_be_visible()
    expect(models.get_by_role("link", name="Tekshiruv navbati", exact=True)).to_be_visible()
    expect(page.locator("#user-tools")).to_contain_text("Chiqish")  # Django's own "Log out"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-uz.png"), full_page=True)

    # The calls list too.
    models.get_by_role("link", name="Qoʻngʻiroqlar", exact=True).click()
    expect(page.get_by_role("link", name="Yozuvlarni yuklash")).to_be_visible()

    # Another browser (no cookies): after logging in the console is in Uzbek, remembered on the person.
    page.context.clear_cookies()
    login(page, live_server, supervisor)
    expect(page.get_by_role("link", name="Konsol")).to_be_visible()
    page.goto(f"{live_server.url}{resolve_url('admin:index')}")
    expect(page.locator("#site-name")).to_contain_text("Dialix konsoli")

    # Русский.
    _switch(page, "Русский")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#site-name")).to_contain_text("Консоль Dialix")
    expect(page.get_by_role("heading", name="Аналитика звонков")).to_be_visible()
    models = page.locator("#content-main").get_by_role("rowheader")
    expect(models.get_by_role("link", name="Звонки", exact=True)).to_be_visible()
    expect(models.get_by_role("link", name="Очередь проверки", exact=True)).to_be_visible()
    expect(page.locator("#user-tools")).to_contain_text("Выйти")
    page.screenshot(path=str(SCREENSHOTS / "console-ru.png"), full_page=True)

    # Logged out and in again, in a fresh browser: still Russian.
    page.context.clear_cookies()
    login(page, live_server, supervisor)
    expect(page.get_by_role("link", name="Консоль")).to_be_visible()
    expect(page.get_by_role("button", name=f"Выйти ({supervisor.user.get_username()})")).to_be_visible()

    # Back to English from the dashboard's switcher.
    _switch(page, "English")
    expect(page.get_by_role("link", name="Console")).to_be_visible()
