"""Writing crawled documents to DuckDB from inside the crawl, in batches.

DuckDB allows one writing process, so the crawl writes from its own process: spiders yield
``{"source": name, "doc": Doc}`` items, :class:`DuckDBPipeline` hands them to the shared
:class:`CrawlStore`, which saves every ``batch_size`` items (and at the end) in one
transaction per batch. A batch that fails is rolled back and reported on its sources; batches
already written stay. At the end of a spider each of its sources gets its bookkeeping
(status, error, validators, watermark, deletions) in ``sources``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..db import Doc, SaveResult, doc_problem, mark_deleted, reject, save_documents
from ..db.tx import _is_storage_failure, scalar
from ..db.tx import utcnow as _now

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)


@dataclass
class SourceState:
    """One source during a crawl: what it asked for, what came back, what was stored."""

    id: str
    name: str
    kind: str
    url: str
    config: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    watermark: str | None = None
    # outcome
    saved: SaveResult = field(default_factory=SaveResult)
    received: int = 0
    rejected: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    not_modified: bool = False
    truncated: bool = False  # stopped at --max-items
    new_etag: str | None = None
    new_last_modified: str | None = None
    new_watermark: str | None = None
    config_updates: dict[str, Any] = field(default_factory=dict)
    # ForumMagnum bookkeeping for deletions
    window_start: datetime | None = None
    posts_complete: bool = False
    seen_posts: set[str] = field(default_factory=set)
    comment_threads: dict[str, set[str]] = field(default_factory=dict)  # post id -> comment ids
    # the sweep (spiders/forummagnum.py): every post before the window, listed cheaply
    sweep_from: datetime | None = None  # the listing covers [sweep_from, window_start)
    listed: set[str] = field(
        default_factory=set
    )  # post ids the listing returned (not deletedDraft)
    sweep_complete: bool = False  # the listing reached window_start without a failure
    sweep: dict[str, Any] | None = None  # what the sweep did, stored as config["last_sweep"]
    finished: bool = False

    @property
    def status(self) -> str:
        if self.errors:
            return (
                "partial"
                if self.saved.new or self.saved.changed or self.saved.unchanged
                else "failed"
            )
        return "not modified" if self.not_modified else "ok"

    @property
    def error(self) -> str | None:
        if not self.errors:
            return None
        more = f" (+{len(self.errors) - 1} more errors)" if len(self.errors) > 1 else ""
        return self.errors[0] + more


def shown_id(doc_id: str) -> str:
    return doc_id.encode("utf-8", "backslashreplace").decode("utf-8")


class CrawlStore:
    """Buffers items and writes them in batches; owns the per-source states of one crawl."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        states: list[SourceState],
        *,
        run_id: int | None = None,
        batch_size: int = 100,
        max_items: int | None = None,
        progress: Callable[[SourceState], Any] | None = None,
    ) -> None:
        self.con = con
        self.states = {s.name: s for s in states}
        self.run_id = run_id
        self.batch_size = batch_size
        self.max_items = max_items
        self.progress = progress
        self._buffer: list[tuple[str, Doc]] = []
        self._rejects: list[tuple[str, str, str]] = []
        self.storage_error: str | None = None  # the disk is full or the file read-only: stop

    # -- called by spiders -------------------------------------------------------------
    def room(self, name: str) -> int | None:
        """How many more documents source ``name`` may store under ``--max-items`` (None: no cap)."""
        if self.max_items is None:
            return None
        return max(0, self.max_items - self.states[name].received)

    def add(self, name: str, doc: Doc) -> None:
        state = self.states[name]
        if self.max_items is not None and state.received >= self.max_items:
            state.truncated = True
            return
        state.received += 1
        problem = doc_problem(doc)
        if problem:  # one bad value costs its item, never the batch it would have joined
            self.add_reject(name, f"{doc.url or shown_id(doc.id)}", problem)
            return
        self._buffer.append((name, doc))
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def add_reject(self, name: str, location: str, reason: str) -> None:
        self.states[name].rejected += 1
        self._rejects.append((name, location, reason))

    def reject_response(self, name: str, location: str, reason: str) -> None:
        """A whole response was unusable: the source's error and a ``_rejects`` row."""
        self.error(name, reason)
        self.add_reject(name, location, reason)

    def error(self, name: str, message: str) -> None:
        state = self.states[name]
        if message not in state.errors:
            state.errors.append(message)
            log.info("%s: %s", name, message)

    def posts_before(self, source_id: str, when: datetime) -> int:
        """How many of the source's stored posts were published before ``when``."""
        row = self.con.execute(
            "SELECT count(*) FROM documents WHERE source_id = ? AND kind = 'post' "
            "AND published_at < ?",
            [source_id, when],
        ).fetchone()
        return int(row[0]) if row else 0

    def stored_posts(
        self, source_id: str, ids: list[str]
    ) -> dict[str, tuple[Any, int | None, bool]]:
        """``{id: (updated_at, comment_count, deleted)}`` of the source's stored posts among ``ids``."""
        if not ids:
            return {}
        rows = self.con.execute(
            "SELECT id, updated_at, comment_count, deleted FROM documents "
            "WHERE source_id = ? AND kind = 'post' AND id IN (SELECT unnest(?))",
            [source_id, ids],
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def stored(self, ids: list[str]) -> dict[str, tuple[int | None, str]]:
        """``{id: (comment_count, extra JSON)}`` of the stored documents among ``ids``."""
        if not ids:
            return {}
        rows = self.con.execute(
            "SELECT id, comment_count, coalesce(extra, '{}') FROM documents "
            "WHERE id IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- writing -----------------------------------------------------------------------
    def flush(self) -> None:
        buffer, self._buffer = self._buffer, []
        rejects, self._rejects = self._rejects, []
        if not buffer and not rejects:
            return
        by_source: dict[str, list[Doc]] = {}
        for name, doc in buffer:
            by_source.setdefault(name, []).append(doc)
        results: dict[str, SaveResult] = {}
        try:
            self.con.execute("BEGIN TRANSACTION")
            for name, docs in by_source.items():
                results[name] = save_documents(self.con, self.states[name].id, docs)
            for name, location, reason in rejects:
                reject(
                    self.con, location, reason, run_id=self.run_id, source_id=self.states[name].id
                )
            self.con.execute("COMMIT")
        except Exception as e:
            self._rollback()
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            if _is_storage_failure(e):
                self.storage_error = self.storage_error or (
                    f"cannot write to the database ({first}); free disk space or check the file's "
                    "permissions, then run again: documents stored before are kept"
                )
                for name, docs in by_source.items():
                    self.error(name, f"could not store {len(docs)} documents: {self.storage_error}")
                return
            for name, docs in by_source.items():
                self.error(
                    name, f"could not store {len(docs)} documents ({type(e).__name__}: {first})"
                )
            return
        for name, res in results.items():
            self.states[name].saved += res
            if self.progress:
                self.progress(self.states[name])

    def _rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except Exception:
            pass

    def finish(self, name: str) -> None:
        """Write the source's outcome (after its last batch): deletions, validators, status."""
        self.finish_many([name])

    def finish_many(self, names: list[str]) -> None:
        """:meth:`finish` for several sources in one transaction (a crawl of 2,000 feeds ends
        in one commit, not 2,000); if that fails, each source is finished on its own."""
        states = [self.states[n] for n in dict.fromkeys(names) if not self.states[n].finished]
        if not states:
            return
        self.flush()
        if len(states) > 1:
            try:
                self.con.execute("BEGIN TRANSACTION")
                for state in states:
                    gone = self._gone(state)
                    if gone:
                        state.deleted = mark_deleted(self.con, gone)
                counts = dict(
                    self.con.execute(
                        "SELECT source_id, count(*) FROM documents WHERE source_id IN (SELECT unnest(?)) "
                        "GROUP BY source_id",
                        [[st.id for st in states]],
                    ).fetchall()
                )
                for state in states:
                    self._update_source(state, items=counts.get(state.id, 0))
                self.con.execute("COMMIT")
            except Exception as e:
                self._rollback()
                for state in states:
                    state.deleted = 0
                if self.storage_error or _is_storage_failure(e):  # no use trying each source
                    for state in states:
                        state.finished = True
                    return
            else:
                for state in states:
                    state.finished = True
                    if self.progress:
                        self.progress(state)
                return
        for state in states:
            state.finished = True
            try:
                self.con.execute("BEGIN TRANSACTION")
                self._outcome(state)
                self.con.execute("COMMIT")
            except Exception as e:
                self._rollback()
                state.deleted = 0
                state.errors.append(f"could not record the outcome ({type(e).__name__}: {e})")
                try:  # at least the status
                    self._update_source(state, minimal=True)
                except Exception:
                    pass
            if self.progress:
                self.progress(state)

    def _outcome(self, state: SourceState) -> None:
        gone = self._gone(state)
        if gone:
            state.deleted = mark_deleted(self.con, gone)
        self._update_source(state)

    def finish_all(self) -> None:
        self.finish_many(list(self.states))

    def _gone(self, state: SourceState) -> list[str]:
        """Documents stored earlier that the source no longer returns where it was asked.

        None after an error, a ``--max-items`` cut or a rejected item (a post or comment the
        site returned but crux could not read is not gone)."""
        if state.errors or state.truncated or state.rejected:
            return []
        gone: list[str] = []
        gone_posts: list[str] = []
        if state.kind == "forummagnum" and state.posts_complete:
            rows = self.con.execute(
                "SELECT id FROM documents WHERE source_id = ? AND kind = 'post' AND NOT deleted "
                "AND (? IS NULL OR published_at >= ?)",
                [state.id, state.window_start, state.window_start],
            ).fetchall()
            gone_posts = [
                r[0] for r in rows if r[0] not in state.seen_posts and r[0] not in state.listed
            ]
        if state.kind == "forummagnum":
            gone_posts += self._swept_away(state)
        if gone_posts:  # a post that is gone takes its comments with it
            gone += gone_posts + [
                r[0]
                for r in self.con.execute(
                    "SELECT id FROM documents WHERE post_id IN (SELECT unnest(?)) AND NOT deleted",
                    [gone_posts],
                ).fetchall()
            ]
        for post_id, seen in state.comment_threads.items():
            rows = self.con.execute(
                "SELECT id FROM documents WHERE post_id = ? AND kind = 'comment' AND NOT deleted",
                [post_id],
            ).fetchall()
            gone += [r[0] for r in rows if r[0] not in seen]
        return gone

    def _swept_away(self, state: SourceState) -> list[str]:
        """Stored posts before the window that a complete sweep did not list (gone or deletedDraft)."""
        if not state.sweep_complete or state.window_start is None:
            return []
        rows = self.con.execute(
            "SELECT id FROM documents WHERE source_id = ? AND kind = 'post' AND NOT deleted "
            "AND published_at < ? AND (? IS NULL OR published_at >= ?)",
            [state.id, state.window_start, state.sweep_from, state.sweep_from],
        ).fetchall()
        gone = [r[0] for r in rows if r[0] not in state.listed and r[0] not in state.seen_posts]
        if state.sweep is not None:
            state.sweep["gone"] = len(gone)
            state.config_updates["last_sweep"] = state.sweep
        return gone

    def _update_source(
        self, state: SourceState, minimal: bool = False, items: int | None = None
    ) -> None:
        ok = not state.errors
        sets = {"last_fetch_at": _now(), "last_status": state.status, "last_error": state.error}
        if not minimal:
            if ok and state.new_etag is not None:
                sets["etag"] = state.new_etag
            if ok and state.new_last_modified is not None:
                sets["last_modified"] = state.new_last_modified
            if state.new_watermark and (
                not state.watermark or state.new_watermark > state.watermark
            ):
                sets["watermark"] = state.new_watermark
            if state.config_updates:
                cfg = dict(state.config)
                cfg.update(state.config_updates)
                sets["config"] = json.dumps(cfg)
        if items is None:
            items = scalar(
                self.con, "SELECT count(*) FROM documents WHERE source_id = ?", [state.id]
            )
        sets["items"] = items
        assign = ", ".join(f"{k} = ?" for k in sets)
        self.con.execute(f"UPDATE sources SET {assign} WHERE id = ?", [*sets.values(), state.id])


class DuckDBPipeline:
    """Scrapy item pipeline: ``{"source", "doc"}`` items into the spider's :class:`CrawlStore`."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> DuckDBPipeline:
        return cls(crawler)

    @property
    def _store(self) -> CrawlStore:
        return self.crawler.spider.store

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        self._store.add(item["source"], item["doc"])
        return item

    def close_spider(self) -> None:
        spider = self.crawler.spider
        try:
            spider.before_finish()
        except Exception as e:  # never lose the writes because of bookkeeping
            log.exception("before_finish failed: %s", e)
        self._store.finish_many(spider.source_names)
