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
            counts[t] = (
                cached[t]
                if t in cached
                else (await _rows(db, f"select count(*) as n from [{t}]"))[0]["n"]
            )
    return {"crux_meta": meta, "crux_counts": counts, "crux_db": db.name}


# ---- document page ---------------------------------------------------------------------


async def document_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    doc_id = _var(request, "id")
    docs = await _rows(
        db,
        """select d.*, s.name as source_name from documents d
                              left join sources s on s.id = d.source_id where d.id = ?""",
        [doc_id],
    )
    if not docs:
        raise _not_found(f"No document with id {doc_id!r}")
    doc = docs[0]

    def has(*tables: str) -> bool:
        return all(t in have for t in tables)

    blocks = (
        await _rows(db, "select * from blocks where document_id = ? order by position", [doc_id])
        if has("blocks")
        else []
    )
    sentences = (
        await _rows(db, "select * from sentences where document_id = ? order by position", [doc_id])
        if has("sentences")
        else []
    )
    claims = (
        {
            r["sentence_id"]: r
            for r in await _rows(db, "select * from claims where document_id = ?", [doc_id])
        }
        if has("claims")
        else {}
    )
    forecasts = (
        {
            r["sentence_id"]: r
            for r in await _rows(db, "select * from forecasts where document_id = ?", [doc_id])
        }
        if has("forecasts")
        else {}
    )
    attacks_out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    attacks_in: dict[str, list[dict[str, Any]]] = defaultdict(list)
    args = _debate_args(request)  # the debate page's cut-off and "show all" control
    hidden = 0
    if has("claim_links", "sentences", "documents"):
        for r in await _rows(
            db,
            """
                select l.*, coalesce(ts.text, l.target_text) as other_text,
                       coalesce(td.title, 'comment by ' || td.author) as other_title,
                       td.author as other_author, l.target_document_id as other_document_id
                from claim_links l left join sentences ts on ts.id = l.target_sentence_id
                left join documents td on td.id = l.target_document_id
                where l.source_document_id = ? order by l.score desc""",
            [doc_id],
        ):
            if (r["score"] or 0) < args["min_score"]:
                hidden += 1
                continue
            attacks_out[r["source_sentence_id"]].append(r)
        for r in await _rows(
            db,
            """
                select l.*, ss.text as other_text, coalesce(sd.title, 'comment by ' || sd.author) as other_title,
                       sd.author as other_author,
                       l.source_document_id as other_document_id
                from claim_links l left join sentences ss on ss.id = l.source_sentence_id
                left join documents sd on sd.id = l.source_document_id
                where l.target_document_id = ? order by l.score desc""",
            [doc_id],
        ):
            if (r["score"] or 0) < args["min_score"]:
                hidden += 1
                continue
            attacks_in[r["target_sentence_id"] or ""].append(r)
    responds_to: list[dict[str, Any]] = []
    responded_by: list[dict[str, Any]] = []
    if has("responses"):
        responds_to = await _rows(
            db,
            """
            select r.*, coalesce(d.title, case when d.id is not null then 'comment by ' || d.author end,
                                 r.target_url, r.target_key) as other_title,
                   d.author as other_author, d.published_at as other_published_at
            from responses r left join documents d on d.id = r.target_id
            where r.source_id = ? order by r.score desc""",
            [doc_id],
        )
        responded_by = await _rows(
            db,
            """
            select r.*, coalesce(d.title, 'comment by ' || d.author) as other_title,
                   d.author as other_author, d.published_at as other_published_at
            from responses r join documents d on d.id = r.source_id
            where r.target_id = ? order by d.published_at""",
            [doc_id],
        )
    from ..analysis.debates import (
        MIN_CLAIM_LINK_SCORE,
        evidence_named,
        outside_title,
        response_method,
    )

    for r in responds_to + responded_by:
        r["method"] = response_method(r.get("evidence"))
    for r in responds_to:
        if not r.get("target_id"):
            r["other_title"] = outside_title(
                r["target_key"], r.get("target_url"), evidence_named(r.get("evidence"))
            )
    replies = await _rows(
        db,
        """select id, author, published_at, substr(text, 1, 240) as excerpt
                                 from documents where parent_id = ? order by published_at limit 200""",
        [doc_id],
    )
    parent = None
    if doc.get("parent_id"):
        p = await _rows(
            db, "select id, title, author, kind from documents where id = ?", [doc["parent_id"]]
        )
        parent = p[0] if p else None
    topic = None
    if has("posts") and doc["kind"] == "post":
        t = await _rows(db, "select topic from posts where id = ?", [doc_id])
        topic = t[0]["topic"] if t else None

    rendered = _segment_blocks(blocks, sentences, claims, forecasts, attacks_out, attacks_in)
    unplaced_in = [
        r for k, rs in attacks_in.items() if k not in {s["id"] for s in sentences} for r in rs
    ]
    return await _render(
        datasette,
        request,
        "crux_document.html",
        {
            "doc": doc,
            "blocks": rendered,
            "segmented": bool(sentences),
            "n_claims": len(claims),
            "n_forecasts": len(forecasts),
            "n_links": sum(map(len, attacks_out.values())) + sum(map(len, attacks_in.values())),
            "responds_to": responds_to,
            "responded_by": responded_by,
            "replies": replies,
            "parent": parent,
            "topic": topic,
            "unplaced_in": unplaced_in,
            "hidden_links": hidden,
            "args": args,
            "cutoff": MIN_CLAIM_LINK_SCORE,
        },
    )


