"""User-supplied URLs may only reach globally routable addresses.

A webhook URL whose host resolves to any address that is not globally routable (loopback,
private, link-local such as the cloud metadata service at 169.254.169.254, the shared space
100.64.0.0/10 with 100.100.100.200, documentation, benchmarking, multicast, reserved) is
refused, and so is an IPv6 address that carries such an IPv4 address inside it (IPv4-mapped,
IPv4-compatible, 6to4, NAT64, Teredo). NOTIFIER_URL_ALLOWLIST is the only way in: it names a
host (`host` or `host:port`) or a CIDR block holding every address of the host.

The check runs when a setup is saved and again before every send. At send time the host is
resolved once: `url_addresses()` returns the checked addresses and channels.http connects to
them, never to a second DNS answer (which a rebinding attacker could point inside).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052, the well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215, local use only
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, RFC 4291 section 2.5.5.1
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT, RFC 2765


class URLRefused(ValueError):
    """A user-supplied URL that may not be used; `problem` completes "This URL ..."."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order of preference.

    The one place user-supplied host names are resolved (tests put a fake DNS here)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, SIIT)."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _IPV4_TRANSLATED:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public(address: str | IPAddress) -> bool:
    """Whether a notification may go to this address without the allow-list."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or ip in _NAT64_LOCAL or ip in _IPV4_COMPATIBLE:
            return False
        if not all(_globally_routable(v4) for v4 in embedded_ipv4(ip)):
            return False
    return _globally_routable(ip)


def _globally_routable(ip: IPAddress) -> bool:
    # is_global follows IANA's special-purpose registries (100.64.0.0/10 included); it still
    # calls multicast global, and a notification has no business there either.
    return ip.is_global and not ip.is_multicast


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


def url_addresses(url: str) -> list[str]:
    """Resolve the URL's host once and check every address it has; return them, in the
    order to try. Raise URLRefused when the URL may not be used."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise URLRefused(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise URLRefused("must start with https:// (or http://)")
    host = parts.hostname or ""
    if not host:
        raise URLRefused("names no host")
    if parts.username or parts.password:
        raise URLRefused(
            "must not contain a user name or password; use a header or a secret instead"
        )
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise URLRefused(f"names a host that does not resolve ({host})")
    if _allowed(host, port, addresses):
        return addresses
    internal = [a for a in addresses if not is_public(a)]
    if internal:
        raise URLRefused(
            f"resolves to {internal[0]}, a loopback, link-local or private address (or another "
            "that is not publicly routable); notifications only go to public addresses unless "
            f"NOTIFIER_URL_ALLOWLIST names {host}"
        )
    return addresses


def url_problem(url: str) -> str | None:
    """Why this user-supplied URL may not be used, or None when it may."""
    try:
        url_addresses(url)
    except URLRefused as exc:
        return exc.problem
    return None


def validate_user_url(value: str) -> None:
    """Model-field validator form of url_problem()."""
    if value:
        problem = url_problem(value)
        if problem:
            raise ValidationError(f"This URL {problem}.")
