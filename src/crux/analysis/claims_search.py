"""Claims: semantic search over the stored claim embeddings, the most contested, one document's.

Search encodes only the query (same model as the stored vectors) and ranks the claims by
cosine similarity. Each hit carries its document, author, date and topic: the topic of the
claim in the latest claims topic run, else that of its document in the latest documents run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import CruxError, StageError, UsageError
from .vectors import encode, load_vectors

if TYPE_CHECKING:
    import duckdb
    import numpy as np

Table = tuple[list[str], list[tuple[Any, ...]]]


def topic_join(
    con: duckdb.DuckDBPyConnection, claim_col: str = "c.sentence_id", doc_col: str = "c.document_id"
) -> tuple[str, list[Any]]:
    """LEFT JOINs giving ``tt.topic_id``/``tt.label`` of each claim (see module doc), and params."""
    from .topics import latest_run

    run = latest_run(con, "claims")
    if run:
        key, kind = claim_col, "claim"
    else:
        run, key, kind = latest_run(con, "documents"), doc_col, "document"
    if not run:
        return (
            "LEFT JOIN (SELECT NULL::INTEGER AS topic_id, NULL::VARCHAR AS label) tt ON false",
            [],
        )
    return (
        f"LEFT JOIN topic_assignments ta ON ta.run_id = ? AND ta.item_kind = '{kind}' "
        f"AND ta.item_id = {key} LEFT JOIN topics tt ON tt.run_id = ta.run_id "
        "AND tt.topic_id = ta.topic_id",
        [run],
    )


class ClaimIndex:
    """The claim vectors of one model, loaded once; :meth:`search` encodes the query only."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: str | None = None) -> None:
        self.con = con
        try:
            self.ids, self.X, self.model = load_vectors(con, "claim", model=model)
        except CruxError:
            raise StageError("no claim embeddings yet: run crux process first") from None

    def nearest(self, qv: np.ndarray, k: int) -> list[tuple[str, float]]:
        import numpy as np

        sims = self.X @ qv
        k = min(k, len(self.ids))
        idx = np.argpartition(-sims, k - 1)[:k] if k < len(self.ids) else np.arange(len(self.ids))
        idx = idx[np.argsort(-sims[idx], kind="stable")]
        return [(self.ids[i], float(sims[i])) for i in idx]

    def search(self, text: str, k: int = 10) -> Table:
        if not text.strip():
            raise UsageError("give some words to search for")
        qv = encode([text], self.model)[0]
        hits = self.nearest(qv, k)
        if not hits:
            return COLUMNS, []
        join, params = topic_join(self.con)
        hits_sql = (
            "(SELECT unnest(?::VARCHAR[]) AS sentence_id, unnest(?::DOUBLE[]) AS score, "
            "unnest(range(?)) AS rank)"
        )
        rows = self.con.execute(
            "SELECT h.score, s.text, coalesce(d.title, left(d.text, 60)), d.author, d.published_at, "
            f"tt.topic_id, tt.label, c.sentence_id, d.url FROM {hits_sql} h JOIN claims c USING (sentence_id) "
            f"JOIN sentences s ON s.id = c.sentence_id JOIN documents d ON d.id = c.document_id {join} "
            "ORDER BY h.rank",
            [[i for i, _ in hits], [x for _, x in hits], len(hits), *params],
        ).fetchall()
        return COLUMNS, rows


COLUMNS = [
    "score",
    "claim",
    "document",
    "author",
    "published_at",
    "topic",
    "topic_label",
    "sentence_id",
    "url",
]


def search(con: duckdb.DuckDBPyConnection, text: str, k: int = 10) -> Table:
    return ClaimIndex(con).search(text, k)


def contested(con: duckdb.DuckDBPyConnection, topic: int | None = None, limit: int = 20) -> Table:
    """Claims, and quoted passages of works outside the corpus, with the most attacks in
    ``claim_links`` (supports counted beside). A quoted passage has no sentence id; its
    document is the quoted work when it is in the corpus, else "quoted in" the quoting one."""
    join, params = topic_join(con, claim_col="l.sid", doc_col="d.id")
    where = ""
    if topic is not None:
        where = "AND tt.topic_id = ?"
        params = [*params, topic]
    rows = con.execute(
        "WITH l AS (SELECT coalesce(target_sentence_id, 'quote:' || coalesce(target_document_id, '') || '|' "
        "|| coalesce(target_text, '')) AS k, any_value(target_sentence_id) AS sid, "
        "any_value(target_text) AS quoted, any_value(target_document_id) AS tdoc, "
        "min(source_document_id) AS src, count(*) FILTER (relation = 'attacks') AS attacks, "
        "count(*) FILTER (relation = 'supports') AS supports FROM claim_links "
        "WHERE target_sentence_id IS NOT NULL OR target_text IS NOT NULL GROUP BY 1) "
        "SELECT l.attacks, l.supports, coalesce(s.text, l.quoted), "
        "coalesce(d.title, left(d.text, 60), 'quoted in ' || coalesce(q.title, left(q.text, 60))), "
        "d.author, d.published_at, tt.topic_id, tt.label, l.sid FROM l "
        "LEFT JOIN claims c ON c.sentence_id = l.sid LEFT JOIN sentences s ON s.id = l.sid "
        "LEFT JOIN documents d ON d.id = coalesce(c.document_id, l.tdoc) "
        f"LEFT JOIN documents q ON q.id = l.src {join} "
        f"WHERE l.attacks > 0 AND (l.sid IS NULL OR c.sentence_id IS NOT NULL) {where} "
        "ORDER BY l.attacks DESC, l.supports, l.k LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        "attacks",
        "supports",
        "claim",
        "document",
        "author",
        "published_at",
        "topic",
        "topic_label",
        "sentence_id",
    ], rows


def of_document(con: duckdb.DuckDBPyConnection, doc: str) -> Table:
    """The claims of one document, given its id or URL, in text order."""
    from ..htmltext import url_key

    try:
        key = url_key(doc)
    except Exception:
        key = doc
    row = con.execute(
        "SELECT id FROM documents WHERE id = ? OR url = ? OR url_key = ? LIMIT 1", [doc, doc, key]
    ).fetchone()
    if not row:
        raise UsageError(
            f"no document {doc!r}: give a document id or URL (crux debates --json lists "
            "ids; crux claims search shows URLs; the site's pages are /doc/<id>)"
        )
    join, params = topic_join(con)
    rows = con.execute(
        "SELECT s.position, c.score, c.kind, s.text, tt.topic_id, c.sentence_id FROM claims c "
        f"JOIN sentences s ON s.id = c.sentence_id {join} WHERE c.document_id = ? ORDER BY s.position",
        [*params, row[0]],
    ).fetchall()
    return ["position", "score", "kind", "claim", "topic", "sentence_id"], rows


def latency(
    con: duckdb.DuckDBPyConnection, queries: list[str], k: int = 10, index: ClaimIndex | None = None
) -> dict[str, float]:
    """p50/p95 milliseconds of :meth:`ClaimIndex.search` over ``queries`` (model and vectors loaded once)."""
    import numpy as np

    index = index or ClaimIndex(con)
    index.search(queries[0], k)  # warm the model
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, k)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "n_claims": len(index.ids),
        "queries": len(queries),
    }


__all__ = ["ClaimIndex", "contested", "latency", "of_document", "search", "topic_join"]
