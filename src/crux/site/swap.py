"""Serving a snapshot that ``crux publish`` replaces while Datasette runs.

Datasette 0.65 keeps one SQLite connection per executor thread, in a ``threading.local``
keyed by the database *name* (``datasette/database.py``, ``Database.execute_fn``). After
``os.replace`` those connections keep reading the old (unlinked) file, and a database
removed and re-added under the same name would reuse them. So:

* :class:`SnapshotDatabase` keys its thread-local connection by name *and generation*; the
  first time a thread serves a new generation it closes its own older connection (safe: a
  thread closes only connections it owns, between two of its queries).
* :class:`SnapshotWatcher` stats the file (inode, size, mtime) on every request (or at most
  every ``interval`` seconds), from a request hook; when it changed, it builds a new
  :class:`SnapshotDatabase` for the same path and swaps it into ``datasette.databases`` in
  one assignment on the event loop, so every request sees either the old or the new
  database, never none. Requests already running finish on the old file. Checking on every
  request (a stat, microseconds) matters: a thread opens its connection to a generation lazily,
  by path, so a generation still served after the file changed would read the new file with
  the old file's table counts.
* The new file's table counts come from ``<name>.inspect.json`` when its size matches.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_local = threading.local()


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _database_class() -> type:
    from datasette.database import Database, connections

    class SnapshotDatabase(Database):  # type: ignore[misc,valid-type]
        """An immutable file database whose per-thread connections belong to one generation."""

        generation = 0

        async def execute_fn(self, fn: Any) -> Any:
            if self.ds.executor is None:
                return await super().execute_fn(fn)
            import asyncio

            def in_thread() -> Any:
                conns: dict[str, tuple[int, Any]] = getattr(_local, "conns", None) or {}
                _local.conns = conns
                held = conns.get(self.name)
                if held is None or held[0] != self.generation:
                    if held is not None:
                        _close_quietly(held[1])
                    # Datasette's own connection for this name (before the first swap)
                    plain = getattr(connections, self.name, None)
                    if plain is not None:
                        delattr(connections, self.name)
                        _close_quietly(plain)
                    conn = self.connect()
                    self.ds._prepare_connection(conn, self.name)
                    held = (self.generation, conn)
                    conns[self.name] = held
                return fn(held[1])

            return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)

        def connect(self, write: bool = False) -> Any:
            conn = super().connect(write)
            # Datasette keeps every connection for close(); ours are closed by their threads
            if conn in self._all_file_connections:
                self._all_file_connections.remove(conn)
            return conn

    return SnapshotDatabase


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # pragma: no cover - a connection already closed
        pass


class SnapshotWatcher:
    """Swaps the served database for the file now at its path, when that file changes."""

    def __init__(self, datasette: Any, name: str, *, interval: float = 0.0) -> None:
        self.ds = datasette
        self.name = name
        self.interval = interval
        db = datasette.databases[name]
        self.path = str(db.path)
        self.key = _stat_key(self.path)
        self.generation = 0
        self._checked = time.monotonic()
        self._cls = _database_class()

    def install(self) -> None:
        """Replace Datasette's own Database object with a generation-aware one (same file)."""
        self._swap(self._stat_now())

    def _stat_now(self) -> tuple[int, int, int] | None:
        return _stat_key(self.path)

    def maybe_swap(self) -> bool:
        """Check the file (at most every ``interval`` s); swap when it changed. On the loop."""
        now = time.monotonic()
        if now - self._checked < self.interval:
            return False
        self._checked = now
        key = self._stat_now()
        if key is None or key == self.key:
            return False  # missing file: keep serving the old one
        self._swap(key)
        log.info("serving the new snapshot %s (generation %d)", self.path, self.generation)
        return True

    def _swap(self, key: tuple[int, int, int] | None) -> None:
        self.generation += 1
        db = self._cls(self.ds, path=self.path, is_mutable=False)
        db.generation = self.generation
        old = self.ds.databases.get(self.name)
        db.name = self.name
        db.route = old.route if old is not None else self.name
        counts = self._inspect_counts(key)
        if counts is not None:
            db._cached_table_counts = counts
        elif self.ds.inspect_data and self.name in self.ds.inspect_data:
            # stale counts must not be used for the new file: count again instead
            self.ds.inspect_data = {k: v for k, v in self.ds.inspect_data.items() if k != self.name}
        new = self.ds.databases.copy()
        new[self.name] = db
        self.ds.databases = new  # one assignment: requests see the old or the new database
        self.key = key

    def _inspect_counts(self, key: tuple[int, int, int] | None) -> dict[str, int] | None:
        path = Path(self.path).with_suffix(".inspect.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8")).get(self.name)
        except (OSError, ValueError):
            return None
        if not data or key is None or data.get("size") != key[1]:
            return None
        if self.ds.inspect_data is not None:
            self.ds.inspect_data = {**self.ds.inspect_data, self.name: data}
        return {t: v["count"] for t, v in data.get("tables", {}).items()}


__all__ = ["SnapshotWatcher"]
