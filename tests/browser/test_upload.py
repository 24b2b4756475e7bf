"""A supervisor uploads several recordings at once; a broken file is reported by name and drops no other file."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from calls.models import Call
from tests.browser.helpers import login

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "calls"


def test_supervisor_uploads_three_files_and_the_broken_one_is_reported_by_name(page, live_server, supervisor):
    good = [FIXTURES / "en-03-callback.stereo8k.mp3", FIXTURES / "ru-03-callback.stereo8k.mp3"]
    broken = {"name": "broken.mp3", "mimeType": "audio/mpeg", "buffer": os.urandom(48)}

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Console").click()
    page.get_by_role("rowheader").get_by_role("link", name="Calls", exact=True).click()
    page.get_by_role("link", name="Upload recordings").click()
    files = [{"name": p.name, "mimeType": "audio/mpeg", "buffer": p.read_bytes()} for p in good]
    page.get_by_label("Audio").set_input_files([files[0], broken, files[1]])  # the broken one in the middle
    page.get_by_label("Direction").select_option(label="Inbound")
    page.get_by_role("button", name="Upload").click()

    rows = page.get_by_role("row")
    expect(rows.filter(has_text="broken.mp3")).to_contain_text("Not stored")
    for path in good:
        expect(rows.filter(has_text=path.name)).to_contain_text("Stored as")

    page.get_by_role("link", name="All calls").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    assert Call.objects.for_company(supervisor.company).filter(recording__gt="").count() == 2
