"""Who is asking and under which name: the Host allow-list, the Origin check, trusted proxies.

A dashboard on loopback answers only to loopback names (and the names configured), so a page
of another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing. A POST
made by a browser must come from a page of the dashboard itself (its Origin, else its
Referer). Forwarded headers are believed only from the proxies configured.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["LOOPBACK_NAMES", "HostRules", "host_name"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
"""The names a dashboard always answers to."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def host_name(netloc: str) -> str:
    """A Host header's (or a URL's) name without its port, lower case, IPv6 in brackets."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc.partition("]")[0] + "]"
    name, colon, port = netloc.rpartition(":")
    if colon and ":" not in name and (port.isdigit() or not port):
        netloc = name
    if netloc.count(":") > 1:  # a bare IPv6 address, as a setting may give it
        netloc = f"[{netloc}]"
    return netloc.rstrip(".")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class HostRules:
    """The names the dashboard answers to and the proxies whose forwarded headers it believes.

    Attributes:
        names: Allowed Host names (None: any, ``STORAGE_JOBS_DASHBOARD_HOSTS=*``).
        proxies: Networks of trusted proxies.
    """

    names: frozenset[str] | None
    proxies: tuple[_Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> HostRules:
        """Loopback names plus ``dashboard_hosts``; ``dashboard_trusted_proxies``."""
        configured = [h for h in settings.dashboard_hosts if h.strip()]
        names = None if "*" in configured else LOOPBACK_NAMES | {host_name(h) for h in configured}
        proxies = tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in settings.dashboard_trusted_proxies
        )
        return cls(names=names, proxies=proxies)

    def via_proxy(self, request: Request) -> bool:
        """Whether the request's peer is a trusted proxy."""
        peer = _address(request.client.host) if request.client else None
        return peer is not None and any(peer in net for net in self.proxies)

    def client(self, request: Request) -> str:
        """The client's address: the peer, or behind trusted proxies the first untrusted hop."""
        peer = request.client.host if request.client else "unknown"
        if not self.via_proxy(request):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            address = _address(hop)
            if address is None:
                return hop[:64]  # garbage from a client the proxy passed on: still a name
            if not any(address in net for net in self.proxies):
                return str(address)
        return peer

    def scheme(self, request: Request) -> str:
        """``https`` or ``http`` as the browser sees it (a trusted proxy's X-Forwarded-Proto)."""
        if self.via_proxy(request):
            forwarded = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip()
            if forwarded.lower() in ("http", "https"):
                return forwarded.lower()
        return request.url.scheme

    def host_allowed(self, request: Request) -> bool:
        """Whether the Host header names the dashboard."""
        if self.names is None:
            return True
        host = request.headers.get("host")
        return host is not None and host_name(host) in self.names

    def origin_allowed(self, request: Request) -> bool:
        """Whether a state-changing request comes from a page of the dashboard.

        The Origin header, else the Referer, must name the same host (and port) as the Host
        header, or, through a trusted proxy (which may rewrite Host), an allowed name. A
        request with neither passes only when it carries an ``Authorization`` header, which a
        browser never adds by itself to a cross-site request.
        """
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin:
            return "authorization" in request.headers
        netloc = urlsplit(origin).netloc.lower()
        if not netloc or origin.strip().lower() == "null":
            return False
        if netloc == request.headers.get("host", "").lower():
            return True
        return self.via_proxy(request) and (self.names is None or host_name(netloc) in self.names)
