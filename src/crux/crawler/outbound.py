"""Which URLs the crawler may fetch: http(s), no credentials, public addresses only.

Every URL the crawler meets comes from outside: feed and OPML entries, forum endpoints,
``--fetch-articles`` links, redirects. :func:`refusal` says why one may not be fetched, or None.
Unless ``crawl_allow_private`` is on (``CRUX_CRAWL_ALLOW_PRIVATE=1``; the tests' loopback
servers need it), a URL is refused when:

- its scheme is not http or https (``file:``, ``ftp:``, ``data:``, ``javascript:``, ``gopher:``);
- it carries credentials (``user:pass@host``: crux would send them to whoever serves the feed);
- its host is, or resolves to, an address that is not public: loopback, private, link-local
  (``169.254.169.254``, the cloud metadata service), multicast, unspecified, reserved or
  shared, in IPv4 or IPv6 (IPv4-mapped and 6to4/NAT64 forms unwrapped), including the integer,
  hex and octal spellings of IPv4 (``http://2130706433/``, ``http://0x7f.1/``).

``crawl_allow_hosts`` names hosts (``intranet.example``, ``127.0.0.1:8080``) allowed although
private, the others staying refused. Scheme and credentials are refused even with the settings on. :class:`OutboundGuardMiddleware`
applies this to every request, so each redirect hop is checked as the first URL was (and
``REDIRECT_MAX_TIMES`` bounds the chain). The check resolves the host itself; a host whose DNS
answer changes between the check and Scrapy's own lookup (DNS rebinding) is caught when its
answer arrives: the address it came from (``response.ip_address``) is checked too, and an
answer from a non-public address is dropped unread (the request itself was sent, as a GET
without credentials).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from .. import config

SCHEMES = ("http", "https")
ALLOW_HINT = "set CRUX_CRAWL_ALLOW_PRIVATE=1 to crawl your own network"


def _ipv4_spelling(host: str) -> ipaddress.IPv4Address | None:
    """The address of an IPv4 host in any form ``inet_aton`` takes (``2130706433``, ``0x7f.1``)."""
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host names literally (``[::1]``, ``127.0.0.1``, ``2130706433``), else None."""
    h = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        return _ipv4_spelling(h)


