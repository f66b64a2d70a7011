"""Which URLs may be fetched: http(s) only, and only from public addresses (the SSRF guard).

The host is resolved once and every address it resolves to is checked; the fetch then connects
to a checked address (the name is never resolved again, so a DNS answer that changes between the
check and the connection — rebinding — cannot point it at an internal service). Redirects are
checked hop by hop by the fetcher with this same function.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ingestion.web.errors import UrlRefused

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver, as a connection would use it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked URL and the address the fetch must connect to."""

    url: str  # normalised: scheme and host lower-case, no fragment, no default port
    scheme: str
    host: str  # ASCII (IDNA) form
    port: int
    address: str

    @property
    def host_header(self) -> str:
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        return bracketed if self.port == _DEFAULT_PORTS[self.scheme] else f"{bracketed}:{self.port}"

    @property
    def address_url(self) -> str:
        """The URL with its host replaced by the checked address: what is actually requested."""
        parts = urlsplit(self.url)
        address = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit((self.scheme, f"{address}:{self.port}", parts.path or "/", parts.query, ""))


def normalise_url(raw: str) -> tuple[SplitResult, str, int]:
    """Parse and normalise a URL: (parts, ASCII host, port).

    Raises:
        UrlRefused: `scheme`, `invalid_url` or `credentials`.
    """
    raw = raw.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid_url", f"{raw!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UrlRefused("scheme", f"{raw!r}: only http and https URLs can be fetched")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials", f"{raw!r}: URLs with a user name or password are not fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("invalid_url", f"{raw!r} has no host")
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError as exc:
        raise UrlRefused("invalid_url", f"{raw!r}: the host name is not valid") from exc
    port = port or _DEFAULT_PORTS[scheme]
    netloc_host = f"[{host}]" if ":" in host else host
    netloc = netloc_host if port == _DEFAULT_PORTS[scheme] else f"{netloc_host}:{port}"
    normal = SplitResult(scheme, netloc, parts.path or "/", parts.query, "")
    return normal, host, port


def check_url(raw: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """Normalise `raw`, resolve its host and check every address.

    Raises:
        UrlRefused: `scheme`, `invalid_url`, `credentials`, `unresolvable`, or `private_address`
            (unless `allow_private`).
    """
    parts, host, port = normalise_url(raw)
    url = urlunsplit(parts)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused("unresolvable", f"{host!r} could not be resolved: {exc}") from exc
    if not addresses:
        raise UrlRefused("unresolvable", f"{host!r} resolves to no address")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        why = non_public_reason(ip)
        if why and not allow_private:
            raise UrlRefused(
                "private_address",
                f"{url}: {host} resolves to {address}, a {why} address; set urls.allow_private to fetch from it",
            )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])


def non_public_reason(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is (None: a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return non_public_reason(embedded)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared (CGNAT)", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4): checked as IPv4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
