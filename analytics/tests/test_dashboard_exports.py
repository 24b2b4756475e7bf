"""The dashboard's exports (issue 15): a table's CSV and XLSX rows are the page's figures, cells that a spreadsheet
would run as formulas are escaped, the calls behind a view export as a background job with progress and a download,
a job and its file are only its company's, and expired files are deleted."""

import csv
import datetime as dt
import io
import re

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from openpyxl import load_workbook

from analytics.exports import escape_cell, exports_expired_delete
from analytics.models import ExportJob, ExportStatus
from analytics.selectors import filters_from_params, item_compliance, operator_leaderboard
from analytics.tests.dashboard_factories import seed_dashboard
from companies.models import Role
from operators.models import Operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(company):
    return seed_dashboard(company, days=10, per_day=5)


@pytest.fixture
def analyst_client(client, company, make_member):
    client.force_login(make_member(company, Role.ANALYST).user)
    return client


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads the BOM as UTF-8
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def _xlsx(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _num(text: str) -> float | None:
    return None if text in ("", "—") else float(text)


def test_operators_csv_rows_are_the_leaderboard_the_page_shows(analyst_client, company, seeded):
    page = analyst_client.get("/dashboard/operators/?period=30d&sort=-mean_score").content.decode()
    link = re.search(r'href="([^"]+)" data-dash-plain data-testid="export-operators-csv"', page).group(1)
    response = analyst_client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="dialix-alpha-operators-' in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header[:3] == ["Operator", "Calls", "Answered"]
    board = operator_leaderboard(
        company=company, filters=filters_from_params(company=company, params={"period": "30d"}), sort="-mean_score"
    )["rows"]
    assert [r[0] for r in rows] == [b["operator_name"] for b in board]  # the page's order
    for row, figures in zip(rows, board, strict=True):
        assert int(row[1]) == figures["calls"]
        assert _num(row[4]) == figures["mean_score"]
        rate = figures["auto_fail_rate"]
        assert _num(row[5]) == (None if rate is None else round(rate * 100, 1))
    # ... and the page's cells say the same numbers.
    page_calls = [int(n) for n in re.findall(r'data-testid="operator-calls">(\d+)</a>', page)]
    assert page_calls == [int(r[1]) for r in rows]


def test_items_xlsx_rows_are_the_compliance_the_page_shows(analyst_client, company, seeded):
    response = analyst_client.get("/dashboard/export/?period=30d&table=items&file=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    header, *rows = _xlsx(response.content)
    assert header[5:8] == ["Met", "Not met", "N/A"]
    items = item_compliance(company=company, filters=filters_from_params(company=company, params={"period": "30d"}))
    assert len(rows) == len(items["items"]) > 3
    for row, item in zip(rows, items["items"], strict=True):
        assert row[3] == item["criterion"]
        assert row[5:9] == [item["met"], item["not_met"], item["na"], item["needs_review"]]
        assert row[9] == (None if item["compliance"] is None else round(item["compliance"] * 100, 1))
    page = analyst_client.get("/dashboard/items/?period=30d").content.decode()
    not_met_on_page = [int(n) for n in re.findall(r'data-testid="item-not-met">(\d+)</a>', page)]
    assert not_met_on_page == [row[6] for row in rows]


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_formula_like_text_is_escaped(value):
    assert escape_cell(value) == "'" + value
    assert escape_cell(-5) == -5  # a negative number stays a number
    assert escape_cell("Anna") == "Anna"


def test_an_operator_named_like_a_formula_is_exported_as_text(analyst_client, company, seeded):
    Operator.objects.filter(pk=seeded.operators[0].pk).update(name='=HYPERLINK("http://evil","x")')
    header, *rows = _csv(analyst_client.get("/dashboard/export/?period=30d&table=operators&file=csv"))
    assert '\'=HYPERLINK("http://evil","x")' in [r[0] for r in rows]
    response = analyst_client.get("/dashboard/export/?period=30d&table=operators&file=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    evil = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert evil.data_type == "s" and evil.value.startswith("'=")


def test_calls_export_runs_as_a_job_with_progress_and_a_download(
    analyst_client, company, seeded, django_capture_on_commit_callbacks
):
    page = analyst_client.get("/dashboard/?period=30d").content.decode()
    assert 'data-testid="export-calls-xlsx"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post("/dashboard/exports/", {"table": "calls", "file": "csv", "period": "30d"})
    assert response.status_code == 202
    queued = response.json()
    assert queued["status"] == "queued" and queued["download_url"] is None  # the test's transaction holds the task
    job = analyst_client.get(queued["status_url"]).json()  # what the page's progress bar polls
    assert job["status"] == "done" and job["progress"] == 1.0
    assert job["rows_total"] == job["rows_done"] == seeded.calls
    download = analyst_client.get(job["download_url"])
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8").lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header[0] == "Call id"
    assert len(rows) == seeded.calls  # the KPI tile's count
    stored = ExportJob.objects.get(pk=job["id"])
    assert stored.file.name.startswith(f"exports/{company.pk}/")
    assert stored.expires_at > timezone.now() + dt.timedelta(hours=23)


def test_a_job_and_its_file_are_only_its_companys(
    analyst_client, client, company, other_company, make_member, seeded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = analyst_client.post("/dashboard/exports/", {"table": "calls", "file": "xlsx", "period": "7d"}).json()
    job = analyst_client.get(queued["status_url"]).json()
    assert analyst_client.get(job["download_url"]).status_code == 200
    client.force_login(make_member(other_company, Role.ANALYST).user)
    assert client.get(job["status_url"]).status_code == 404
    assert client.get(job["download_url"]).status_code == 404


def test_an_expired_export_is_gone(analyst_client, company, seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queued = analyst_client.post("/dashboard/exports/", {"table": "calls", "file": "csv", "period": "7d"}).json()
    job = analyst_client.get(queued["status_url"]).json()
    stored = ExportJob.objects.get(pk=job["id"])
    name = stored.file.name
    assert default_storage.exists(name)
    ExportJob.objects.filter(pk=stored.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = analyst_client.get(job["download_url"])
    assert response.status_code == 410
    assert "export the table again" in response.content.decode()
    assert not default_storage.exists(name)
    assert not ExportJob.objects.filter(pk=stored.pk).exists()


def test_beat_task_deletes_expired_files(company, seeded, django_capture_on_commit_callbacks):
    from analytics.exports import export_job_create

    filters = filters_from_params(company=company, params={"period": "7d"})
    with django_capture_on_commit_callbacks(execute=True):
        old = export_job_create(company=company, user=None, table="calls", fmt="csv", filters=filters)
        fresh = export_job_create(company=company, user=None, table="calls", fmt="csv", filters=filters)
    old.refresh_from_db()
    assert old.status == ExportStatus.DONE
    name = old.file.name
    ExportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert exports_expired_delete() == 1
    assert not default_storage.exists(name)
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_unknown_export_is_refused(analyst_client, seeded):
    assert analyst_client.get("/dashboard/export/?table=calls&file=csv").status_code == 404  # a job, not inline
    assert analyst_client.get("/dashboard/export/?table=nope&file=csv").status_code == 404
    assert analyst_client.post("/dashboard/exports/", {"table": "calls", "file": "pdf"}).status_code == 400


def test_a_number_the_analyser_wrote_into_a_purpose_is_redacted_in_exports(analyst_client, company, seeded):
    from analytics.services import rollups_refresh
    from checklists.models import CallAnalysis

    card = "8600 1234 5678 9012"  # Luhn-valid
    CallAnalysis.objects.filter(company=company).update(purpose=f"pay with card {card}")
    rollups_refresh(company_id=company.pk)

    header, *rows = _csv(analyst_client.get("/dashboard/export/?period=30d&table=topics&file=csv"))

    purposes = [row[1] for row in rows if "card" in row[1]]
    assert purposes and all("[CARD]" in value and card not in value for value in purposes)
