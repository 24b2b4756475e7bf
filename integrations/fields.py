"""Credentials encrypted at rest with Fernet, keyed by DIALIX_FIELD_ENCRYPTION_KEYS (independent of SECRET_KEY)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models

_PREFIX = "fernet:"  # marks ciphertext, so a plaintext value written before encryption can still be recognised


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("DIALIX_FIELD_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return _PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        return stored
    try:
        return fernet().decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with DIALIX_FIELD_ENCRYPTION_KEYS: was a key removed?"
        ) from exc


class EncryptedTextField(models.TextField):
    """Stores `fernet:<token>`; Python code sees the plaintext. Rotation: put the new key first, run
    `manage.py reencrypt_credentials`, then drop the old key."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)


def _clear(**kwargs) -> None:
    if kwargs.get("setting") == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_clear)