def _segment_blocks(
    blocks: list[dict[str, Any]],
    sentences: list[dict[str, Any]],
    claims: dict[str, Any],
    forecasts: dict[str, Any],
    out: dict[str, list[Any]],
    inc: dict[str, list[Any]],
) -> list[dict[str, Any]]:
    """Blocks with their text cut into plain runs and sentences (with claim/forecast marks)."""
    by_block: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sentences:
        by_block[s["block_id"]].append(s)
    known = {b["id"] for b in blocks}
    # sentences whose block is not in the snapshot: one paragraph per block id, in order
    order = list(blocks) + [
        {"id": bid, "kind": "paragraph", "depth": 0, "text": None}
        for bid in dict.fromkeys(s["block_id"] for s in sentences)
        if bid not in known
    ]
    result = []
    marked = 0  # numbered markers run 1, 2, 3... over the document: one per linked sentence
    # a passage several sentences answer is quoted in full once; later notes point to that note
    first_quoted: dict[str, int] = {}
    for b in order:
        text = b.get("text")
        pieces: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        pos = 0
        for s in sorted(by_block.get(b["id"], []), key=lambda s: s["position"]):
            start, end = s.get("start"), s.get("end")
            if (
                text is not None
                and isinstance(start, int)
                and isinstance(end, int)
                and pos <= start <= end <= len(text)
            ):
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
            piece = {
                "text": body,
                "sentence": s,
                "claim": c,
                "tier": tier,
                "forecast": f,
                "quote": bool(s.get("in_quote")),
                "n": None,
            }
            links = out.get(s["id"], []) + inc.get(s["id"], [])
            if links:
                marked += 1
                piece["n"] = marked
                for link in out.get(s["id"], []):
                    key = " ".join((link.get("other_text") or "").split())
                    same = first_quoted.get(key) if key else None
                    if key and same is None:
                        first_quoted[key] = piece["n"]
                    notes.append(
                        {
                            "n": piece["n"],
                            "direction": "out",
                            "link": link,
                            "sentence": body,
                            "same_as": same,
                        }
                    )
                for link in inc.get(s["id"], []):
                    notes.append(
                        {"n": piece["n"], "direction": "in", "link": link, "sentence": body}
                    )
            pieces.append(piece)
        if text is not None and pos < len(text):
            pieces.append({"text": text[pos:]})
        if not pieces:
            continue
        result.append(
            {
                "kind": b.get("kind") or "paragraph",
                "depth": b.get("depth") or 0,
                "pieces": pieces,
                "notes": notes,
            }
        )
    return result


# ---- debates ---------------------------------------------------------------------------
# The debates themselves are computed once by crux.analysis.debates when the snapshot is
# written (tables debate_groups and debate_members); these pages only read them.

MAX_DEBATES_LISTED = 300
CLAIM_RELATIONS = ("attacks", "supports")


