"""Re-extracting every document's links when link extraction changed.

Links are extracted when a document is new or changed (:func:`~crux.db.store.save_documents`
skips unchanged ones by ``content_hash``), so a store keeps the links an older crux made. The
store records the version of link extraction its links were made with
(``_store_state.links_version``, :data:`crux.htmltext.LINKS_VERSION`); when it differs,
:func:`relink` re-extracts every document's links from its stored HTML and URL (the code path
of ``save_documents``), refreshes its own URL key, resolves the links again and marks the
documents whose links changed for the linking stages, in one transaction. :func:`crux.db.connect`
calls it on every writable open, so ``crux ingest``, ``crawl``, ``process`` and ``refresh``
never work on stale links.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..htmltext import LINKS_VERSION, text_and_links, url_key
from .store import LINK_COLUMNS, SAVE_CHUNK_CHARS, SAVE_CHUNK_DOCS, bulk_insert, links_rows
from .store import resolve_links as _resolve
from .tx import scalar, transaction
from .tx import utcnow as _now

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# What a store holding documents but no record was built with: the extractor before bare URLs
# in the text and lessestwrong.com (htmltext.LINKS_VERSION's "1").
UNRECORDED_VERSION = "1"
# The stages that read a document's links: their state for a document whose links changed is
# dropped, so the next `crux process` redoes it (claim_links also follows responses' redo).
LINK_STAGES = ("responses", "claim_links")
_KEY = "links_version"


@dataclass
class RelinkResult:
    old_version: str
    new_version: str
    documents: int = 0  # documents whose links were re-extracted
    links: int = 0  # links rows written
    changed: int = 0  # documents whose links (URL, key, anchor, target) differ from before
    rekeyed: int = 0  # documents whose own url_key changed

    def summary(self) -> str:
        return (
            f"links re-extracted (link extraction {self.old_version} -> {self.new_version}): "
            f"{self.documents} documents, {self.links} links, {self.changed} documents' links "
            f"changed, {self.rekeyed} URL keys changed"
        )


def links_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The link-extraction version recorded for this store, or None when there is none."""
    v = scalar(con, "SELECT value FROM _store_state WHERE key = ?", [_KEY])
    return None if v is None else str(v)


def _record(con: duckdb.DuckDBPyConnection, version: str) -> None:
    con.execute(
        "INSERT INTO _store_state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [_KEY, version, _now()],
    )


def relink(
    con: duckdb.DuckDBPyConnection,
    *,
    progress: bool | None = None,
    chunk_docs: int = SAVE_CHUNK_DOCS,
    chunk_chars: int = SAVE_CHUNK_CHARS,
) -> RelinkResult | None:
    """Re-extract every document's links when the store's links version is not
    :data:`~crux.htmltext.LINKS_VERSION`; None when it is (no work).

    A store without a record counts as :data:`UNRECORDED_VERSION` when it holds documents; an
    empty one just records the current version. One transaction: a failure (or a kill) midway
    leaves the old links and the old version, and the next call does it all again. Documents
    are read in parts of at most ``chunk_docs`` documents or ``chunk_chars`` characters of
    HTML. ``progress``: a bar on stderr (default: when stderr is a terminal; quiet in cron).
    """
    recorded = links_version(con)
    if recorded == LINKS_VERSION:
        return None
    total = int(scalar(con, "SELECT count(*) FROM documents") or 0)
    if recorded is None and not total:
        with transaction(con):
            _record(con, LINKS_VERSION)
        return None
    result = RelinkResult(recorded or UNRECORDED_VERSION, LINKS_VERSION)
    show = sys.stderr.isatty() if progress is None else progress
    bar: Any = None
    if show:
        from tqdm import tqdm

        bar = tqdm(
            total=total, desc="re-extracting links", unit="doc", file=sys.stderr, leave=False
        )
    started = _now()
    try:
        with transaction(con):
            _relink(con, result, bar, chunk_docs, chunk_chars)
            # its ok row is part of the transaction (crux.db.connect, which calls this, is where
            # record_run lives); a relink that fails leaves only a 'failed' row (below)
            con.execute(
                "INSERT INTO _runs (command, stage, started_at, finished_at, status, rows_in, "
                "rows_out, config) VALUES ('relink', 'links', ?, ?, 'ok', ?, ?, ?)",
                [
                    started,
                    _now(),
                    result.documents,
                    result.links,
                    json.dumps({"from": result.old_version, "to": LINKS_VERSION}),
                ],
            )
    except Exception as e:
        # the transaction rolled back every row; the failure itself is recorded, outside it
        _record_failure(con, started, result, e)
        raise
    finally:
        if bar is not None:
            bar.close()
    log.info("%s", result.summary())
    if show:
        print(result.summary(), file=sys.stderr)
    return result


