"""Fixtures of the CRM tests (issue 14): crma's fake Bitrix24 (a real HTTP server on 127.0.0.1 speaking the portal's
wire format) and the company's connection to it. Imported by calls/tests/test_crm_*.py."""

from __future__ import annotations

import time

import pytest

from integrations.models import CrmConnection
from integrations.services_crm import crm_connection_save
from integrations.testing.bitrix24 import FakeBitrix24

__all__ = ["bitrix", "crm_connection"]  # the fixtures a test module star-imports


@pytest.fixture
def bitrix(settings):
    """A fake portal with a fast bucket (the real 2/s one is the bench's): the tests are about what is sent."""
    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = True
    settings.DIALIX_BITRIX_TIMEOUT_SECONDS = 1.0
    with FakeBitrix24(rate=200.0, burst=500) as fake:
        yield fake


@pytest.fixture
def crm_connection(company, bitrix) -> CrmConnection:
    return crm_connection_save(connection=CrmConnection(company=company, webhook_url=bitrix.webhook_url))


def wait_for(predicate, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the fake portal never got there")
        time.sleep(0.05)
