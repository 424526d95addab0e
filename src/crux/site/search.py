"""The site's search page: full-text search over posts, comments, claims, forecasts and sentences.

``/search?q=...`` runs the snapshot's FTS5 indexes (porter stemming, built by
:mod:`crux.site.export`) and shows, for each kind, the best matches with a snippet; every hit
links to its document page, on the sentence when there is one (``/doc/<id>#s-<position>``).
The query is first read as FTS5 syntax (``"a phrase"``, ``OR``, ``prefix*``, ``title:word``);
when SQLite cannot read it, its words are searched instead and the page says so. An empty
query shows the form. ``in=<kind>`` shows more hits of one kind. Counts stop at :data:`COUNT_CAP`
("1,000+"): counting every match of a common word among a million sentences is most of a
search's time, and nobody reads past the first thousand.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

START, END = "\x02", "\x03"  # snippet markers: never in text the templates escape
PER_GROUP = 10
MORE = 100
MAX_QUERY = 500
COUNT_CAP = 1000  # a group's count stops here (shown as "1,000+")


@dataclass(frozen=True)
class Group:
    key: str  # the ``in=`` value and the section's id
    title: str
    fts: str  # the FTS5 table
    table: str  # the table it indexes (a hit's rowid)
    needs: tuple[str, ...]


GROUPS = (
    Group("posts", "Posts", "documents_fts", "documents", ("documents",)),
    Group("comments", "Comments", "documents_fts", "documents", ("documents",)),
    Group("claims", "Claims", "claims_fts", "claims", ("claims", "documents")),
    Group("forecasts", "Forecasts", "forecasts_fts", "forecasts", ("forecasts", "documents")),
    Group("sentences", "Sentences", "sentences_fts", "sentences", ("sentences", "documents")),
)


def words_query(q: str) -> str:
    """``q``'s words, each as a quoted FTS5 term (what is searched when ``q`` is not FTS5)."""
    return " ".join(f'"{w}"' for w in re.findall(r"\w+", q))


