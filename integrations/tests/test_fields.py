import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations.models import PbxAccount

pytestmark = pytest.mark.django_db


def _stored(account_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM integrations_pbxaccount WHERE id = %s", [account_id])
        return cursor.fetchone()[0]


def test_key_rotation_keeps_credentials_readable(company, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    account = PbxAccount.objects.create(company=company, domain="p.onpbx.ru", api_key="the-api-key")
    before = _stored(account.pk)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert PbxAccount.objects.get(pk=account.pk).api_key == "the-api-key"  # old ciphertext still readable
    call_command("reencrypt_credentials", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _stored(account.pk) != before
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert PbxAccount.objects.get(pk=account.pk).api_key == "the-api-key"
