"""CRM errors, each kind with what the pipeline does about it."""

from integrations.errors import AuthFailed, PermanentIntegrationError, RateLimited, TransientIntegrationError


class CrmError(PermanentIntegrationError):
    """The CRM refused the request for a reason retrying will not fix (bad parameters, entity not found)."""


class CrmAuthError(AuthFailed, CrmError):
    """401/403: wrong webhook, missing scope or rights, REST not on the plan. Stops the connection until a person
    fixes it; the message says what to do."""


class CrmRateLimited(RateLimited):
    """503 QUERY_LIMIT_EXCEEDED or 429 OPERATION_TIME_LIMIT: wait ``retry_after`` seconds and retry."""


class CrmUnavailable(TransientIntegrationError):
    """5xx, a timeout or an answer that is not the CRM's JSON: retry later; nothing is lost."""
