"""The site's own pages, served by Datasette through :mod:`crux.site.plugins.crux_site`.

Each page is an async route handler that reads the snapshot with ``db.execute`` and renders a
Jinja template from ``site/templates``. Every page works on a snapshot whose NLP tables are
missing or empty: it says so instead of failing. Text from the corpus is always escaped by
the templates; post HTML is shown only as ``documents.html_safe`` (nh3 output, see
:mod:`crux.site.sanitize`).
"""

from __future__ import annotations

import json
import mimetypes
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..graph import connected_components

STATIC = Path(__file__).parent / "static"
MAX_DEBATE_DOCS = 150


def _db(datasette: Any) -> Any:
    """The crux snapshot: the first file database Datasette serves."""
    for name, db in datasette.databases.items():
        if name != "_internal" and not db.is_memory:
            return db
    from datasette.utils.asgi import NotFound
    raise NotFound("No snapshot is being served")


async def _tables(db: Any) -> set[str]:
    return set(await db.table_names()) | set(await db.view_names())


async def _rows(db: Any, sql: str, params: Any = None) -> list[dict[str, Any]]:
    res = await db.execute(sql, params or [], custom_time_limit=5000)
    return [dict(r) for r in res.rows]


async def _render(datasette: Any, request: Any, template: str, ctx: dict[str, Any]) -> Any:
    from datasette.utils.asgi import Response
    db = _db(datasette)
    ctx = {"crux_db": db.name, **ctx}
    html = await datasette.render_template(template, ctx, request=request, view_name="crux")
    return Response.html(html)


def _var(request: Any, name: str) -> str:
    """A path variable; Datasette redirects %-escapes in paths to its ~-escapes, so undo them."""
    from datasette.utils import tilde_decode
    return tilde_decode(request.url_vars[name])


def _not_found(what: str) -> Exception:
    from datasette.utils.asgi import NotFound
    return NotFound(what)


# ---- home page -------------------------------------------------------------------------

async def home_vars(datasette: Any) -> dict[str, Any]:
    """Template variables for the index page: refresh time and counts."""
    try:
        db = _db(datasette)
    except Exception:
        return {}
    have = await _tables(db)
    meta: dict[str, Any] = {}
    if "_meta" in have:
        meta = {r["key"]: r["value"] for r in await _rows(db, "select key, value from _meta")}
    counts = {}
    cached = db.cached_table_counts or {}
    for t in ("documents", "claims", "forecasts", "responses", "claim_links", "topics"):
        if t in have:
            counts[t] = cached[t] if t in cached else (
                await _rows(db, f"select count(*) as n from [{t}]"))[0]["n"]
    return {"crux_meta": meta, "crux_counts": counts, "crux_db": db.name}


# ---- document page ---------------------------------------------------------------------

