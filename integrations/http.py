"""The one place that builds ``requests`` sessions for external systems."""

from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds
USER_AGENT = "Dialix/0.1"
_RETRY_METHODS = frozenset({"GET", "HEAD"})
_RETRY_STATUSES = frozenset({502, 503, 504})  # gateway/overload answers; a 500 is usually our request's fault


class _IdempotentOnlyRetry(Retry):
    """urllib3 retries connection errors for every method; a POST must never be sent twice by the transport."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if method is not None and method.upper() not in _RETRY_METHODS:
            # Same outcome as requests' own default Retry(0, read=False): the error surfaces at once.
            Retry(total=0, read=False).increment(method, url, response, error, _pool, _stacktrace)
            raise AssertionError("an exhausted Retry raises")  # pragma: no cover
        return super().increment(method, url, response, error, _pool, _stacktrace)


class TimeoutSession(requests.Session):
    """A session whose requests all get a ``(connect, read)`` timeout unless the call passes its own."""

    def __init__(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        # An explicit timeout=None would mean "wait forever", which no caller of an external system wants.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def make_session(*, retries_for_get: int = 2, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> requests.Session:
    """Session with a default timeout and transport-level retries for GET/HEAD only.

    POSTs and 429s are never re-sent here: the caller (a Celery task) decides, with backoff.
    """
    retry = _IdempotentOnlyRetry(
        total=None,
        connect=retries_for_get,
        read=False,  # a read timeout already cost a full read timeout; let the task decide
        status=retries_for_get,
        other=0,
        redirect=None,
        allowed_methods=_RETRY_METHODS,
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=0.5,
        raise_on_status=False,  # hand back the last 5xx response so the client maps it to a typed error
        respect_retry_after_header=False,  # a long Retry-After would block a worker; backoff stays short
    )
    session = TimeoutSession(timeout=timeout)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
