"""A supervisor connects the company's PBX in the console, tests it, syncs it and sees the run."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

import calls.services.sync as sync
from calls.models import Call
from integrations.models import PbxAccount, SyncRun, SyncStatus
from tests.browser.helpers import expect_message, login, open_console_list, run_action

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "calls"


def test_supervisor_adds_a_pbx_account_tests_it_syncs_and_sees_the_run(
    page, live_server, settings, pbx_fake, supervisor
):
    settings.DIALIX_ONLINEPBX_BASE_URL = pbx_fake.base_url  # the server's PBX host; companies never choose it
    for name in ("en-01-sale", "ru-01-sale"):
        pbx_fake.add_call(direction="inbound", recording=(FIXTURES / f"{name}.stereo8k.mp3").read_bytes())

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Console").click()
    page.get_by_role("rowheader").get_by_role("link", name="PBX accounts", exact=True).click()
    page.get_by_role("link", name="Add PBX account").click()
    page.get_by_label("Domain").fill(pbx_fake.domain)
    page.get_by_label("Api key").fill(pbx_fake.auth_key)
    page.get_by_role("button", name="Save", exact=True).click()
    expect_message(page, "was added successfully")

    run_action(page, "Test connection", rows=pbx_fake.domain)
    expect_message(page, f"{pbx_fake.domain}: connected, 5 PBX users visible.")

    run_action(page, "Sync now", rows=pbx_fake.domain)
    expect_message(page, "Sync queued for 1 PBX account(s)")

    open_console_list(page, live_server, "Sync runs")
    run = page.locator("#result_list tbody tr").first
    expect(run).to_contain_text("Manual")
    expect(run).to_contain_text("Succeeded")
    assert SyncRun.objects.get(company=supervisor.company).status == SyncStatus.SUCCEEDED
    expect(run.locator("td.field-created")).to_have_text("2")

    open_console_list(page, live_server, "Calls")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    assert Call.objects.for_company(supervisor.company).exclude(recording="").count() == 2


def test_supervisor_reads_the_history_from_a_day_and_sees_the_run_with_its_progress(
    page, live_server, pbx_fake, pbx_account, supervisor, monkeypatch
):
    monkeypatch.setattr(sync, "BACKFILL_PAUSE_SECONDS", 0.0)  # the live server runs in this process
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False)
    pbx_fake.add_call(started_at=timezone.now() - dt.timedelta(days=9))
    day = (timezone.localtime(timezone.now()) - dt.timedelta(days=10)).date()

    login(page, live_server, supervisor)
    open_console_list(page, live_server, "PBX accounts")
    expect(page.locator("#result_list tbody tr").filter(has_text=pbx_fake.domain)).to_be_visible()
    run_action(page, "Read history from…", rows=pbx_fake.domain)
    expect(page.get_by_role("heading", name="Read history from…")).to_be_visible()
    page.get_by_label("Read calls from").fill(day.isoformat())
    page.get_by_role("button", name="Read history").click()
    expect_message(page, "in 2 window(s) of 7 days")

    open_console_list(page, live_server, "Sync runs")
    run = page.locator("#result_list tbody tr").filter(has_text="History (backfill)").first
    expect(run).to_contain_text("Succeeded")
    expect(run.locator("td.field-progress")).to_contain_text("2 of 2 windows, 1 calls read")
    assert SyncRun.objects.get(company=supervisor.company, kind="backfill").created == 1
