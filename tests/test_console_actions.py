"""Console actions follow the same role rules as the API: analysts are read-only, so no action that writes is offered
to them, and a crafted POST of one changes nothing."""

import pytest
from django.contrib import admin

from calls.models import Call, CallStatus
from calls.tests.factories import CallFactory
from companies.models import Role

pytestmark = pytest.mark.django_db

OUR_APPS = {"companies", "operators", "calls", "checklists", "integrations", "analytics"}


def test_every_console_action_declares_the_permission_it_needs():
    """A new action without `permissions=[...]` would be offered to read-only analysts: this fails until it has one."""
    missing = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue  # third-party admins (Celery Beat's periodic tasks) are for staff only: no role is granted them
        for action in model_admin.actions or ():
            func = getattr(model_admin, action) if isinstance(action, str) else action
            if not getattr(func, "allowed_permissions", None):
                missing.append(f"{model._meta.label}.{getattr(func, '__name__', action)}")
    assert missing == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/admin/calls/call/", 200),  # analysts view calls and PBX accounts ...
        ("/admin/integrations/pbxaccount/", 200),
        ("/admin/companies/apitoken/", 403),  # ... and never see API tokens (companies/roles.py)
    ],
)
def test_analyst_sees_no_action_that_writes(client, company, make_member, url, status):
    client.force_login(make_member(company, Role.ANALYST).user)
    CallFactory(company=company)
    page = client.get(url)
    assert page.status_code == status
    assert 'name="action"' not in page.content.decode()


def test_analyst_crafted_post_of_an_action_is_refused(client, company, make_member):
    client.force_login(make_member(company, Role.ANALYST).user)
    call = CallFactory(company=company, status=CallStatus.FAILED, failure_code="recording_missing")
    response = client.post(
        "/admin/calls/call/", {"action": "refetch_recording", "_selected_action": [call.pk], "index": "0"}, follow=True
    )
    assert "queued" not in response.content.decode()
    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_missing")  # nothing was re-queued


def test_supervisor_still_runs_actions(supervisor_client, company):
    call = CallFactory(company=company, status=CallStatus.FAILED, failure_code="recording_missing")
    response = supervisor_client.post(
        "/admin/calls/call/", {"action": "refetch_recording", "_selected_action": [call.pk], "index": "0"}, follow=True
    )
    assert "1 call(s) queued to fetch their recording again" in response.content.decode()
    assert Call.objects.get(pk=call.pk).status == CallStatus.NEW  # back in the queue (no PBX account: it waits)
