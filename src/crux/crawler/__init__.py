"""Bringing documents in: file ingest now, Scrapy spiders for feeds and forums."""

from __future__ import annotations

from .feeds import parse_feed
from .forummagnum import parse_forum_json
from .ingest import ingest_paths

__all__ = ["ingest_paths", "parse_feed", "parse_forum_json"]