def _unwrap(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.sixtofour is not None:
            return addr.sixtofour
        if addr in ipaddress.ip_network(
            "64:ff9b::/96"
        ):  # NAT64: the IPv4 address in the last 32 bits
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr


def address_kind(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``addr`` not public ("a loopback address" ...), or None for a public address."""
    a = _unwrap(addr)
    if a.is_loopback:
        return "a loopback address"
    if a.is_link_local:
        return (
            "a link-local address (169.254.169.254 is the cloud metadata service)"
            if str(a) == "169.254.169.254"
            else "a link-local address"
        )
    if a.is_multicast:
        return "a multicast address"
    if a.is_unspecified:
        return "the unspecified address"
    if a.is_private:
        return "a private address"
    if a.is_reserved or not a.is_global:
        return "a reserved address"
    return None


def _resolve(host: str, port: int | None) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []  # Scrapy reports the lookup failure itself
    return sorted({str(info[4][0]) for info in infos})


def refusal(url: str, *, allow_private: bool | None = None, resolve: bool = True) -> str | None:
    """Why crux will not fetch ``url`` (one clause, without the URL), or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        return f"not a valid URL ({e})"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return (
            f"a {scheme}: URL; crux fetches only http and https"
            if scheme
            else "not an absolute http(s) URL"
        )
    if parts.username is not None or parts.password is not None:
        return (
            "the URL carries a user name or password; crux does not send credentials (remove them)"
        )
    host = parts.hostname or ""
    if not host:
        return "the URL has no host"
    if allow_private is None:
        allow_private = bool(config.get("crawl_allow_private"))
    if allow_private:
        return None
    addr = literal_address(host)
    if addr is not None:
        kind = address_kind(addr)
        return f"{host} is {kind}; crux fetches only public hosts ({ALLOW_HINT})" if kind else None
    if host.rstrip(".").lower() in ("localhost", "localhost.localdomain") or host.rstrip(
        "."
    ).lower().endswith(".localhost"):
        return f"{host} is a loopback address; crux fetches only public hosts ({ALLOW_HINT})"
    if not resolve:
        return None
    for found in _resolve(host, port):
        kind = address_kind(ipaddress.ip_address(found.split("%")[0]))
        if kind:
            return (
                f"{host} resolves to {found}, {kind}; crux fetches only public hosts ({ALLOW_HINT})"
            )
    return None


class URLRefused(Exception):
    """A request crux will not send (see :func:`refusal`)."""


class OutboundGuardMiddleware:
    """Downloader middleware: refuse a request, first hop or redirect, that :func:`refusal` refuses."""

    def __init__(self, allow_private: bool, allow_hosts: str = "") -> None:
        self.allow_private = allow_private
        self.allow_hosts = {h.strip().lower() for h in allow_hosts.split(",") if h.strip()}
        self._seen: dict[tuple[str, int | None], str | None] = {}  # (host, port) -> refusal

    @classmethod
    def from_crawler(cls, crawler: Any) -> OutboundGuardMiddleware:
        return cls(
            crawler.settings.getbool("CRUX_CRAWL_ALLOW_PRIVATE", False),
            crawler.settings.get("CRUX_CRAWL_ALLOW_HOSTS", "") or "",
        )

    def process_request(self, request: Any, spider: Any = None) -> None:
        from scrapy.exceptions import IgnoreRequest

        reason = self._check(request.url)
        if reason is None:
            return
        hops = request.meta.get("redirect_urls") or []
        where = f"redirected to {request.url}: " if hops else ""
        request.meta["crux_error"] = f"{where}{reason}"
        request.meta["crux_refused"] = True
        raise IgnoreRequest(f"{where}{reason}")

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        """An answer from a non-public address (DNS rebinding), or a redirect Scrapy would not
        follow (``file:``, ``gopher:`` ...): refused, said so."""
        from scrapy.exceptions import IgnoreRequest

        rebound = self._peer_refusal(request.url, getattr(response, "ip_address", None))
        if rebound:
            request.meta["crux_error"] = rebound
            request.meta["crux_refused"] = True
            raise IgnoreRequest(rebound)
        location = response.headers.get(b"Location") if 300 <= response.status < 400 else None
        if not location:
            return response
        target = location.decode("latin-1").strip()
        scheme = urlsplit(target).scheme.lower()
        if not scheme or scheme in SCHEMES:
            return response
        reason = refusal(target, allow_private=True)
        request.meta["crux_error"] = f"redirected to {target}: {reason}"
        request.meta["crux_refused"] = True
        raise IgnoreRequest(request.meta["crux_error"])

    def _peer_refusal(self, url: str, peer: Any) -> str | None:
        """Why the answer to ``url`` from address ``peer`` may not be used, or None."""
        if peer is None or self.allow_private:
            return None
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            return None
        if host.lower() in self.allow_hosts or f"{host.lower()}:{port}" in self.allow_hosts:
            return None
        try:
            kind = address_kind(ipaddress.ip_address(str(peer).split("%")[0]))
        except ValueError:
            return None
        if not kind:
            return None
        return (
            f"{host} answered from {peer}, {kind}, although it resolved to a public address "
            f"when checked (DNS rebinding?); the answer is dropped ({ALLOW_HINT})"
        )

    def _check(self, url: str) -> str | None:
        try:
            parts = urlsplit(url)
            key = (parts.hostname or "", parts.port)
        except ValueError:
            return refusal(url, allow_private=self.allow_private)
        allowed = (
            self.allow_private
            or key[0].lower() in self.allow_hosts
            or f"{key[0].lower()}:{key[1]}" in self.allow_hosts
        )
        reason = refusal(url, allow_private=allowed, resolve=False)
        if reason is not None or allowed or literal_address(key[0]) is not None:
            return reason
        if key not in self._seen:  # one lookup per host and port and crawl
            self._seen[key] = refusal(url, allow_private=False)
        return self._seen[key]
