"""Spiders: one per kind of source; each crawls every enabled source of its kind.

Each spider gets ``store`` (the :class:`~crux.crawler.pipelines.CrawlStore` shared by the
crawl) and ``source_names`` (its sources). One failing source records its error and the
others go on: every callback is guarded, and every request has an errback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import scrapy

from ..middlewares import describe_failure
from ..pipelines import CrawlStore, SourceState

log = logging.getLogger(__name__)


def too_large(failure: Any) -> bool:
    """Whether a request failed because its response was over ``DOWNLOAD_MAXSIZE``."""
    exc = getattr(failure, "value", None)
    return type(exc).__name__ == "DownloadCancelledError" or "max size" in str(exc).lower()


def guarded(method: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
    """Wrap a callback: an exception becomes the source's error instead of a lost crawl."""

    @functools.wraps(method)
    def wrapper(self: CruxSpider, response: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        name = response.meta.get("source")
        if self.store.storage_error:  # the database cannot be written: stop asking the sites
            from scrapy.exceptions import CloseSpider

            raise CloseSpider("storage_error")
        try:
            yield from method(self, response, *args, **kwargs)
        except Exception as e:
            log.debug("callback failed", exc_info=True)
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            self.store.reject_response(
                name, response.url, f"{response.url}: {type(e).__name__}: {first}"
            )
            self.on_source_failure(response.meta)

    return wrapper


class CruxSpider(scrapy.Spider):
    """Shared plumbing: states, errback, end-of-crawl hook."""

    store: CrawlStore
    source_names: list[str]

    def __init__(
        self,
        *args: Any,
        store: CrawlStore,
        source_names: list[str],
        since: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.store = store
        self.source_names = source_names
        self.since = since

    def state(self, name: str) -> SourceState:
        return self.store.states[name]

    def errback(self, failure: Any) -> None:
        request = failure.request
        name = request.meta.get("source")
        timeout = self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        origin = (request.meta.get("redirect_urls") or [request.url])[0]
        message = describe_failure(failure, origin, timeout)
        if too_large(failure) or request.meta.get(
            "crux_refused"
        ):  # the answer came, but crux would not read it: a rejected input
            self.store.reject_response(name, origin, message)
        else:
            self.store.error(name, message)
        self.on_source_failure(request.meta)

    def on_source_failure(self, meta: dict[str, Any]) -> None:
        """Hook: a request of a source failed (the spider may keep state consistent)."""

    def before_finish(self) -> None:
        """Hook: compute deletions/watermarks before the store writes each source's outcome."""
