"""A supervisor reviews a scored call: listens, jumps to a turn, corrects an item in place, re-analyses."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call, CallStatus
from checklists.models import Answer, ItemResult
from tests.browser.helpers import expect_message, login, open_console_list, run_action, wait_until

pytestmark = pytest.mark.browser


def _open_call(page, live_server, call: Call) -> None:
    open_console_list(page, live_server, "Calls")
    page.locator("#result_list tbody tr").first.locator("th a").click()  # the call's first column opens it
    expect(page).to_have_url(f"{live_server.url}/admin/calls/call/{call.pk}/change/")


def _scorecard_heading(page, checklist_name: str):
    return page.locator("h3", has_text=checklist_name)


def _answer_cell(page, checklist_name: str, criterion: str):
    table = _scorecard_heading(page, checklist_name).locator("xpath=following-sibling::table[1]")
    return table.get_by_role("row").filter(has_text=criterion).locator("td").nth(1)


def test_supervisor_listens_corrects_an_item_and_reanalysis_keeps_the_correction(
    page, live_server, watch, supervisor, scored_call
):
    wrong = (
        ItemResult.objects.filter(call=scored_call, answer=Answer.NOT_MET, version_item__is_critical=False)
        .select_related("scorecard__version__checklist", "version_item")
        .first()
    )
    assert wrong is not None, f"{scored_call} misses no non-critical item: pick a fixture call that does"
    checklist = wrong.scorecard.version.checklist.name
    rows = list(ItemResult.objects.filter(scorecard=wrong.scorecard).select_related("version_item"))
    met = sum(r.version_item.weight for r in rows if r.answer == Answer.MET or r.pk == wrong.pk)
    applicable = sum(r.version_item.weight for r in rows if r.answer in (Answer.MET, Answer.NOT_MET))
    before, after = round(wrong.scorecard.score), round(met / applicable * 100)
    assert after > before

    login(page, live_server, supervisor)
    _open_call(page, live_server, scored_call)
    expect(_scorecard_heading(page, checklist)).to_contain_text(f"score {before}")

    # The player loads the recording and can seek in it: the server answers byte ranges (206).
    audio = page.locator("audio#dlx-audio")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()  # the page's own player
    wait_until(page, "document.getElementById('dlx-audio').readyState >= 1")
    duration = audio.evaluate("a => a.duration")
    assert duration == pytest.approx(scored_call.recording_duration_seconds, abs=1.0)
    with page.expect_response(lambda r: "/recording/" in r.url and r.status == 206):
        audio.evaluate("a => { a.currentTime = a.duration - 2; }")
    assert 206 in watch.statuses(f"/calls/{scored_call.pk}/recording/")

    # Clicking a turn plays from that turn.
    turns = page.locator("#dlx-turns .dlx-turn")
    turn = turns.nth(3)
    start = float(turn.get_attribute("data-start"))
    turn.click()
    wait_until(page, f"Math.abs(document.getElementById('dlx-audio').currentTime - {start}) < 1.5")
    expect(turn).to_have_class(re.compile(r"\bplaying\b"))
    audio.evaluate("a => a.pause()")

    # The supervisor corrects the item the rules got wrong, in place, with a reason; the score is recomputed.
    row = page.locator(f"#item-{wrong.pk}")
    expect(row).to_contain_text("Not met")
    row.get_by_role("button", name="Correct").click()
    page.get_by_label("New answer").select_option(label="Met")
    page.get_by_label("Reason").fill("She named the shop; the recording cuts the first word")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(_scorecard_heading(page, checklist)).to_contain_text(f"score {after}")
    _open_call(page, live_server, scored_call)
    expect(_scorecard_heading(page, checklist)).to_contain_text(f"score {after}")
    answer = _answer_cell(page, checklist, wrong.version_item.criterion)
    expect(answer).to_have_text(re.compile(r"^\s*Met"))
    expect(answer).to_contain_text("She named the shop")

    # Re-analysis (the console's action on the calls list) keeps the supervisor's answer and the score.
    page.goto(f"{live_server.url}/admin/calls/call/")
    run_action(page, "Re-analyse (keeps the transcript)")
    expect_message(page, "1 call(s) queued for analysis")
    assert Call.objects.get(pk=scored_call.pk).status == CallStatus.DONE  # tasks run in process in the suite
    _open_call(page, live_server, scored_call)
    expect(_scorecard_heading(page, checklist)).to_contain_text(f"score {after}")
    answer = _answer_cell(page, checklist, wrong.version_item.criterion)
    expect(answer).to_have_text(re.compile(r"^\s*Met"))
    expect(answer).to_contain_text("She named the shop")
    assert ItemResult.objects.get(scorecard__call=scored_call, version_item=wrong.version_item).answer == Answer.MET
