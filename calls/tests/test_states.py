"""The call's state machine: one writer of Call.status, a history row per move, the table of allowed moves."""

import ast
from pathlib import Path

import pytest

from calls.models import Call, CallEvent, CallStatus, FailureCode
from calls.services.states import TRANSITIONS, TransitionNotAllowed, call_transition
from calls.tests.factories import CallFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "calls" / "services" / "states.py"
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}


def _mentions_call_status(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id in ("CallStatus", "S") for n in ast.walk(node))


def _status_writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in WRITES or name == "Call":
                for kw in node.keywords:
                    if kw.arg == "status" and _mentions_call_status(kw.value):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(status=...)")
                    if kw.arg == "defaults" and isinstance(kw.value, ast.Dict):
                        for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                            if isinstance(key, ast.Constant) and key.value == "status" and _mentions_call_status(value):
                                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(defaults=status)")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "status" and _mentions_call_status(node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .status = ...")
    return found


def test_no_module_but_the_state_machine_writes_call_status():
    files = [
        p
        for p in ROOT.rglob("*.py")
        if not {".venv", "var", "migrations", "tests", "bench", "scripts"} & set(p.relative_to(ROOT).parts)
        and p != WRITER
    ]
    assert len(files) > 30  # the scan really looks at the project
    assert [w for path in files for w in _status_writes(path)] == []


def test_the_scan_finds_a_status_write(tmp_path):
    sample = ROOT / "calls" / "_scan_sample.py"
    sample.write_text(
        "Call.objects.filter(pk=1).update(status=CallStatus.DONE)\ncall.status = CallStatus.FAILED\n"
        "Call.objects.filter(status=CallStatus.NEW)\n"
    )
    try:
        assert len(_status_writes(sample)) == 2  # the update and the assignment; the filter is a read
    finally:
        sample.unlink()


def test_a_transition_moves_the_call_and_records_who_and_why(company):
    call = CallFactory(company=company, status=CallStatus.TRANSCRIBING)
    moved = call_transition(
        call_id=call.pk,
        to=CallStatus.FAILED,
        expect=CallStatus.TRANSCRIBING,
        by="task:transcribe",
        code=FailureCode.STT_NO_SPEECH,
        reason="silence",
        queue_next=False,
    )
    assert moved
    call.refresh_from_db()
    assert (call.status, call.failure_code, call.failure_reason) == ("failed", "stt_no_speech", "silence")
    event = CallEvent.objects.get(call=call)
    assert (event.from_status, event.to_status, event.code, event.actor) == (
        "transcribing",
        "failed",
        "stt_no_speech",
        "task:transcribe",
    )


def test_a_transition_from_another_state_changes_nothing(company):
    call = CallFactory(company=company, status=CallStatus.DONE)
    assert not call_transition(call_id=call.pk, to=CallStatus.ANALYSING, expect=CallStatus.TRANSCRIBED, by="x")
    call.refresh_from_db()
    assert call.status == CallStatus.DONE and not CallEvent.objects.filter(call=call).exists()


def test_moves_outside_the_table_and_failures_without_a_code_are_refused(company):
    call = CallFactory(company=company, status=CallStatus.NEW)
    with pytest.raises(TransitionNotAllowed):
        call_transition(call_id=call.pk, to=CallStatus.DONE, expect=CallStatus.NEW, by="x")
    with pytest.raises(TransitionNotAllowed):
        call_transition(call_id=call.pk, to=CallStatus.FAILED, expect=CallStatus.NEW, by="x", code="oops")
    assert Call.objects.get(pk=call.pk).status == CallStatus.NEW


def test_every_state_is_in_the_table_and_every_failure_code_is_explained():
    assert set(TRANSITIONS) == set(CallStatus.values)
    assert all(label and label != code for code, label in FailureCode.choices)


def test_a_leaving_transition_clears_the_failure(company):
    call = CallFactory(company=company, status=CallStatus.FAILED, failure_code="recording_missing", failure_reason="x")
    assert call_transition(call_id=call.pk, to=CallStatus.NEW, expect=CallStatus.FAILED, by="console", queue_next=False)
    call.refresh_from_db()
    assert (call.status, call.failure_code, call.failure_reason) == ("new", "", "")


def test_the_call_page_shows_the_history(supervisor_client, company):
    call = CallFactory(company=company, status=CallStatus.NEW)
    call_transition(
        call_id=call.pk,
        to=CallStatus.FAILED,
        expect=CallStatus.NEW,
        by="task:fetch_recording",
        code=FailureCode.RECORDING_MISSING,
        reason="no file yet",
    )
    page = supervisor_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "History" in page and "no file yet" in page and "task:fetch_recording" in page


def test_each_steps_task_retries_as_often_as_its_policy_says():
    """Celery enforces the decorator's max_retries, the step gives up by its policy: they must agree, or a call would
    end with MaxRetriesExceeded instead of its failure code."""
    from calls.services.retry import ANALYSIS, RECORDING, TRANSCRIPTION
    from calls.tasks import call_analyse_task, call_fetch_recording_task, call_transcribe_task

    assert call_fetch_recording_task.max_retries == RECORDING.max_retries
    assert call_transcribe_task.max_retries == TRANSCRIPTION.max_retries
    assert call_analyse_task.max_retries == ANALYSIS.max_retries