async def document_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    doc_id = _var(request, "id")
    docs = await _rows(db, """select d.*, s.name as source_name from documents d
                              left join sources s on s.id = d.source_id where d.id = ?""", [doc_id])
    if not docs:
        raise _not_found(f"No document with id {doc_id!r}")
    doc = docs[0]

    def has(*tables: str) -> bool:
        return all(t in have for t in tables)

    blocks = await _rows(db, "select * from blocks where document_id = ? order by position",
                         [doc_id]) if has("blocks") else []
    sentences = await _rows(db, "select * from sentences where document_id = ? order by position",
                            [doc_id]) if has("sentences") else []
    claims = {r["sentence_id"]: r for r in await _rows(
        db, "select * from claims where document_id = ?", [doc_id])} if has("claims") else {}
    forecasts = {r["sentence_id"]: r for r in await _rows(
        db, "select * from forecasts where document_id = ?", [doc_id])} if has("forecasts") else {}
    attacks_out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    attacks_in: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if has("claim_links", "sentences", "documents"):
        for r in await _rows(db, """
                select l.*, coalesce(ts.text, l.target_text) as other_text,
                       coalesce(td.title, 'comment by ' || td.author) as other_title,
                       td.author as other_author, l.target_document_id as other_document_id
                from claim_links l left join sentences ts on ts.id = l.target_sentence_id
                left join documents td on td.id = l.target_document_id
                where l.source_document_id = ? order by l.score desc""", [doc_id]):
            attacks_out[r["source_sentence_id"]].append(r)
        for r in await _rows(db, """
                select l.*, ss.text as other_text, coalesce(sd.title, 'comment by ' || sd.author) as other_title,
                       sd.author as other_author,
                       l.source_document_id as other_document_id
                from claim_links l left join sentences ss on ss.id = l.source_sentence_id
                left join documents sd on sd.id = l.source_document_id
                where l.target_document_id = ? order by l.score desc""", [doc_id]):
            attacks_in[r["target_sentence_id"] or ""].append(r)
    responds_to: list[dict[str, Any]] = []
    responded_by: list[dict[str, Any]] = []
    if has("responses"):
        responds_to = await _rows(db, """
            select r.*, coalesce(d.title, case when d.id is not null then 'comment by ' || d.author end,
                                 r.target_url, r.target_key) as other_title,
                   d.author as other_author, d.published_at as other_published_at
            from responses r left join documents d on d.id = r.target_id
            where r.source_id = ? order by r.score desc""", [doc_id])
        responded_by = await _rows(db, """
            select r.*, coalesce(d.title, 'comment by ' || d.author) as other_title,
                   d.author as other_author, d.published_at as other_published_at
            from responses r join documents d on d.id = r.source_id
            where r.target_id = ? order by d.published_at""", [doc_id])
    replies = await _rows(db, """select id, author, published_at, substr(text, 1, 240) as excerpt
                                 from documents where parent_id = ? order by published_at limit 200""",
                          [doc_id])
    parent = None
    if doc.get("parent_id"):
        p = await _rows(db, "select id, title, author, kind from documents where id = ?",
                        [doc["parent_id"]])
        parent = p[0] if p else None
    topic = None
    if has("posts") and doc["kind"] == "post":
        t = await _rows(db, "select topic from posts where id = ?", [doc_id])
        topic = t[0]["topic"] if t else None

    rendered = _segment_blocks(blocks, sentences, claims, forecasts, attacks_out, attacks_in)
    unplaced_in = [r for k, rs in attacks_in.items() if k not in {s["id"] for s in sentences}
                   for r in rs]
    return await _render(datasette, request, "crux_document.html", {
        "doc": doc, "blocks": rendered, "segmented": bool(sentences),
        "n_claims": len(claims), "n_forecasts": len(forecasts),
        "n_links": sum(map(len, attacks_out.values())) + sum(map(len, attacks_in.values())),
        "responds_to": responds_to, "responded_by": responded_by, "replies": replies,
        "parent": parent, "topic": topic, "unplaced_in": unplaced_in,
    })


