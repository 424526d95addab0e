"""Scrapy settings for crux's crawls, read from the same places as :mod:`crux.config`.

Every knob is an ordinary :mod:`crux.config` setting (env ``CRUX_DOWNLOAD_DELAY`` ..., or the
``[crux]`` table of ``crux.toml``); this module maps them onto Scrapy's names.

| name | default | what |
|---|---|---|
| ``download_delay`` | 1.0 | seconds between requests to one host (AutoThrottle never goes below it) |
| ``download_timeout`` | 60 | seconds before a request is given up (then retried) |
| ``retry_times`` | 3 | retries after a timeout, a connection error, 429 or 5xx |
| ``retry_backoff`` | 2.0 | first back-off in seconds; doubles on each retry of one request |
| ``max_retry_after`` | 600 | longest ``Retry-After`` crux waits; longer asks fail the request |
| ``autothrottle_target`` | 0.5 | AutoThrottle target concurrency (lower is more polite) |
| ``crawl_allow_private`` | off | fetch loopback, private and link-local hosts too (tests, your own network) |
| ``crawl_allow_hosts`` | "" | hosts (``host`` or ``host:port``, comma-separated) fetched even when private |
"""

from __future__ import annotations

from typing import Any

from .. import config

# The crawler's own settings; they live in crux.config's registry with the others.
CRAWL_SETTINGS = (
    "download_delay",
    "download_timeout",
    "retry_times",
    "retry_backoff",
    "max_retry_after",
    "autothrottle_target",
)


def setting(name: str) -> float:
    """A crawl setting (env ``CRUX_<NAME>`` > ``crux.toml`` > default), checked by the registry."""
    if name not in CRAWL_SETTINGS:
        raise KeyError(name)
    return float(config.get(name))


JITTER = 0.2  # random variation of the wait between two requests to one host (± share)


def scrapy_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings dict handed to ``CrawlerProcess``: polite by default."""
    delay = setting("download_delay")
    # Scrapy draws each wait from base × (1 ± jitter); the base is raised so that the shortest
    # wait is still the configured delay (1 s → waits of 1.0 to 1.5 s). AutoThrottle never goes
    # below the base either.
    jitter = JITTER if delay >= 1 else 0.0
    settings: dict[str, Any] = {
        "BOT_NAME": "crux",
        "USER_AGENT": str(config.get("user_agent")),
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": delay / (1 - jitter),
        "DOWNLOAD_DELAY_JITTER": jitter,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(delay / (1 - jitter), 0.0),
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": setting("autothrottle_target") or 0.5,
        "DOWNLOAD_TIMEOUT": setting("download_timeout"),
        "DOWNLOAD_MAXSIZE": int(config.get("max_response_bytes")),
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": int(setting("retry_times")),
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "CRUX_RETRY_BACKOFF": setting("retry_backoff"),
        "CRUX_MAX_RETRY_AFTER": setting("max_retry_after"),
        # outbound URLs: http(s) on public hosts only, every redirect hop checked (outbound.py)
        "CRUX_CRAWL_ALLOW_PRIVATE": bool(config.get("crawl_allow_private")),
        "CRUX_CRAWL_ALLOW_HOSTS": str(config.get("crawl_allow_hosts")),
        "REDIRECT_MAX_TIMES": 5,
        "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {
            "crux.crawler.outbound.OutboundGuardMiddleware": 50,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crux.crawler.middlewares.SafeRobotsTxtMiddleware": 100,
            "crux.crawler.middlewares.PoliteRetryMiddleware": 550,
        },
        "ITEM_PIPELINES": {"crux.crawler.pipelines.DuckDBPipeline": 300},
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        # Scrapy re-parses a callback's source on every response to warn about `return value`
        # in generators (its cache misses bound methods): 6 ms a response, 12 s for 2,000 feeds
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
    }
    settings.update(overrides or {})
    return settings
