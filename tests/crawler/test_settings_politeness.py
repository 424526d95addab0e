"""The crawl's politeness settings: the shortest wait between two requests to a host."""

from __future__ import annotations

from crux.crawler.settings import scrapy_settings


def test_shortest_wait_is_the_configured_delay(monkeypatch):
    monkeypatch.setenv("CRUX_DOWNLOAD_DELAY", "1")
    s = scrapy_settings()
    shortest = s["DOWNLOAD_DELAY"] * (1 - s["DOWNLOAD_DELAY_JITTER"])
    assert abs(shortest - 1.0) < 1e-9
    assert s["DOWNLOAD_DELAY"] * (1 + s["DOWNLOAD_DELAY_JITTER"]) <= 1.6
    assert s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1 and s["ROBOTSTXT_OBEY"]


def test_no_delay_means_no_jitter(monkeypatch):
    monkeypatch.setenv("CRUX_DOWNLOAD_DELAY", "0")
    s = scrapy_settings()
    assert s["DOWNLOAD_DELAY"] == 0 and s["DOWNLOAD_DELAY_JITTER"] == 0