def _segment_blocks(blocks: list[dict[str, Any]], sentences: list[dict[str, Any]],
                    claims: dict[str, Any], forecasts: dict[str, Any],
                    out: dict[str, list[Any]], inc: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Blocks with their text cut into plain runs and sentences (with claim/forecast marks)."""
    by_block: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sentences:
        by_block[s["block_id"]].append(s)
    known = {b["id"] for b in blocks}
    # sentences whose block is not in the snapshot: one paragraph per block id, in order
    order = list(blocks) + [{"id": bid, "kind": "paragraph", "depth": 0, "text": None}
                            for bid in dict.fromkeys(s["block_id"] for s in sentences)
                            if bid not in known]
    result = []
    for b in order:
        text = b.get("text")
        pieces: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        pos = 0
        for s in sorted(by_block.get(b["id"], []), key=lambda s: s["position"]):
            start, end = s.get("start"), s.get("end")
            if text is not None and isinstance(start, int) and isinstance(end, int) \
                    and pos <= start <= end <= len(text):
                if start > pos:
                    pieces.append({"text": text[pos:start]})
                body = text[start:end]
                pos = end
            else:
                body = s["text"]
                if pieces:
                    pieces.append({"text": " "})
            c = claims.get(s["id"])
            f = forecasts.get(s["id"])
            tier = None
            if c is not None:
                sc = c["score"] or 0
                tier = "high" if sc >= 0.8 else "mid" if sc >= 0.5 else "low"
            piece = {"text": body, "sentence": s, "claim": c, "tier": tier, "forecast": f,
                     "quote": bool(s.get("in_quote")), "n": None}
            links = out.get(s["id"], []) + inc.get(s["id"], [])
            if links:
                piece["n"] = len(notes) + 1
                for link in out.get(s["id"], []):
                    notes.append({"n": piece["n"], "direction": "out", "link": link, "sentence": body})
                for link in inc.get(s["id"], []):
                    notes.append({"n": piece["n"], "direction": "in", "link": link, "sentence": body})
            pieces.append(piece)
        if text is not None and pos < len(text):
            pieces.append({"text": text[pos:]})
        if not pieces:
            continue
        result.append({"kind": b.get("kind") or "paragraph", "depth": b.get("depth") or 0,
                       "pieces": pieces, "notes": notes})
    return result


# ---- debates ---------------------------------------------------------------------------

async def _edges(db: Any, have: set[str]) -> list[tuple[str, str, str, str]]:
    """(source document, target document, relation, level) for every in-corpus link.

    A citation alone does not make two documents part of one debate: ``cites`` is left out.
    """
    edges: list[tuple[str, str, str, str]] = []
    if "responses" in have:
        edges += [(r["source_id"], r["target_id"], r["relation"], "document") for r in await _rows(
            db, """select source_id, target_id, relation from responses
                   where target_id is not null and relation != 'cites'""")]
    if "claim_links" in have:
        edges += [(r["s"], r["t"], r["relation"], "claim") for r in await _rows(db, """
            select distinct source_document_id as s, target_document_id as t, relation
            from claim_links where target_document_id is not null""")]
    return edges


async def debates_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    edges = await _edges(db, have)
    groups = connected_components((s, t) for s, t, _, _ in edges if s != t)
    debates = []
    for members in groups[:100]:
        ids = sorted(members)[:500]
        marks = ",".join("?" for _ in ids)
        docs = await _rows(db, f"""select id, coalesce(title, 'comment by ' || author) as title,
                author, kind, published_at from documents where id in ({marks})
                order by kind = 'comment', published_at""", ids)
        if not docs:
            continue
        n_rebut = sum(1 for s, t, rel, _ in edges if s in members and rel in ("rebuts", "attacks"))
        debates.append({"root": docs[0], "docs": docs, "size": len(members), "rebuttals": n_rebut,
                        "authors": sorted({d["author"] for d in docs if d["author"]}),
                        "start": docs[0]["published_at"],
                        "end": max((d["published_at"] or "") for d in docs)})
    return await _render(datasette, request, "crux_debates.html", {"debates": debates})


async def debate_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    start = _var(request, "id")
    if not await _rows(db, "select id from documents where id = ?", [start]):
        raise _not_found(f"No document with id {start!r}")
    edges = await _edges(db, have)
    adj: dict[str, set[str]] = defaultdict(set)
    for s, t, _, _ in edges:
        adj[s].add(t)
        adj[t].add(s)
    seen = {start}
    frontier = [start]
    while frontier and len(seen) < MAX_DEBATE_DOCS:
        nxt = []
        for x in frontier:
            for y in sorted(adj[x]):
                if y not in seen and len(seen) < MAX_DEBATE_DOCS:
                    seen.add(y)
                    nxt.append(y)
        frontier = nxt
    ids = sorted(seen)
    marks = ",".join("?" for _ in ids)
    docs = await _rows(db, f"""select d.id, d.title, d.author, d.kind, d.published_at, d.url,
            s.name as source_name from documents d left join sources s on s.id = d.source_id
            where d.id in ({marks}) order by d.published_at""", ids)
    titles = {d["id"]: d["title"] or f"comment by {d['author']}" for d in docs}
    doc_edges = [{"source": s, "target": t, "relation": rel, "level": lvl,
                  "source_title": titles.get(s), "target_title": titles.get(t)}
                 for s, t, rel, lvl in edges if s in seen and t in seen]
    claim_links = []
    if "claim_link_details" in have:
        claim_links = await _rows(db, f"""select * from claim_link_details
            where source_document_id in ({marks}) and (target_document_id in ({marks})
                  or target_document_id is null)
            order by target_document_id, relation, score desc""", ids + ids)
    chart = {"nodes": [{"id": d["id"], "title": titles[d["id"]], "author": d["author"],
                        "date": d["published_at"], "kind": d["kind"], "root": d["id"] == start}
                       for d in docs],
             "edges": [e for e in doc_edges if e["level"] == "document"] or doc_edges}
    return await _render(datasette, request, "crux_debate.html", {
        "start": start, "start_title": titles.get(start), "docs": docs,
        "edges": [e for e in doc_edges if e["level"] == "document"], "claim_links": claim_links,
        "chart_json": chart, "truncated": len(seen) >= MAX_DEBATE_DOCS})


# ---- forecasts -------------------------------------------------------------------------

FORECAST_FORMS = ("numeric", "hedged", "unhedged")


FORECAST_PAGE = 100
# query argument -> (SQL condition over forecast_details, how the value is read)
FORECAST_FILTERS = {
    "author": "author = :author", "holder": "coalesce(holder, author) = :holder",
    "source": "source = :source", "from": "substr(published_at, 1, 10) >= :from",
    "to": "substr(published_at, 1, 10) <= :to", "horizon_from": "horizon >= :horizon_from",
    "horizon_to": "horizon <= :horizon_to",
}


def _forecast_where(request: Any, cols: set[str], today: str) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and parameters of the forecasts page's filters (unknown ones ignored)."""
    conds, params = [], {}
    form = request.args.get("form") or ""
    if form in FORECAST_FORMS and "form" in cols:
        conds.append("form = :form")
        params["form"] = form
    for arg, cond in FORECAST_FILTERS.items():
        v = (request.args.get(arg) or "").strip()
        if v:
            conds.append(cond)
            params[arg] = v
    status = request.args.get("status") or ""
    if "outcome" in cols and status == "resolved":
        conds.append("outcome is not null")
    elif "outcome" in cols and status == "due":
        conds.append("outcome is null and horizon < :today")
        params["today"] = today
    return ("where " + " and ".join(conds)) if conds else "", params


async def forecasts_page(datasette: Any, request: Any) -> Any:
    from datetime import UTC, datetime

    db = _db(datasette)
    have = await _tables(db)
    rows: list[dict[str, Any]] = []
    form = request.args.get("form") or ""
    if form not in FORECAST_FORMS:
        form = ""
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    counts: dict[str, int] = {}
    total = 0
    today = datetime.now(UTC).date().isoformat()
    if "forecast_details" in have:
        cols = {r["name"] for r in await _rows(db, "pragma table_info(forecast_details)")}
        if "form" in cols:
            counts = {r["form"]: r["n"] for r in await _rows(
                db, "select form, count(*) as n from forecast_details group by form")}
        where, params = _forecast_where(request, cols, today)
        total = (await _rows(db, f"select count(*) as n from forecast_details {where}", params))[0]["n"]
        rows = await _rows(db, f"""select * from forecast_details {where}
            order by horizon is null, horizon, probability desc
            limit {FORECAST_PAGE} offset {(page - 1) * FORECAST_PAGE}""", params)
    points = [{"id": r["sentence_id"], "doc": r["document_id"], "horizon": r["horizon"],
               "p": r["probability"], "low": r["low"], "high": r["high"],
               "label": (r["author"] or "") + ": " + (r["text"] or "")[:160]}
              for r in rows]
    args = {k: request.args.get(k) for k in request.args.keys() if k != "page" and request.args.get(k)}
    return await _render(datasette, request, "crux_forecasts.html", {
        "forecasts": rows, "chart_json": points, "form": form, "forms": FORECAST_FORMS,
        "form_counts": counts, "args": args, "page": page, "total": total,
        "pages": max(1, -(-total // FORECAST_PAGE)), "today": today,
        "n_charted": sum(1 for p in points if p["horizon"] and (p["p"] is not None or p["low"] is not None)),
    })


async def forecast_author_page(datasette: Any, request: Any) -> Any:
    """One author's (or holder's) track record: score, calibration chart, resolved forecasts."""
    db = _db(datasette)
    name = _var(request, "name")
    have = await _tables(db)
    rows = []
    if "forecast_details" in have:
        rows = await _rows(db, """select * from forecast_details where author = :n
            order by outcome is null, horizon is null, horizon""", {"n": name})
    if not rows:
        raise _not_found(f"No forecasts by {name}")
    scored = [(r["implied_probability"], 1.0 if r["outcome"] == "yes" else 0.0) for r in rows
              if r.get("outcome") in ("yes", "no") and r["implied_probability"] is not None]
    from ..analysis.tracking import brier, log_score
    score = None
    bins = []
    if scored:
        ps, os_ = [p for p, _ in scored], [o for _, o in scored]
        score = {"n": len(ps), "brier": brier(ps, os_), "log": log_score(ps, os_),
                 "base_rate": sum(os_) / len(os_)}
        agg: dict[int, list[float]] = {}
        for p, o in scored:
            b = agg.setdefault(min(int(p * 10), 9), [0, 0.0, 0.0])
            b[0] += 1
            b[1] += p
            b[2] += o
        bins = [{"n": n, "p": sp / n, "o": so / n} for _, (n, sp, so) in sorted(agg.items())]
    return await _render(datasette, request, "crux_forecast_author.html", {
        "name": name, "forecasts": rows, "score": score, "bins": bins})


# ---- topics ----------------------------------------------------------------------------

def _words(raw: str | None, n: int = 12) -> list[dict[str, Any]]:
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        return []
    out = []
    for w in data[:n]:
        if isinstance(w, list | tuple) and w:
            out.append({"word": str(w[0]), "weight": float(w[1]) if len(w) > 1 and
                        isinstance(w[1], int | float) else 0.0})
        elif isinstance(w, str):
            out.append({"word": w, "weight": 0.0})
    return out


async def topics_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    runs, topics = [], []
    if {"topic_runs", "topics"} <= have:
        runs = await _rows(db, """select * from topic_runs tr where created_at =
            (select max(created_at) from topic_runs t2 where t2.unit = tr.unit) order by unit""")
        if runs:
            marks = ",".join("?" for _ in runs)
            topics = await _rows(db, f"""select t.*, r.unit from topics t join topic_runs r
                on r.run_id = t.run_id where t.run_id in ({marks})
                order by r.unit, t.topic_id < 0, t.size desc""", [r["run_id"] for r in runs])
    for t in topics:
        t["top_words"] = _words(t["words"], 8)
    return await _render(datasette, request, "crux_topics.html", {"runs": runs, "topics": topics})


async def topic_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    run_id, topic_id = _var(request, "run_id"), int(_var(request, "topic_id"))
    if not {"topic_runs", "topics", "topic_assignments"} <= have:
        raise _not_found("This snapshot has no topics")
    found = await _rows(db, """select t.*, r.unit, r.created_at as run_created_at from topics t
        join topic_runs r on r.run_id = t.run_id where t.run_id = ? and t.topic_id = ?""",
                        [run_id, topic_id])
    if not found:
        raise _not_found(f"No topic {topic_id} in run {run_id!r}")
    topic = found[0]
    words = _words(topic["words"], 15)
    items = await _rows(db, """
        select ta.item_kind, ta.item_id, ta.probability,
               coalesce(d.id, cd.id) as document_id,
               coalesce(d.title, cd.title, 'comment by ' || coalesce(d.author, cd.author)) as title,
               coalesce(d.author, cd.author) as author,
               coalesce(d.published_at, cd.published_at) as published_at,
               s.text as claim_text
        from topic_assignments ta
        left join documents d on ta.item_kind = 'document' and d.id = ta.item_id
        left join sentences s on ta.item_kind = 'claim' and s.id = ta.item_id
        left join documents cd on cd.id = s.document_id
        where ta.run_id = ? and ta.topic_id = ?
        order by ta.probability desc nulls last, published_at desc""", [run_id, topic_id]) \
        if "sentences" in have else []
    by_period: dict[str, int] = defaultdict(int)
    for it in items:
        if it["published_at"]:
            by_period[it["published_at"][:7]] += 1
    timeline = [{"period": k, "count": by_period.get(k, 0)} for k in _months(by_period)]
    return await _render(datasette, request, "crux_topic.html", {
        "topic": topic, "words": words, "items": items[:300], "n_items": len(items),
        "words_json": [{"label": w["word"], "value": w["weight"]} for w in words],
        "timeline_json": timeline,
    })


def _months(counts: dict[str, int]) -> list[str]:
    """Every month from the first to the last key of ``counts`` ("YYYY-MM"), gaps included."""
    keys = sorted(k for k in counts if len(k) == 7 and k[:4].isdigit() and k[5:].isdigit())
    if not keys:
        return []
    y, m = int(keys[0][:4]), int(keys[0][5:])
    out = []
    while f"{y:04d}-{m:02d}" <= keys[-1] and len(out) < 600:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# ---- static files ----------------------------------------------------------------------

async def static_file(datasette: Any, request: Any) -> Any:
    from datasette.utils.asgi import Response
    name = request.url_vars["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise _not_found("No such file")
    ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), content_type=ctype,
                    headers={"Cache-Control": "public, max-age=300"})


ROUTES = [
    (r"^/doc/(?P<id>[^/]+)$", document_page),
    (r"^/debates$", debates_page),
    (r"^/debate/(?P<id>[^/]+)$", debate_page),
    (r"^/forecasts$", forecasts_page),
    (r"^/forecasts/author/(?P<name>[^/]+)$", forecast_author_page),
    (r"^/topics$", topics_page),
    (r"^/topic/(?P<run_id>[^/]+)/(?P<topic_id>-?\d+)$", topic_page),
    (r"^/-/crux/static/(?P<name>[A-Za-z0-9_.-]+)$", static_file),
]

__all__ = ["ROUTES", "home_vars"]
