"""CRM connections (issue 14): the client built from a connection, the webhook URL's rules, and the connection's
state (stopped by the portal's refusal, last error, last success) that the console shows."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from integrations.crm.base import ConnectionCheck, CrmClient
from integrations.crm.errors import CrmConfigError
from integrations.crm.registry import crm_client_for
from integrations.errors import IntegrationError
from integrations.models import CrmConnection
from integrations.webhooks.addresses import _is_public as address_is_public  # the one rule of "public address"

logger = logging.getLogger(__name__)

_WEBHOOK_PATH = re.compile(r"/rest/\d+/[A-Za-z0-9_]+/?\Z")


def crm_webhook_problem(url: str) -> str | None:
    """Why ``url`` cannot be a portal's webhook URL (its form only, no DNS), or None. https and a public host in
    production; DIALIX_CRM_ALLOW_PRIVATE_HOSTS (tests, the demo's fake portal) allows http and private hosts."""
    try:
        parts = urlsplit((url or "").strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return gettext("Enter a valid URL.")
    allow_private = settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return gettext("Bitrix24 webhooks are https only: the URL must start with https://")
    if not parts.hostname:
        return gettext("The URL needs the portal's host, e.g. https://acme.bitrix24.kz/rest/1/abc123/")
    if parts.username or parts.password or parts.query or parts.fragment:
        return gettext("Paste the webhook URL as Bitrix24 shows it: no credentials, query or fragment.")
    if not _WEBHOOK_PATH.match(parts.path or ""):
        return gettext(
            "This is not an incoming webhook URL: it must look like https://<portal>/rest/<user id>/<code>/ "
            "(Bitrix24 → Developer resources → Other → Incoming webhook)."
        )
    if not allow_private:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None
        if not address_is_public(literal):
            return gettext("This address is inside a private network; a Bitrix24 portal has a public address.")
    return None


def crm_webhook_check_destination(url: str) -> None:
    """Raises CrmConfigError unless ``url`` may be called now: its form, and (in production) every address its host
    resolves to, so a name pointing inside our network is refused too."""
    problem = crm_webhook_problem(url)
    if problem:
        raise CrmConfigError(problem)
    if settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS:
        return
    parts = urlsplit(url.strip())
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443)
    except (socket.gaierror, UnicodeError) as exc:
        raise CrmConfigError(f"The portal's host does not resolve: {exc}") from exc
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address_is_public(address):
            raise CrmConfigError(f"The portal's host resolves to {address}, inside a private network; not called.")


def crm_webhook_masked(url: str) -> str:
    """The URL with its secret code hidden: ``https://acme.bitrix24.kz/rest/1/••••••••/``."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    match = re.match(r"/rest/(\d+)/", parts.path or "")
    user = match.group(1) if match else "?"
    return f"{parts.scheme}://{parts.netloc}/rest/{user}/••••••••/"


def crm_client_for_connection(connection: CrmConnection) -> CrmClient:
    """The portal's client: the decrypted webhook URL (checked again here, so a row written around the form is
    refused too) and the plan's leaky bucket, shared by every worker through Redis."""
    crm_webhook_check_destination(connection.webhook_url)
    rate, burst = connection.rate
    return crm_client_for(provider=connection.provider, webhook_url=connection.webhook_url, rate=rate, burst=burst)


@transaction.atomic
def crm_connection_save(*, connection: CrmConnection) -> CrmConnection:
    """Saves the connection. Saving is how a person says "fixed": a stop by the portal's refusal is cleared
    (Resume), and the connection is used again by the next link, write-back and poll."""
    problem = crm_webhook_problem(connection.webhook_url)
    if problem:
        raise CrmConfigError(problem)
    if connection.pk and connection.stopped_at is not None:
        logger.info("crm_connection_resumed", extra={"company_id": connection.company_id})
    connection.stopped_reason, connection.stopped_at = "", None
    connection.full_clean()
    connection.save()
    return connection


def crm_connection_stop(*, connection: CrmConnection, exc: BaseException) -> None:
    """The portal refused us (401/403): stop using the connection until a person fixes it and saves it again."""
    now = timezone.now()
    reason = str(exc)[:2000]
    CrmConnection.objects.filter(pk=connection.pk).update(
        stopped_reason=reason, stopped_at=now, last_error=reason, last_error_at=now, updated_at=now
    )
    connection.stopped_reason, connection.stopped_at = reason, now
    logger.warning("crm_connection_stop", extra={"company_id": connection.company_id, "reason": reason})


def crm_connection_record_error(*, connection: CrmConnection, exc: BaseException) -> None:
    text = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    CrmConnection.objects.filter(pk=connection.pk).update(last_error=text, last_error_at=now, updated_at=now)
    logger.warning("crm_error", extra={"company_id": connection.company_id, "reason": text})


def crm_connection_record_success(*, connection: CrmConnection) -> None:
    now = timezone.now()
    CrmConnection.objects.filter(pk=connection.pk).update(last_success_at=now, last_error="", updated_at=now)


def crm_connection_test(*, connection: CrmConnection) -> ConnectionCheck:
    """*Test connection*: each part (reachable, webhook, scope, rights, stages) with what to fix; never raises for
    the portal's errors. A passing test records a success; a refusal is recorded as the last error (the connection
    is not stopped by a test: the supervisor is looking at the answer)."""
    try:
        client = crm_client_for_connection(connection)
        check = client.check()
    except (IntegrationError, ValueError) as exc:
        check = ConnectionCheck(ok=False, parts=((gettext("Webhook URL"), False, str(exc)),))
    if check.ok:
        crm_connection_record_success(connection=connection)
    else:
        name, text = next(((name, text) for name, ok, text in check.parts if not ok), ("", ""))
        now = timezone.now()
        CrmConnection.objects.filter(pk=connection.pk).update(
            last_error=f"{name}: {text}"[:2000], last_error_at=now, updated_at=now
        )
    return check
