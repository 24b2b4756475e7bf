"""CRM errors, each kind with what the pipeline does about it."""

from typing import Self

from integrations.errors import AuthFailed, PermanentIntegrationError, RateLimited, TransientIntegrationError

# What a person must fix when the portal refuses us: the webhook's code, its crm scope, its user's rights, the
# portal's plan (REST is only on paid plans), or https.
AUTH_REASONS = ("webhook", "scope", "rights", "plan", "https")


class CrmError(PermanentIntegrationError):
    """The CRM refused the request for a reason retrying will not fix (bad parameters, entity not found)."""


class CrmAuthError(AuthFailed, CrmError):
    """401/403: wrong webhook, missing scope or rights, REST not on the plan. Stops the connection until a person
    fixes it; the message says what to do and ``reason`` (one of AUTH_REASONS) which of those it is."""

    def __init__(self, message: str, *, reason: str = "webhook") -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[Self], tuple[str], dict[str, str]]:
        # Celery pickles exceptions; the default reduce would drop the keyword-only reason.
        return type(self), (str(self),), {"reason": self.reason}


class CrmConfigError(CrmError):
    """The stored connection cannot be used as it is: a webhook URL of the wrong form, or a host we may not call."""


class CrmRateLimited(RateLimited):
    """503 QUERY_LIMIT_EXCEEDED or 429 OPERATION_TIME_LIMIT: wait ``retry_after`` seconds and retry."""


class CrmUnavailable(TransientIntegrationError):
    """5xx, a timeout or an answer that is not the CRM's JSON: retry later; nothing is lost."""
