"""The published site: a SQLite snapshot of the store, served by Datasette with crux's pages.

``export`` writes the snapshot (``crux publish``), ``sanitize`` is the only path from post
HTML to a page, ``pages`` and ``plugins/crux_site.py`` are the pages Datasette serves, and
``swap`` lets a running ``crux serve`` pick up each new snapshot without a restart.
"""

from __future__ import annotations

from .export import PublishResult, publish, snapshot_path
from .sanitize import clean_html

__all__ = ["PublishResult", "clean_html", "publish", "snapshot_path"]
