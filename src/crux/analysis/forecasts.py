"""Forecasts with their author, date and topic, filtered by topic and publication date."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from .claims_search import topic_join
from .tracking import key_sql

if TYPE_CHECKING:
    import duckdb

Table = tuple[list[str], list[tuple[Any, ...]]]


def forecasts(
    con: duckdb.DuckDBPyConnection,
    *,
    topic: int | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int | None = None,
    form: str | None = None,
) -> Table:
    """Forecasts made (published) between ``start`` and ``end`` inclusive, newest first;
    ``form``: only ``numeric``, ``hedged`` or ``unhedged`` ones."""
    join, params = topic_join(con, claim_col="f.sentence_id", doc_col="f.document_id")
    where: list[str] = []
    args: list[Any] = []
    if topic is not None:
        where.append("tt.topic_id = ?")
        args.append(topic)
    if form is not None:
        where.append("f.form = ?")
        args.append(form)
    if start is not None:
        where.append("d.published_at >= ?")
        args.append(start)
    if end is not None:
        where.append("CAST(d.published_at AS DATE) <= ?")
        args.append(end)
    sql = (
        "SELECT f.form, f.probability, f.low, f.high, f.verbal, f.implied_probability, "
        "f.horizon, f.horizon_text, f.event, "
        "f.holder, f.condition, d.author, d.published_at, tt.topic_id, s.text, f.sentence_id, "
        f"{key_sql('f.document_id', 's.text')} AS forecast_key, r.outcome "
        "FROM forecasts f JOIN documents d ON d.id = f.document_id "
        f"LEFT JOIN sentences s ON s.id = f.sentence_id {join} "
        f"LEFT JOIN resolutions r ON r.forecast_key = {key_sql('f.document_id', 's.text')} "
        + ("WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.published_at DESC NULLS LAST, f.sentence_id"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = con.execute(sql, [*params, *args]).fetchall()
    return [
        "form",
        "probability",
        "low",
        "high",
        "verbal",
        "implied_probability",
        "horizon",
        "horizon_text",
        "event",
        "holder",
        "condition",
        "author",
        "published_at",
        "topic",
        "sentence",
        "sentence_id",
        "forecast_key",
        "outcome",
    ], rows


__all__ = ["forecasts"]
