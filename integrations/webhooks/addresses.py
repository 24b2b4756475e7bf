"""Which URLs a webhook may be sent to: http(s) only, and in production never an address inside our own network
(loopback, link-local such as the cloud metadata service at 169.254.169.254, private, reserved). Checked when an
endpoint is saved and again before every delivery, on every address the host resolves to."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class AddressRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for a person."""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint's URL (its form only, no DNS), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http and https URLs can receive webhooks."
    if not parts.hostname:
        return "The URL needs a host."
    if parts.username or parts.password:
        return "Put no credentials in the URL; verify the signature instead."
    if not settings.DIALIX_WEBHOOKS_ALLOW_PRIVATE:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None
        if not _is_public(literal):
            return "This address is inside a private network; webhooks go to public addresses only."
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_destination(url: str) -> None:
    """Raises AddressRefused unless `url` may be sent to now: its form, and every address its host resolves to."""
    problem = url_problem(url)
    if problem:
        raise AddressRefused(problem)
    if settings.DIALIX_WEBHOOKS_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"The host does not resolve: {exc}") from exc
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not _is_public(address):
            raise AddressRefused(f"The host resolves to {address}, inside a private network; not sent.")
