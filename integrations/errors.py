"""Typed failures that leave ``integrations/``; callers retry transient ones and record permanent ones.

Messages are shown to supervisors in the admin (``str(exc)``): they say what went wrong in plain words and never carry
credentials, download tokens or full phone numbers.
"""

from typing import Self


class IntegrationError(Exception):
    """Base of every failure an external system causes."""


class TransientIntegrationError(IntegrationError):
    """Worth retrying later: timeout, connection error, 5xx."""


class RateLimited(TransientIntegrationError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[Self], tuple[str], dict[str, float | None]]:
        # Celery pickles exceptions; the default reduce would drop the keyword-only retry_after.
        return type(self), (str(self),), {"retry_after": self.retry_after}


class PermanentIntegrationError(IntegrationError):
    """Retrying will not help until a person changes something (credentials, configuration, the remote data)."""


class AuthFailed(PermanentIntegrationError):
    """The external system rejected our credentials or does not know our account."""


class BadResponse(PermanentIntegrationError):
    """The external system answered something we cannot interpret."""