async def debates_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    debates: list[dict[str, Any]] = []
    total = 0
    if {"debate_groups", "debate_members"} <= have:
        total = (await _rows(db, "select count(*) as n from debate_groups"))[0]["n"]
        debates = await _rows(
            db, "select * from debate_groups order by rank limit ?", [MAX_DEBATES_LISTED]
        )
        members: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in await _rows(
            db,
            """select * from debate_members where debate_id in
                (select id from debate_groups order by rank limit ?)
                order by kind = 'outside', published_at""",
            [MAX_DEBATES_LISTED],
        ):
            members[m["debate_id"]].append(m)
        for d in debates:
            d["members"] = members[d["id"]]
            d["authors"] = sorted({m["author"] for m in d["members"] if m["author"]})
            d["outside_works"] = [m for m in d["members"] if m["kind"] == "outside"]
    return await _render(
        datasette,
        request,
        "crux_debates.html",
        {"debates": debates, "total": total, "snapshot_has_debates": "debate_groups" in have},
    )


def _debate_args(request: Any) -> dict[str, Any]:
    from ..analysis.debates import MIN_CLAIM_LINK_SCORE

    relation = request.args.get("relation") or ""
    show_all = request.args.get("all") in ("1", "on", "true")
    return {
        "relation": relation if relation in CLAIM_RELATIONS else "",
        "show_all": show_all,
        "min_score": 0.0 if show_all else MIN_CLAIM_LINK_SCORE,
    }


async def _debate(db: Any, have: set[str], doc_id: str) -> tuple[Any, list[Any], list[Any]]:
    """(the Debate holding ``doc_id`` or None, its response rows, its claim-link rows)."""
    from ..analysis.debates import CLAIM_LINK_SQL, RESPONSE_SQL, Debate, Node

    if not {"debate_groups", "debate_members"} <= have:
        return None, [], []
    found = await _rows(db, "select debate_id from debate_members where node_id = ?", [doc_id])
    if not found:
        return None, [], []
    head = (await _rows(db, "select * from debate_groups where id = ?", [found[0]["debate_id"]]))[0]
    members = await _rows(
        db, "select * from debate_members where debate_id = ? order by node_id", [head["id"]]
    )
    d = Debate(
        id=head["id"],
        title=head["title"],
        responses=head["responses"],
        claim_links=head["claim_links"],
        rebuttals=head["rebuttals"],
        nodes=[
            Node(m["node_id"], m["kind"], m["title"], m["author"], m["published_at"], m["url"])
            for m in members
        ],
    )
    docs = [n.id for n in d.nodes if n.kind != "outside"]
    marks = ",".join("?" for _ in docs)
    resp = (
        [tuple(r.values()) for r in await _rows(db, RESPONSE_SQL.format(ids=marks), docs)]
        if "responses" in have
        else []
    )
    links = (
        [tuple(r.values()) for r in await _rows(db, CLAIM_LINK_SQL.format(ids=marks), docs)]
        if {"claim_links", "sentences"} <= have
        else []
    )
    return d, resp, links