def _record_failure(
    con: duckdb.DuckDBPyConnection, started: Any, result: RelinkResult, e: BaseException
) -> None:
    """A ``failed`` ``_runs`` row for a relink that rolled back (best effort: a store that
    cannot take even this row says so through the error being raised)."""
    import duckdb

    try:
        con.execute(
            "INSERT INTO _runs (command, stage, started_at, finished_at, status, rows_in, "
            "rows_out, error, config) VALUES ('relink', 'links', ?, ?, 'failed', 0, 0, ?, ?)",
            [
                started,
                _now(),
                (str(e)[:1000] or type(e).__name__),
                json.dumps({"from": result.old_version, "to": LINKS_VERSION}),
            ],
        )
    except duckdb.Error:
        pass


def _relink(
    con: duckdb.DuckDBPyConnection,
    result: RelinkResult,
    bar: Any,
    chunk_docs: int,
    chunk_chars: int,
) -> None:
    cols = "source_id, position, target_url, target_key, anchor_text, alt_key, target_id"
    # the links as they were, to tell which documents' links changed (resolution included)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _relink_before AS SELECT {cols} FROM links")
    last = ""
    while True:
        sizes = con.execute(
            "SELECT id, coalesce(length(html), 0) FROM documents WHERE id > ? ORDER BY id LIMIT ?",
            [last, chunk_docs],
        ).fetchall()
        if not sizes:
            break
        ids: list[str] = []
        size = 0
        for doc_id, n in sizes:
            if ids and size + n > chunk_chars:
                break
            ids.append(doc_id)
            size += n
        last = ids[-1]
        docs = con.execute(
            "SELECT id, url, url_key, html FROM documents WHERE id IN (SELECT unnest(?)) ORDER BY id",
            [ids],
        ).fetchall()
        rows: list[tuple[Any, ...]] = []
        rekeyed: list[tuple[str, str | None, str | None]] = []
        for doc_id, url, old_key, html in docs:
            _text, links = text_and_links(html, url)  # as save_documents extracts them
            rows += links_rows(doc_id, links)
            own = url_key(url)
            if own != old_key:
                rekeyed.append((doc_id, old_key, own))
        con.execute("DELETE FROM links WHERE source_id IN (SELECT unnest(?))", [ids])
        bulk_insert(con, "links", LINK_COLUMNS, rows)
        if rekeyed:
            _rekey(con, rekeyed)
        result.documents += len(docs)
        result.links += len(rows)
        result.rekeyed += len(rekeyed)
        if bar is not None:
            bar.update(len(docs))
    _resolve(con)  # every link again, as if the corpus arrived at once
    changed = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT source_id FROM ((SELECT {cols} FROM links EXCEPT "
            f"SELECT {cols} FROM _relink_before) UNION ALL (SELECT {cols} FROM _relink_before "
            f"EXCEPT SELECT {cols} FROM links)) WHERE source_id IN (SELECT id FROM documents)"
        ).fetchall()
    ]
    result.changed = len(changed)
    if changed:
        con.execute(
            "DELETE FROM _stage_state WHERE stage IN (SELECT unnest(?)) "
            "AND document_id IN (SELECT unnest(?))",
            [list(LINK_STAGES), changed],
        )
    con.execute("DROP TABLE _relink_before")
    _record(con, LINKS_VERSION)


def _rekey(
    con: duckdb.DuckDBPyConnection, rekeyed: list[tuple[str, str | None, str | None]]
) -> None:
    """A document's own URL key changed (e.g. its host became a forum host): its
    ``documents.url_key`` and its ``document_keys`` row of that key follow. The other keys a
    source gave it (``forum_keys``) stay."""
    ids = [r[0] for r in rekeyed]
    olds = [r[1] for r in rekeyed]
    news = [r[2] for r in rekeyed]
    con.execute(
        "UPDATE documents SET url_key = u.url_key FROM (SELECT unnest(?) AS id, "
        "unnest(?::VARCHAR[]) AS url_key) u WHERE documents.id = u.id",
        [ids, news],
    )
    con.execute(
        "DELETE FROM document_keys USING (SELECT unnest(?) AS id, unnest(?::VARCHAR[]) AS k) o "
        "WHERE document_keys.document_id = o.id AND document_keys.key = o.k",
        [ids, olds],
    )
    bulk_insert(
        con,
        "document_keys",
        ("key", "document_id"),
        [(new, doc_id) for doc_id, _old, new in rekeyed if new],
        "ON CONFLICT DO NOTHING",
    )
