"""Read-only views of a topic run: list, one topic, over time, by source, by author.

All of them read ``topic_assignments`` (fit and centroid rows) joined to the documents;
counts per period are computed in SQL from the stored assignments (``date_trunc``), not with
BERTopic's ``topics_over_time``. Each returns ``(columns, rows)`` for :mod:`.output`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    import duckdb

Table = tuple[list[str], list[tuple[Any, ...]]]
FREQS = ("day", "week", "month", "quarter", "year")


def item_join(kind: str) -> str:
    """FROM clause: assignments ``a`` with their document ``d`` (and sentence ``s`` for claims)."""
    if kind == "document":
        return "topic_assignments a JOIN documents d ON d.id = a.item_id"
    return (
        "topic_assignments a JOIN claims c ON c.sentence_id = a.item_id "
        "JOIN sentences s ON s.id = a.item_id JOIN documents d ON d.id = c.document_id"
    )


def _text(kind: str) -> str:
    return "coalesce(d.title, left(d.text, 80))" if kind == "document" else "s.text"


def runs(con: duckdb.DuckDBPyConnection) -> Table:
    rows = con.execute(
        "SELECT r.run_id, r.created_at, r.unit, r.n_items, "
        "(SELECT count(*) FROM topics t WHERE t.run_id = r.run_id AND t.topic_id >= 0), "
        "(SELECT count(*) FROM topic_assignments a WHERE a.run_id = r.run_id AND a.method = 'centroid') "
        "FROM topic_runs r ORDER BY r.created_at DESC, r.run_id DESC"
    ).fetchall()
    return ["run_id", "created_at", "unit", "items", "topics", "assigned_after_fit"], rows


def list_topics(con: duckdb.DuckDBPyConnection, run_id: str) -> Table:
    rows = con.execute(
        "SELECT t.topic_id, count(a.item_id) AS n, t.size, t.label FROM topics t "
        "LEFT JOIN topic_assignments a ON a.run_id = t.run_id AND a.topic_id = t.topic_id "
        "WHERE t.run_id = ? GROUP BY t.topic_id, t.size, t.label ORDER BY t.topic_id < 0, n DESC, t.topic_id",
        [run_id],
    ).fetchall()
    total = sum(r[1] for r in rows) or 1
    return (
        ["topic", "items", "fit_size", "share", "label"],
        [(r[0], r[1], r[2], round(r[1] / total, 3), r[3]) for r in rows],
    )


def check_topic(con: duckdb.DuckDBPyConnection, run_id: str, topic: int) -> tuple[str, list[Any]]:
    row = con.execute(
        "SELECT label, words FROM topics WHERE run_id = ? AND topic_id = ?", [run_id, topic]
    ).fetchone()
    if not row:
        lo, hi = con.execute(
            "SELECT min(topic_id), max(topic_id) FROM topics WHERE run_id = ?", [run_id]
        ).fetchone() or (None, None)
        raise UsageError(
            f"no topic {topic} in run {run_id}; topics run from {lo} to {hi} (see crux topics list)"
        )
    return row[0], json.loads(row[1] or "[]")


def show(
    con: duckdb.DuckDBPyConnection, run_id: str, kind: str, topic: int, top: int = 10
) -> dict[str, Table | Any]:
    """Words, top items (nearest the centroid), authors, sources and date range of a topic."""
    from .topics import centroids
    from .vectors import load_vectors

    label, words = check_topic(con, run_id, topic)
    fr = item_join(kind)
    members = con.execute(
        f"SELECT a.item_id, {_text(kind)}, d.author, d.published_at, d.url, a.method FROM {fr} "
        "WHERE a.run_id = ? AND a.topic_id = ?",
        [run_id, topic],
    ).fetchall()
    score: dict[str, float] = {}
    tids, cents, emb_model = centroids(con, run_id)
    if topic in tids and members:
        ids, X, _ = load_vectors(con, kind, model=emb_model, ids=[m[0] for m in members])
        sims = X @ cents[tids.index(topic)]
        score = {i: float(s) for i, s in zip(ids, sims, strict=True)}
    members.sort(key=lambda m: (-score.get(m[0], 0.0), m[0]))
    items = [(m[0], m[1], m[2], m[3], score.get(m[0]), m[4]) for m in members[:top]]
    authors = con.execute(
        f"SELECT coalesce(d.author, '?'), count(*) FROM {fr} WHERE a.run_id = ? AND a.topic_id = ? "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
        [run_id, topic, top],
    ).fetchall()
    sources = con.execute(
        f"SELECT coalesce(src.name, d.source_id, '?'), count(*) FROM {fr} "
        "LEFT JOIN sources src ON src.id = d.source_id WHERE a.run_id = ? AND a.topic_id = ? "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        [run_id, topic],
    ).fetchall()
    span = con.execute(
        f"SELECT min(d.published_at), max(d.published_at) FROM {fr} "
        "WHERE a.run_id = ? AND a.topic_id = ?",
        [run_id, topic],
    ).fetchone() or (None, None)
    return {
        "run_id": run_id,
        "topic": topic,
        "label": label,
        "size": len(members),
        "first": span[0],
        "last": span[1],
        "words": (["word", "weight"], [tuple(w) for w in words]),
        "items": (["item_id", "text", "author", "published_at", "similarity", "url"], items),
        "authors": (["author", "items"], authors),
        "sources": (["source", "items"], sources),
    }


def over_time(con: duckdb.DuckDBPyConnection, run_id: str, kind: str, freq: str = "month") -> Table:
    if freq not in FREQS:
        raise UsageError(f"--freq {freq!r} is not one of: {', '.join(FREQS)}")
    rows = con.execute(
        f"SELECT CAST(date_trunc('{freq}', d.published_at) AS DATE) AS period, a.topic_id, t.label, "
        f"count(*) FROM {item_join(kind)} JOIN topics t ON t.run_id = a.run_id AND t.topic_id = a.topic_id "
        "WHERE a.run_id = ? AND d.published_at IS NOT NULL GROUP BY ALL ORDER BY period, a.topic_id",
        [run_id],
    ).fetchall()
    return ["period", "topic", "label", "items"], rows


def by_source(con: duckdb.DuckDBPyConnection, run_id: str, kind: str) -> Table:
    rows = con.execute(
        f"SELECT coalesce(src.name, d.source_id, '?') AS source, a.topic_id, t.label, count(*) AS n, "
        "round(count(*) / sum(count(*)) OVER (PARTITION BY source), 3) "
        f"FROM {item_join(kind)} LEFT JOIN sources src ON src.id = d.source_id "
        "JOIN topics t ON t.run_id = a.run_id AND t.topic_id = a.topic_id WHERE a.run_id = ? "
        "GROUP BY 1, 2, 3 ORDER BY source, n DESC, a.topic_id",
        [run_id],
    ).fetchall()
    return ["source", "topic", "label", "items", "share_of_source"], rows


def by_author(con: duckdb.DuckDBPyConnection, run_id: str, kind: str, limit: int = 20) -> Table:
    rows = con.execute(
        "WITH x AS (SELECT coalesce(d.author, '?') AS author, a.topic_id, t.label, count(*) AS n "
        f"FROM {item_join(kind)} JOIN topics t ON t.run_id = a.run_id AND t.topic_id = a.topic_id "
        "WHERE a.run_id = ? GROUP BY ALL), "
        "tot AS (SELECT author, sum(n) AS total FROM x GROUP BY author ORDER BY total DESC, author LIMIT ?) "
        "SELECT x.author, tot.total, x.topic_id, x.label, x.n, round(x.n / tot.total, 3) FROM x "
        "JOIN tot USING (author) ORDER BY tot.total DESC, x.author, x.n DESC, x.topic_id",
        [run_id, limit],
    ).fetchall()
    return ["author", "author_items", "topic", "label", "items", "share_of_author"], rows


__all__ = [
    "FREQS",
    "by_author",
    "by_source",
    "item_join",
    "list_topics",
    "over_time",
    "runs",
    "show",
]
