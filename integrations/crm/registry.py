"""The CRM client for a connection, from plain values (adapters never import integrations.models; the factory in
integrations.services_crm reads a CrmConnection and calls this)."""

from __future__ import annotations

from integrations.crm.base import CrmClient
from integrations.crm.errors import CrmConfigError
from integrations.limits import LimitBackend
from integrations.wire import setting

PROVIDERS = ("bitrix24",)


def crm_client_for(
    *,
    webhook_url: str,
    rate: float,
    burst: int,
    provider: str = "bitrix24",
    timeout_seconds: float | None = None,
    wait_seconds: float | None = None,
    limits: LimitBackend | None = None,
) -> CrmClient:
    """A client of one portal. ``rate``/``burst``: the portal plan's leaky bucket (2/50 standard, 5/250 Enterprise),
    shared by every worker through Redis. ``wait_seconds``: how long one call may wait out the limits before it
    raises CrmRateLimited (the task retries later); defaults from DIALIX_BITRIX_* settings."""
    if provider != "bitrix24":
        raise CrmConfigError(f"No CRM connector for {provider!r}; known: {', '.join(PROVIDERS)}")
    from integrations.crm.bitrix import BitrixClient  # imports requests: only when a client is needed

    timeout = float(timeout_seconds if timeout_seconds is not None else setting("DIALIX_BITRIX_TIMEOUT_SECONDS", 30.0))
    return BitrixClient(
        webhook_url,
        rate=rate,
        burst=burst,
        timeout=(5.0, timeout),
        limits=limits,
        max_retries=int(setting("DIALIX_BITRIX_MAX_RETRIES", 4)),
        wait_seconds=float(wait_seconds if wait_seconds is not None else setting("DIALIX_BITRIX_WAIT_SECONDS", 30.0)),
    )
