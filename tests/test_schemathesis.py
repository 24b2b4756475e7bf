"""schemathesis over the whole OpenAPI document against the live server (issue 13): every operation gets a bounded
number of generated requests (fixed seed), made with a write token of a company that has calls, scorecards,
operators and checklists. Done when no response is a server error and every response matches the document
(status code, content type, body)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calls.tests.test_api import analysed_call
from companies.services import api_token_create
from companies.tests.factories import CompanyFactory
from operators.tests.factories import OperatorFactory

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token_with_data(transactional_db) -> str:
    company = CompanyFactory(name="Fuzz Calls", slug="fuzz")
    first = analysed_call(company)
    checklist = first.scorecards.get().version.checklist
    for _ in range(3):
        analysed_call(company, checklist=checklist)
    OperatorFactory.create_batch(2, company=company)
    return api_token_create(company=company, name="schemathesis")[1]


def test_the_api_honours_its_openapi_document(live_server, token_with_data):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    headers = {"Authorization": f"Bearer {token_with_data}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,  # a fixed seed: the same requests on every run
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