async def debate_page(datasette: Any, request: Any) -> Any:
    from ..analysis.debates import (
        MIN_CLAIM_LINK_SCORE,
        MIN_RESPONSE_SCORE,
        group_claim_links,
        response_method,
    )

    db = _db(datasette)
    have = await _tables(db)
    start = _var(request, "id")
    if not await _rows(db, "select id from documents where id = ?", [start]):
        raise _not_found(f"No document with id {start!r}")
    d, resp, links = await _debate(db, have, start)
    nodes = d.nodes if d else []
    docs = [n for n in nodes if n.kind != "outside"][:MAX_DEBATE_DOCS]
    outside = [n for n in nodes if n.kind == "outside"]
    ids = [n.id for n in docs]
    marks = ",".join("?" for _ in ids)
    source = (
        {
            r["id"]: r["source_name"]
            for r in await _rows(
                db,
                f"""select d.id, s.name as source_name
        from documents d left join sources s on s.id = d.source_id where d.id in ({marks})""",
                ids,
            )
        }
        if ids
        else {}
    )
    titles = {n.id: n.title for n in nodes}
    responses = [
        {
            "source": s,
            "target": tid or key,
            "relation": rel,
            "score": score,
            "method": response_method(ev),
            "outside": tid is None,
            "source_title": titles.get(s, s),
            "target_title": titles.get(tid or key, tid or key),
        }
        for s, tid, key, rel, score, ev in resp
        if score >= MIN_RESPONSE_SCORE
    ]
    args = _debate_args(request)
    work: dict[str, str] = {}  # the outside work each document answers: where its quotes come from
    for s, tid, key, _rel, _score, _ev in resp:
        if tid is None:
            work.setdefault(s, titles.get(key, key))
    rows = [
        {
            "id": lid,
            "source_sentence_id": ssid,
            "source_document_id": sdoc,
            "source_text": stext,
            "target_sentence_id": tsid,
            "target_document_id": tdoc,
            "target_text": ttext,
            "relation": rel,
            "score": score,
            "method": method,
            "source_title": titles.get(sdoc, sdoc),
            "target_title": titles.get(tdoc) if tdoc else work.get(sdoc),
        }
        for lid, ssid, sdoc, stext, tsid, tdoc, ttext, rel, score, method in links
    ]
    grouped = group_claim_links(
        rows, min_score=args["min_score"], relation=args["relation"] or None
    )
    chart = {
        "nodes": [
            {
                "id": n.id,
                "title": n.title,
                "author": n.author,
                "date": n.published_at,
                "kind": n.kind,
                "root": n.id == start,
            }
            for n in docs + outside
        ],
        "edges": [
            {
                "source": r["source"],
                "target": r["target"],
                "relation": r["relation"],
                "source_title": r["source_title"],
                "target_title": r["target_title"],
            }
            for r in responses
        ],
    }
    root_title = (
        titles.get(start)
        or (
            await _rows(
                db,
                "select coalesce(title, 'comment by ' || author) as t from documents where id = ?",
                [start],
            )
        )[0]["t"]
    )
    return await _render(
        datasette,
        request,
        "crux_debate.html",
        {
            "start": start,
            "debate": d,
            "summary": d.summary() if d else None,
            "start_title": d.title if d else root_title,
            "docs": docs,
            "sources": source,
            "outside": outside,
            "responses": responses,
            "links": grouped,
            "n_links": len(rows),
            "args": args,
            "cutoff": MIN_CLAIM_LINK_SCORE,
            "relations": CLAIM_RELATIONS,
            "chart_json": chart,
            "truncated": len(nodes) - len(outside) > len(docs),
        },
    )


async def debate_export(datasette: Any, request: Any) -> Any:
    """``/debate/{id}.json`` and ``/debate/{id}.graphml``: the debate as an argument graph."""
    from datasette.utils.asgi import Response

    from ..analysis.debates import graph_from_rows, to_graphml

    db = _db(datasette)
    have = await _tables(db)
    start, fmt = _var(request, "id"), request.url_vars["fmt"]
    d, resp, links = await _debate(db, have, start)
    if d is None:
        raise _not_found(f"No debate holds document {start!r}")
    graph = graph_from_rows(d, resp, links)
    name = "debate-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in d.id)[:80]
    if fmt == "graphml":
        return Response(
            to_graphml(graph),
            content_type="application/graphml+xml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.graphml"'},
        )
    return Response(
        json.dumps(graph, indent=2),
        content_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
    )


# ---- forecasts -------------------------------------------------------------------------

FORECAST_FORMS = ("numeric", "hedged", "unhedged")


