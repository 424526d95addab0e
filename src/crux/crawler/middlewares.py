"""Retries that wait: ``Retry-After`` on 429/503, exponential back-off on timeouts and 5xx.

Scrapy's ``RetryMiddleware`` re-queues a failed request at once. :class:`PoliteRetryMiddleware`
replaces it: before the retry it pauses the request's download slot (its host), so no request
to that host leaves before the wait is over, while other hosts go on. The wait is the
response's ``Retry-After`` (seconds or an HTTP date) when present, else
``CRUX_RETRY_BACKOFF * 2**n`` for the n-th retry. A ``Retry-After`` longer than
``CRUX_MAX_RETRY_AFTER`` fails the request instead of stalling the crawl.

Also here: :func:`describe_failure`, the one-line reason shown for a request that failed.
"""

from __future__ import annotations

import logging
import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.response import response_status_message

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

log = logging.getLogger(__name__)


def parse_retry_after(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryAfterTooLong(Exception):
    """The server asked for a longer pause than ``CRUX_MAX_RETRY_AFTER`` allows."""


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's retry logic plus waiting: ``Retry-After`` first, else exponential back-off."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("CRUX_RETRY_BACKOFF", 2.0)
        self.max_retry_after = settings.getfloat("CRUX_MAX_RETRY_AFTER", 600.0)

    def process_response(
        self,
        request: Request,
        response: Response,  # type: ignore[override]
        spider: Any = None,
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = response_status_message(response.status)
        wait = (
            parse_retry_after(response.headers.get(b"Retry-After"))
            if response.status in (429, 503)
            else None
        )
        if wait is not None and wait > self.max_retry_after:
            request.meta["crux_error"] = (
                f"the server asked to wait {wait:.0f} s (Retry-After), "
                f"over the {self.max_retry_after:.0f} s limit; try later"
            )
            return response
        retry = self._retry(request, reason)
        if retry is None:
            return response
        if wait is None:
            wait = self._backoff(request)
        else:
            retry.meta["crux_retry_after"] = wait
        self._pause(request, wait)
        return retry

    def process_exception(
        self,
        request: Request,
        exception: Exception,  # type: ignore[override]
        spider: Any = None,
    ) -> Request | Response | None:
        if request.meta.get("dont_retry", False) or not isinstance(
            exception, self.exceptions_to_retry
        ):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            self._pause(request, self._backoff(request))
        return retry

    def _retry(self, request: Request, reason: Any) -> Request | None:
        assert self.crawler.spider
        return get_retry_request(
            request,
            reason=reason,
            spider=self.crawler.spider,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=logging.INFO,  # the spider reports the failure per source
        )

    def _backoff(self, request: Request) -> float:
        n = int(request.meta.get("retry_times", 0))
        return min(self.backoff * (2**n), self.max_retry_after)

    def _pause(self, request: Request, wait: float) -> None:
        """Hold every request to ``request``'s host (its download slot) for ``wait`` seconds."""
        if wait <= 0:
            return
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is None:
            return
        log.info("pausing %s for %.1f s before retrying %s", key, wait, request.url)
        try:
            from scrapy.utils.asyncio import call_later

            if slot.latercall is not None:
                slot.latercall.cancel()
            slot.latercall = call_later(wait, downloader._latercall, slot)
        except (ImportError, AttributeError):  # another Scrapy: fall back to the slot's delay clock
            slot.lastseen = time.monotonic() + wait


class SafeRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, without its race.

    In Scrapy 2.19, requests that wait for a host's robots.txt await one shared Deferred;
    only the first waiter gets the parser, later ones get None and are let through
    unchecked (seen here: the third feed of a host, under Disallow, was fetched). Once the
    Deferred has fired the parser is stored per host, so a None is replaced by that.
    """

    async def robot_parser(self, request: Request) -> Any:
        rp = await super().robot_parser(request)
        if rp is None:
            from scrapy.utils.httpobj import urlparse_cached
            from twisted.internet.defer import Deferred

            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return rp


def describe_failure(failure: Any, url: str, timeout: float | None = None) -> str:
    """One line for a failed request: what happened and what to do."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import error as terr

    exc = failure.value
    request = getattr(failure, "request", None)
    meta = getattr(request, "meta", None) or {}
    if meta.get("crux_error"):
        return f"{url}: {meta['crux_error']}"
    if isinstance(exc, HttpError):
        resp = exc.response
        if resp.meta.get("crux_error") if hasattr(resp, "meta") else None:
            return f"{url}: {resp.meta['crux_error']}"
        hint = {
            401: "the server wants a login",
            403: "the server refused crux (blocked User-Agent?)",
            404: "check the URL",
            410: "the feed is gone; remove the source",
            429: "rate limited; try later or raise CRUX_DOWNLOAD_DELAY",
        }.get(
            resp.status,
            "the server is failing; try later" if resp.status >= 500 else "check the URL",
        )
        return f"{url}: HTTP {resp.status} after retries ({hint})"
    name = type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        if "robots" in str(exc).lower():
            return f"{url}: forbidden by the site's robots.txt; crux does not fetch it"
        if "max redirections" in str(exc).lower():
            return f"{url}: too many redirects (crux follows 5); check the URL"
        return f"{url}: request dropped ({exc})"
    if isinstance(exc, terr.DNSLookupError) or name == "CannotResolveHostError":
        return f"{url}: cannot resolve the host name (no network, or a typo in the URL?)"
    if isinstance(exc, terr.ConnectionRefusedError) or "ConnectionRefused" in name:
        return f"{url}: connection refused (is the server up? check the URL and port)"
    if (
        isinstance(exc, terr.TimeoutError | terr.TCPTimedOutError)
        or "Timeout" in name
        or "TimedOut" in name
    ):
        after = f" after {timeout:g} s" if timeout else ""
        return f"{url}: timed out{after} (retried; raise CRUX_DOWNLOAD_TIMEOUT if the site is slow)"
    if isinstance(exc, terr.ConnectError | terr.ConnectionLost) or "Connection" in name:
        return f"{url}: connection failed ({name}: {str(exc)[:120]}); check the network"
    if (
        name in ("CancelledError", "DownloadCancelledError")
        or "maxsize" in str(exc).lower()
        or "max size" in str(exc).lower()
        or "Cancelled" in str(exc)
    ):
        m = re.search(r"(\d+) bytes which is larger than download max size \((\d+)\)", str(exc))
        size = f" ({int(m[1]):,} bytes, cap {int(m[2]):,})" if m else ""
        return f"{url}: response larger than the cap{size}; not read (set CRUX_MAX_RESPONSE_BYTES to raise it)"
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{url}: {name}{': ' + text if text else ''}"
