"""The call review page as a supervisor and an analyst use it: the header, the player and its keys, the transcript
following the audio, seeking by turn and by evidence, find-in-transcript, a correction in place (the page stays),
swapping speakers, an unreliable transcript left unscored, and the analyst's read-only view."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from calls.models import Call, CallEvent, CallStatus, Transcript, Utterance
from calls.services.analysis import calls_reanalyse
from checklists.models import Answer, ItemResult
from tests.browser.helpers import expect_message, login, wait_until

pytestmark = pytest.mark.browser


def _open(page, live_server, call: Call) -> None:
    page.goto(f"{live_server.url}{reverse('admin:calls_call_change', args=[call.pk])}")
    wait_until(page, "document.getElementById('dlx-audio').readyState >= 1")


def _now(page) -> float:
    return page.evaluate("document.getElementById('dlx-audio').currentTime")


def _wait_near(page, seconds: float, tolerance: float = 1.0) -> None:
    wait_until(page, f"Math.abs(document.getElementById('dlx-audio').currentTime - {seconds}) < {tolerance}")


def test_supervisor_reviews_a_scored_call_end_to_end(page, live_server, supervisor, scored_call):
    wrong = (
        ItemResult.objects.filter(call=scored_call, answer=Answer.NOT_MET, version_item__is_critical=False)
        .select_related("scorecard", "version_item")
        .first()
    )
    evidence = ItemResult.objects.filter(call=scored_call, evidence_ms__isnull=False).exclude(evidence_quote="").first()
    assert wrong is not None and evidence is not None, "pick a fixture call with a missed item and a quote"
    rows = list(ItemResult.objects.filter(scorecard=wrong.scorecard).select_related("version_item"))
    met = sum(r.version_item.weight for r in rows if r.answer == Answer.MET or r.pk == wrong.pk)
    applicable = sum(r.version_item.weight for r in rows if r.answer in (Answer.MET, Answer.NOT_MET))
    after = round(met / applicable * 100)

    login(page, live_server, supervisor)
    _open(page, live_server, scored_call)

    # The header: who, when in the company's zone (named), how long, and the score with its badges.
    header = page.locator("#dlx-head")
    expect(header).to_contain_text(scored_call.operator.name)
    expect(header).to_contain_text(scored_call.customer_phone)
    expect(page.get_by_test_id("started")).to_contain_text("(Asia/Tashkent)")
    minutes, seconds = divmod(scored_call.duration_seconds, 60)
    expect(page.get_by_test_id("duration")).to_have_text(f"{minutes}:{seconds:02d}")
    expect(page.get_by_test_id("score")).to_have_text(str(round(scored_call.score)))
    expect(page.get_by_test_id("state")).to_contain_text("Done")

    # Play, pause, speed, the position in m:ss.
    page.get_by_role("button", name="Play", exact=True).click()
    wait_until(page, "document.getElementById('dlx-audio').currentTime > 1.2")
    expect(page.get_by_test_id("position")).not_to_have_text("0:00")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    page.get_by_label("Speed").select_option(label="1.5×")
    assert page.evaluate("document.getElementById('dlx-audio').playbackRate") == 1.5

    # Keys: → and ← move 5 s, space plays and pauses (focus on the page, not in a field).
    page.get_by_role("heading", name="Transcript").click()
    start = _now(page)
    page.keyboard.press("ArrowRight")
    _wait_near(page, start + 5, 0.3)
    page.keyboard.press("ArrowLeft")
    _wait_near(page, start, 0.3)
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()

    # A click on a late turn plays from it; the turn is marked and scrolled into view.
    turns = page.locator("#dlx-turns .dlx-turn")
    last = turns.last
    last.click()
    _wait_near(page, float(last.get_attribute("data-start")))
    expect(last).to_have_class(re.compile(r"\bplaying\b"))
    expect(last).to_be_in_viewport()
    page.get_by_role("button", name="Pause", exact=True).click()

    # A click on an evidence quote plays from the moment it was said (the audio is elsewhere, at the last turn).
    assert abs(_now(page) - evidence.evidence_ms / 1000) > 2
    page.locator(f"#item-{evidence.pk} .dlx-seek").click()
    _wait_near(page, evidence.evidence_ms / 1000)
    page.get_by_role("button", name="Pause", exact=True).click()

    # Find in the transcript.
    word = Utterance.objects.filter(call=scored_call, speaker="customer").first().text.split()[0].strip(".,!?")
    matching = [u for u in Utterance.objects.filter(call=scored_call) if word.lower() in u.text.lower()]
    page.get_by_label("Find in transcript").fill(word)
    expect(page.get_by_test_id("find-count")).to_have_text(f"{len(matching)} turn{'s' if len(matching) != 1 else ''}")
    expect(page.locator("#dlx-turns .dlx-turn.match")).to_have_count(len(matching))

    # Correct in place: no answer preselected, a reason, save; the score changes and the page stays.
    page.evaluate("window.dlxSamePage = true")
    row = page.locator(f"#item-{wrong.pk}")
    row.get_by_role("button", name="Correct").click()
    expect(page.get_by_label("New answer")).to_have_value("")
    page.get_by_label("New answer").select_option(label="Met")
    page.get_by_label("Reason").fill("She named the shop; the recording cuts the first word")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id(f"score-{wrong.scorecard_id}")).to_have_text(str(after))
    expect(page.get_by_test_id(f"answer-{wrong.pk}")).to_contain_text("She named the shop")
    expect(page.get_by_role("status")).to_contain_text("Saved: Met")
    assert page.evaluate("window.dlxSamePage === true")  # no reload: the audio and the place are kept
    assert ItemResult.objects.get(pk=wrong.pk).answer == Answer.MET
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # machine results are never deleted here


def test_supervisor_swaps_speakers_and_the_history_says_so(page, live_server, supervisor, scored_call):
    first = Utterance.objects.filter(call=scored_call).order_by("start_ms", "id").first()
    login(page, live_server, supervisor)
    _open(page, live_server, scored_call)
    first_turn = page.locator("#dlx-turns .dlx-turn").first
    expect(first_turn.locator(".who")).to_have_text(first.get_speaker_display())

    page.get_by_role("button", name="Swap operator and customer").click()
    expect_message(page, "Operator and customer swapped")
    other = "Customer" if first.speaker == "operator" else "Operator"
    expect(page.locator("#dlx-turns .dlx-turn").first.locator(".who")).to_have_text(other)
    page.get_by_text("History", exact=True).click()
    expect(page.locator("#dlx-history")).to_contain_text(f"speakers swapped by {supervisor.user.username}")
    assert Call.objects.get(pk=scored_call.pk).status == CallStatus.DONE  # analysed again (tasks run in process)

    page.get_by_role("button", name="Swap operator and customer").click()  # a second click swaps back
    expect(page.locator("#dlx-turns .dlx-turn").first.locator(".who")).to_have_text(first.get_speaker_display())
    assert CallEvent.objects.filter(call=scored_call, reason__startswith="speakers swapped").count() == 2


def test_an_unreliable_transcript_shows_not_scored_and_the_fix(page, live_server, owner, scored_call):
    Transcript.objects.filter(call=scored_call).update(low_confidence=True)  # e.g. Uzbek read by the offline engine
    calls_reanalyse(calls=Call.objects.filter(pk=scored_call.pk))  # runs at once: tasks are eager in the suite
    assert Call.objects.get(pk=scored_call.pk).score is None

    login(page, live_server, owner)
    _open(page, live_server, scored_call)
    expect(page.get_by_test_id("score")).to_have_text("not scored")
    notice = page.get_by_test_id("not-scored")
    expect(notice).to_contain_text("Not scored — transcript unreliable.")
    expect(notice).to_contain_text("route Uzbek to UzbekVoice or OpenAI")
    notice.get_by_role("link", name="Engine settings").click()
    expect(page).to_have_url(re.compile(r"/admin/integrations/enginesettings/"))


def test_analyst_reads_the_review_page_and_cannot_correct(page, live_server, watch, analyst, scored_call):
    result = ItemResult.objects.filter(call=scored_call).first()
    login(page, live_server, analyst)
    _open(page, live_server, scored_call)
    expect(page.get_by_test_id("score")).to_have_text(str(round(scored_call.score)))
    expect(page.locator("#dlx-turns .dlx-turn").first).to_be_visible()
    expect(page.get_by_role("button", name="Correct")).to_have_count(0)
    expect(page.get_by_role("button", name="Swap operator and customer")).to_have_count(0)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)  # no raw fields to save either

    # The POST a supervisor's Save sends, crafted with the analyst's session.
    watch.expect_status(403, "/correct/")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    url = f"{live_server.url}{reverse('admin:calls_call_correct_item', args=[scored_call.pk, result.pk])}"
    response = page.request.post(
        url,
        form={"csrfmiddlewaretoken": csrf, "answer": "na", "reason": "crafted"},
        headers={"Referer": url, "Accept": "application/json"},
    )
    assert response.status == 403
    assert ItemResult.objects.get(pk=result.pk).answer == result.answer
