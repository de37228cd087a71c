"""User-supplied URLs may not point inside the service's own network.

A webhook URL that resolves to a loopback, link-local (169.254.169.254, the cloud metadata
service) or private address is refused unless NOTIFIER_URL_ALLOWLIST names its host (as
`host`, `host:port` or a CIDR block). The check runs when a setup is saved and again before
every send, since DNS answers change.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def _allowed(host: str, port: int, addresses: list[str]) -> bool:
    for entry in settings.NOTIFIER_URL_ALLOWLIST:
        if entry.lower() in (host.lower(), f"{host.lower()}:{port}"):
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if addresses and all(ipaddress.ip_address(a) in network for a in addresses):
            return True
    return False


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def url_problem(url: str) -> str | None:
    """Why this user-supplied URL may not be used, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    host = parts.hostname or ""
    if not host:
        return "names no host"
    if parts.username or parts.password:
        return "must not contain a user name or password; use a header or a secret instead"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"names a host that does not resolve ({host})"
    addresses = sorted({info[4][0] for info in infos})
    if _allowed(host, port, addresses):
        return None
    internal = [a for a in addresses if _internal(a)]
    if internal:
        return (
            f"resolves to {internal[0]}, a loopback, link-local or private address; "
            "notifications only go to public addresses unless NOTIFIER_URL_ALLOWLIST "
            f"names {host}"
        )
    return None


def validate_user_url(value: str) -> None:
    """Model-field validator form of url_problem()."""
    if value:
        problem = url_problem(value)
        if problem:
            raise ValidationError(f"This URL {problem}.")