def snippet_parts(snippet: str | None) -> list[tuple[str, bool]]:
    """A snippet with START/END markers as ``[(text, matched), ...]`` for the template."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(re.split(f"[{START}{END}]", snippet or "")):
        if chunk:
            parts.append((chunk, i % 2 == 1))
    return parts


def _sql(group: Group, have: set[str], count: bool) -> str:
    """The hits (or their count) of one group for ``:q``."""
    snip = f"snippet({group.fts}, -1, char(2), char(3), '…', 24)"
    where = f"{group.fts} match :q"
    if group.table == "documents":
        where += f" and d.kind = '{group.key[:-1]}'"
        head = (
            "select d.id as document_id, null as position, d.kind, "
            "coalesce(d.title, 'comment by ' || coalesce(d.author, 'someone')) as title, d.author, "
            f"substr(d.published_at, 1, 10) as published, {snip} as snip, null as extra"
        )
        frm = f"from {group.fts} join documents d on d.rowid = {group.fts}.rowid"
    elif group.table == "sentences":
        head = (
            "select s.document_id, s.position, d.kind, "
            "coalesce(d.title, 'comment by ' || coalesce(d.author, 'someone')) as title, d.author, "
            f"substr(d.published_at, 1, 10) as published, {snip} as snip, "
            "case when s.in_quote then 'quoted' end as extra"
        )
        frm = (
            f"from {group.fts} join sentences s on s.rowid = {group.fts}.rowid "
            "join documents d on d.id = s.document_id"
        )
    else:
        t = "c" if group.table == "claims" else "f"
        pos = "s.position" if "sentences" in have else "null"
        extra = (
            "c.kind"
            if t == "c"
            else "trim(coalesce(cast(round(f.probability * 100) as int) || '% ', '') "
            "|| coalesce(f.horizon_text, ''))"
        )
        head = (
            f"select {t}.document_id, {pos} as position, d.kind, "
            "coalesce(d.title, 'comment by ' || coalesce(d.author, 'someone')) as title, d.author, "
            f"substr(d.published_at, 1, 10) as published, {snip} as snip, {extra} as extra"
        )
        frm = (
            f"from {group.fts} join {group.table} {t} on {t}.rowid = {group.fts}.rowid "
            f"join documents d on d.id = {t}.document_id"
        )
        if "sentences" in have:
            frm += f" left join sentences s on s.id = {t}.sentence_id"
    if count:  # capped: one more than COUNT_CAP says "more"
        return f"select count(*) as n from (select 1 {frm} where {where} limit {COUNT_CAP + 1})"
    return f"{head} {frm} where {where} order by {group.fts}.rank limit :n"


TIME_LIMIT_MS = 3000  # per group of a search (its hits, count and anchors)


def _group_hits_in(
    conn: sqlite3.Connection, group: Group, have: set[str], fts_q: str, n: int
) -> dict[str, Any]:
    """One group's hits, their count and each document hit's sentence, on one connection
    (one trip to a Datasette SQL thread, not one per query), within :data:`TIME_LIMIT_MS`."""
    from datasette.database import QueryInterrupted
    from datasette.utils import sqlite_timelimit

    sql = _sql(group, have, count=False)
    try:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            hits = [dict(r) for r in conn.execute(sql, {"q": fts_q, "n": n}).fetchall()]
            total = conn.execute(_sql(group, have, count=True), {"q": fts_q}).fetchone()[0]
            for h in hits:
                h["parts"] = snippet_parts(h.pop("snip"))
                if h["position"] is None and group.table == "documents" and "sentences" in have:
                    h["position"] = _anchor(conn, h["document_id"], h["parts"])
    except sqlite3.OperationalError as e:
        if e.args == ("interrupted",):
            raise QueryInterrupted(e, sql, {"q": fts_q}) from None
        raise
    shown = f"{COUNT_CAP:,}+" if total > COUNT_CAP else f"{total:,}"
    return {"group": group, "hits": hits, "total": total, "shown": shown}


_CHECK = threading.local()


def readable(fts: str, q: str) -> bool:
    """Whether SQLite reads ``q`` as an FTS5 query of table ``fts`` (checked on an empty
    in-memory table with its columns, so a bad query never reaches the snapshot)."""
    from .export import FTS

    con = getattr(_CHECK, "con", None)
    if con is None:
        con = _CHECK.con = sqlite3.connect(":memory:")
        for table, cols in FTS.items():
            con.execute(
                f"CREATE VIRTUAL TABLE {table}_fts USING fts5({', '.join(cols)}, tokenize='porter')"
            )
    try:
        con.execute(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?", [q]).fetchone()
    except sqlite3.Error:
        return False
    return True


def _anchor(conn: sqlite3.Connection, doc_id: str, parts: list[tuple[str, bool]]) -> int | None:
    """The first sentence of the document holding a matched word (for a document hit)."""
    words = sorted({t.strip() for t, m in parts if m and t.strip()}, key=len, reverse=True)[:3]
    if not words:
        return None
    cond = " or ".join("text like ? escape '\\'" for _ in words)
    like = [
        "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words
    ]
    row = conn.execute(
        f"select position from sentences where document_id = ? and ({cond}) "
        "order by position limit 1",
        [doc_id, *like],
    ).fetchone()
    return row[0] if row else None


async def run(db: Any, have: set[str], q: str, only: str | None = None) -> dict[str, Any]:
    """Search ``q``: {"groups": [...], "note": str | None}. A group whose index cannot read
    ``q`` as FTS5 syntax searches ``q``'s words instead, and the note says so."""
    groups = [
        g
        for g in GROUPS
        if set(g.needs) <= have and g.fts in have and (only is None or g.key == only)
    ]
    words = words_query(q)
    n = MORE if only else PER_GROUP

    async def one(g: Group) -> tuple[dict[str, Any] | None, bool]:
        fts_q = q if readable(g.fts, q) else words
        if not fts_q:
            return None, False
        try:
            got = await db.execute_fn(lambda conn: _group_hits_in(conn, g, have, fts_q, n))
        except sqlite3.OperationalError:  # read here but not by the snapshot's SQLite
            if fts_q == words or not words:
                return None, False
            fts_q = words
            got = await db.execute_fn(lambda conn: _group_hits_in(conn, g, have, fts_q, n))
        return got, fts_q != q

    # the groups run side by side on Datasette's SQL threads, each as one trip
    done = await asyncio.gather(*(one(g) for g in groups))
    out = [got for got, _ in done if got is not None]
    fell_back = any(fb for got, fb in done if got is not None)
    if groups and not out:
        return {
            "groups": [],
            "note": "Nothing to search for: give one or more words, e.g. "
            'forecasting or "prediction markets".',
        }
    note = (
        "Part of the query is search syntax that could not be read (quotes, AND/OR/NOT, "
        "* and column: have special meanings), so its words were searched instead."
        if fell_back
        else None
    )
    return {"groups": out, "note": note}


async def search_page(datasette: Any, request: Any) -> Any:
    """``/search``: the form, and the hits of ``q`` when given."""
    from . import pages

    db = pages._db(datasette)
    have = await pages._tables(db)
    q = (request.args.get("q") or "").strip()[:MAX_QUERY]
    only = request.args.get("in")
    if only not in {g.key for g in GROUPS}:
        only = None
    result: dict[str, Any] = {"groups": [], "note": None}
    if q:
        from datasette.database import QueryInterrupted

        try:
            result = await run(db, have, q, only)
        except QueryInterrupted:
            result["note"] = "That search took too long; try more specific words."
    return await pages._render(
        datasette,
        request,
        "crux_search.html",
        {
            "q": q,
            "only": only,
            "searched": bool(q),
            "missing_fts": "documents_fts" not in have,
            **result,
        },
    )


__all__ = ["COUNT_CAP", "GROUPS", "readable", "run", "search_page", "snippet_parts", "words_query"]
