"""Typed failures that leave ``integrations/``; callers retry transient ones and record permanent ones.

Messages are shown to supervisors in the admin (``str(exc)``): they say what went wrong in plain words and never carry
credentials, download tokens or full phone numbers.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Self

_unpickling: ContextVar[bool] = ContextVar("integration_error_unpickling", default=False)


def _unpickle(factory: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    token = _unpickling.set(True)
    try:
        return factory(*args)
    finally:
        _unpickling.reset(token)


class IntegrationError(Exception):
    """Base of every failure an external system causes."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        # Each client maps a vendor's failure to one of these in one place, so making one is the moment to count it
        # (dialix_vendor_errors_total{system, kind}); a copy Celery makes by pickling is not a second failure.
        if not _unpickling.get():
            from dialix.metrics import vendor_error_count

            vendor_error_count(self, retryable=isinstance(self, TransientIntegrationError))

    def __reduce_ex__(self, protocol: int) -> tuple[Any, ...]:
        factory, args, *rest = self.__reduce__()  # a subclass's own __reduce__ still decides what is kept
        return (_unpickle, (factory, args), *rest)


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
