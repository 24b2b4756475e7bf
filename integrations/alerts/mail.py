"""Alert e-mail through Django's mail backend (SMTP in production, locmem in tests)."""

from __future__ import annotations

import smtplib

from django.core.mail import EmailMessage

from integrations.errors import BadResponse, TransientIntegrationError


def send_alert_email(*, to: list[str], subject: str, body: str, from_email: str | None = None) -> None:
    recipients = [address.strip() for address in to if address.strip()]
    if not recipients:
        raise BadResponse("E-mail: the rule has no address to send to.")
    message = EmailMessage(subject=subject[:200], body=body, from_email=from_email, to=recipients)
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise BadResponse(f"E-mail: the server refused the recipients ({len(exc.recipients)}).") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientIntegrationError(f"E-mail could not be sent ({type(exc).__name__}).") from exc