FORECAST_PAGE = 100
# query argument -> (SQL condition over forecast_details, how the value is read)
FORECAST_FILTERS = {
    "author": "author = :author",
    "holder": "coalesce(holder, author) = :holder",
    "source": "source = :source",
    "from": "substr(published_at, 1, 10) >= :from",
    "to": "substr(published_at, 1, 10) <= :to",
    "horizon_from": "horizon >= :horizon_from",
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
            counts = {
                r["form"]: r["n"]
                for r in await _rows(
                    db, "select form, count(*) as n from forecast_details group by form"
                )
            }
        where, params = _forecast_where(request, cols, today)
        total = (await _rows(db, f"select count(*) as n from forecast_details {where}", params))[0][
            "n"
        ]
        rows = await _rows(
            db,
            f"""select * from forecast_details {where}
            order by horizon is null, horizon, probability desc
            limit {FORECAST_PAGE} offset {(page - 1) * FORECAST_PAGE}""",
            params,
        )
    points = [
        {
            "id": r["sentence_id"],
            "doc": r["document_id"],
            "horizon": r["horizon"],
            "p": r["probability"],
            "low": r["low"],
            "high": r["high"],
            "label": (r["author"] or "") + ": " + (r["text"] or "")[:160],
        }
        for r in rows
    ]
    args = {
        k: request.args.get(k) for k in request.args.keys() if k != "page" and request.args.get(k)
    }
    return await _render(
        datasette,
        request,
        "crux_forecasts.html",
        {
            "forecasts": rows,
            "chart_json": points,
            "form": form,
            "forms": FORECAST_FORMS,
            "form_counts": counts,
            "args": args,
            "page": page,
            "total": total,
            "pages": max(1, -(-total // FORECAST_PAGE)),
            "today": today,
            "n_charted": sum(
                1 for p in points if p["horizon"] and (p["p"] is not None or p["low"] is not None)
            ),
        },
    )


async def _forecast_details(db: Any, where: str, value: str) -> list[dict[str, Any]]:
    """Rows of ``forecast_details`` matching ``where`` (with ``:v`` bound to ``value``); none
    when the snapshot has no forecasts."""
    if "forecast_details" not in await _tables(db):
        return []
    return await _rows(db, f"select * from forecast_details where {where}", {"v": value})


async def forecast_author_page(datasette: Any, request: Any) -> Any:
    """One author's (or holder's) track record: score, calibration chart, resolved forecasts."""
    db = _db(datasette)
    name = _var(request, "name")
    rows = await _forecast_details(
        db, "author = :v order by outcome is null, horizon is null, horizon", name
    )
    if not rows:
        raise _not_found(f"No forecasts by {name}")
    scored = [
        (r["implied_probability"], 1.0 if r["outcome"] == "yes" else 0.0)
        for r in rows
        if r.get("outcome") in ("yes", "no") and r["implied_probability"] is not None
    ]
    from ..analysis.tracking import brier, log_score

    score = None
    bins = []
    if scored:
        ps, os_ = [p for p, _ in scored], [o for _, o in scored]
        score = {
            "n": len(ps),
            "brier": brier(ps, os_),
            "log": log_score(ps, os_),
            "base_rate": sum(os_) / len(os_),
        }
        agg: dict[int, list[float]] = {}
        for p, o in scored:
            b = agg.setdefault(min(int(p * 10), 9), [0, 0.0, 0.0])
            b[0] += 1
            b[1] += p
            b[2] += o
        bins = [{"n": n, "p": sp / n, "o": so / n} for _, (n, sp, so) in sorted(agg.items())]
    return await _render(
        datasette,
        request,
        "crux_forecast_author.html",
        {"name": name, "forecasts": rows, "score": score, "bins": bins},
    )


async def forecast_group_page(datasette: Any, request: Any) -> Any:
    """One same-event group: every forecast of the event side by side, oldest first."""
    db = _db(datasette)
    gid = _var(request, "id")
    rows = await _forecast_details(db, "group_id = :v order by published_at, forecast_key", gid)
    if not rows:
        raise _not_found(f"No same-event group {gid}")
    outcomes = sorted({r["outcome"] for r in rows if r.get("outcome")})
    known = [r["implied_probability"] for r in rows if r["implied_probability"] is not None]
    return await _render(
        datasette,
        request,
        "crux_forecast_group.html",
        {
            "gid": gid,
            "forecasts": rows,
            "outcomes": outcomes,
            "holders": sorted({r["holder"] or r["author"] or "" for r in rows}),
            "spread": (min(known), max(known)) if len(known) > 1 else None,
        },
    )


# ---- topics ----------------------------------------------------------------------------


def _words(raw: str | None, n: int = 12) -> list[dict[str, Any]]:
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        return []
    out = []
    for w in data[:n]:
        if isinstance(w, list | tuple) and w:
            out.append(
                {
                    "word": str(w[0]),
                    "weight": float(w[1]) if len(w) > 1 and isinstance(w[1], int | float) else 0.0,
                }
            )
        elif isinstance(w, str):
            out.append({"word": w, "weight": 0.0})
    return out


async def topics_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    runs, topics = [], []
    if {"topic_runs", "topics"} <= have:
        runs = await _rows(
            db,
            """select * from topic_runs tr where created_at =
            (select max(created_at) from topic_runs t2 where t2.unit = tr.unit) order by unit""",
        )
        if runs:
            marks = ",".join("?" for _ in runs)
            topics = await _rows(
                db,
                f"""select t.*, r.unit from topics t join topic_runs r
                on r.run_id = t.run_id where t.run_id in ({marks})
                order by r.unit, t.topic_id < 0, t.size desc""",
                [r["run_id"] for r in runs],
            )
    for t in topics:
        t["top_words"] = _words(t["words"], 8)
    return await _render(datasette, request, "crux_topics.html", {"runs": runs, "topics": topics})


async def topic_page(datasette: Any, request: Any) -> Any:
    db = _db(datasette)
    have = await _tables(db)
    run_id, topic_id = _var(request, "run_id"), int(_var(request, "topic_id"))
    if not {"topic_runs", "topics", "topic_assignments"} <= have:
        raise _not_found("This snapshot has no topics")
    found = await _rows(
        db,
        """select t.*, r.unit, r.created_at as run_created_at from topics t
        join topic_runs r on r.run_id = t.run_id where t.run_id = ? and t.topic_id = ?""",
        [run_id, topic_id],
    )
    if not found:
        raise _not_found(f"No topic {topic_id} in run {run_id!r}")
    topic = found[0]
    words = _words(topic["words"], 15)
    items = (
        await _rows(
            db,
            """
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
        order by ta.probability desc nulls last, published_at desc""",
            [run_id, topic_id],
        )
        if "sentences" in have
        else []
    )
    by_period: dict[str, int] = defaultdict(int)
    for it in items:
        if it["published_at"]:
            by_period[it["published_at"][:7]] += 1
    covered = {
        r["m"]
        for r in await _rows(
            db,
            "select distinct substr(published_at, 1, 7) as m from documents where published_at is not null",
        )
    }
    # a month the corpus does not cover is a gap (null), not a zero
    timeline = [
        {"period": k, "count": by_period.get(k, 0) if k in covered else None}
        for k in _months(by_period)
    ]
    return await _render(
        datasette,
        request,
        "crux_topic.html",
        {
            "topic": topic,
            "words": words,
            "items": items[:300],
            "n_items": len(items),
            "words_json": [{"label": w["word"], "value": w["weight"]} for w in words],
            "timeline_json": timeline,
        },
    )


def _months(counts: dict[str, int]) -> list[str]:
    """Every month from the first to the last key of ``counts`` ("YYYY-MM"), gaps included."""
    keys = sorted(k for k in counts if len(k) == 7 and k[:4].isdigit() and k[5:].isdigit())
    if not keys:
        return []
    y, m = int(keys[0][:4]), int(keys[0][5:])
    out: list[str] = []
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
    return Response(
        path.read_bytes(), content_type=ctype, headers={"Cache-Control": "public, max-age=300"}
    )


ROUTES = [
    (r"^/doc/(?P<id>[^/]+)$", document_page),
    (r"^/debates$", debates_page),
    (r"^/debate/(?P<id>[^/]+)\.(?P<fmt>json|graphml)$", debate_export),
    (r"^/debate/(?P<id>[^/]+)$", debate_page),
    (r"^/forecasts$", forecasts_page),
    (r"^/forecasts/author/(?P<name>[^/]+)$", forecast_author_page),
    (r"^/forecasts/group/(?P<id>[^/]+)$", forecast_group_page),
    (r"^/topics$", topics_page),
    (r"^/topic/(?P<run_id>[^/]+)/(?P<topic_id>-?\d+)$", topic_page),
    (r"^/-/crux/static/(?P<name>[A-Za-z0-9_.-]+)$", static_file),
]


__all__ = ["ROUTES", "home_vars"]
