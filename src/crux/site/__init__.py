"""The published site: a SQLite snapshot of the store, served by Datasette."""

from __future__ import annotations

from .export import PublishResult, publish, snapshot_path

__all__ = ["PublishResult", "publish", "snapshot_path"]
