"""Debates: one model of who answers whom, used by ``crux debates``, the snapshot and the site.

A debate is a connected component of the graph whose nodes are documents and *outside works*
(link targets with no document: papers, posts not crawled, works named in a title) and whose
edges are responses other than ``cites`` and claim links. A claim link whose target is a
quoted passage outside the corpus joins its document to the outside work that document
answers (its best-scored response to a target with no document), or else to a node standing
for "the passages it quotes". So a post that answers an outside work is a debate of two nodes.

:func:`debates` computes the components once from the store's tables (``documents``,
``responses``, ``claim_links``, ``links``); ``crux publish`` writes them to the snapshot as
``debates`` and ``debate_members`` (:func:`debate_rows`), which the site's pages read, so the
list, the page and the CLI agree on members, counts and names.

Links a reader can weigh: every response and claim link keeps its ``score`` and ``method``;
:data:`MIN_RESPONSE_SCORE` and :data:`MIN_CLAIM_LINK_SCORE` are the default cut-offs shown
(chosen on the development sets' precision/recall by cut-off, EVALUATION.md "Debate link
cut-off"; ``eval/links_curve.py``). :func:`group_claim_links` groups claim links by responding
document and quoted passage, each passage once with its answers under it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..graph import connected_components

# Default cut-offs (a control shows everything below them). See EVALUATION.md.
MIN_RESPONSE_SCORE = 0.0
MIN_CLAIM_LINK_SCORE = 0.3
QUOTED_PREFIX = "quoted-by:"


@dataclass
class Node:
    """A document or an outside work in a debate."""

    id: str
    kind: str  # post | comment | outside
    title: str
    author: str | None = None
    published_at: str | None = None
    url: str | None = None


@dataclass
class Debate:
    """One connected component; ``id`` is its root document (the earliest post, else document)."""

    id: str
    title: str
    nodes: list[Node] = field(default_factory=list)
    responses: int = 0
    claim_links: int = 0
    rebuttals: int = 0

    def summary(self) -> dict[str, Any]:
        """The JSON ``crux debates --json`` prints for this debate."""
        docs = [n for n in self.nodes if n.kind != "outside"]
        dates = sorted(n.published_at for n in docs if n.published_at)
        return {
            "root": self.id,
            "title": self.title,
            "nodes": len(self.nodes),
            "documents": len(docs),
            "posts": sum(n.kind == "post" for n in docs),
            "comments": sum(n.kind == "comment" for n in docs),
            "outside": len(self.nodes) - len(docs),
            "responses": self.responses,
            "claim_links": self.claim_links,
            "rebuttals": self.rebuttals,
            "first": dates[0] if dates else None,
            "last": dates[-1] if dates else None,
            "members": sorted(n.id for n in self.nodes),
        }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return (
        value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "isoformat") else str(value)
    )


def _has(con: Any, *tables: str) -> bool:
    have = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    return all(t in have for t in tables)


def outside_title(key: str, url: str | None = None, named: str | None = None) -> str:
    """A readable name for an outside work: the name a title gave it, else its URL's slug."""
    if named:
        return named
    if key.startswith("named:"):
        return key[len("named:") :]
    if key.startswith(QUOTED_PREFIX):
        return "passages it quotes"
    text = url or key
    parts = [p for p in re.split(r"[/?#]", re.sub(r"^[a-z]+://", "", text)) if p]
    for part in reversed(parts[1:]):
        words = [w for w in re.split(r"[-_]+", re.sub(r"\.(html?|php|pdf)$", "", part)) if w]
        while words and words[-1].isdigit():
            words.pop()
        if len(words) >= 2 and sum(c.isalpha() for c in part) > len(part) / 2:
            s = " ".join(words)
            return s[:1].upper() + s[1:]
    return text


def evidence_named(evidence: str | None) -> str | None:
    """The name a response's title gave its outside target (``evidence.signals.named``)."""
    try:
        named = (json.loads(evidence or "{}").get("signals") or {}).get("named")
    except (ValueError, AttributeError):
        return None
    return named if isinstance(named, str) and named.strip() else None


def _edges(con: Any) -> tuple[list[tuple[str, str, str]], dict[str, dict[str, Any]]]:
    """(source, target node, relation) edges, and what is known of each outside work."""
    edges: list[tuple[str, str, str]] = []
    outside: dict[str, dict[str, Any]] = {}
    best_outside: dict[str, tuple[float, str]] = {}
    if _has(con, "responses"):
        for src, tid, key, url, rel, score, evidence in con.execute(
            "SELECT source_id, target_id, target_key, target_url, relation, score, evidence "
            "FROM responses ORDER BY source_id, target_key"
        ).fetchall():
            if rel == "cites":
                continue
            target = tid or key
            edges.append((src, target, rel))
            if tid is None:
                info = outside.setdefault(key, {"url": url, "named": evidence_named(evidence)})
                info["url"] = info["url"] or url
                if src not in best_outside or score > best_outside[src][0]:
                    best_outside[src] = (score, key)
    if _has(con, "claim_links"):
        for src, tdoc, rel in con.execute(
            "SELECT source_document_id, target_document_id, relation FROM claim_links "
            "ORDER BY source_document_id, target_document_id NULLS LAST, id"
        ).fetchall():
            if tdoc is None:
                key = best_outside[src][1] if src in best_outside else QUOTED_PREFIX + src
                outside.setdefault(key, {"url": None, "named": None})
                edges.append((src, key, rel))
            elif tdoc != src:
                edges.append((src, tdoc, rel))
    return edges, outside


def debates(con: Any) -> list[Debate]:
    """Every debate in the store behind ``con`` (DuckDB), largest first, then by first date."""
    edges, outside = _edges(con)
    groups = [g for g in connected_components((s, t) for s, t, _ in edges if s != t) if len(g) > 1]
    every = sorted({x for g in groups for x in g})
    meta: dict[str, Node] = {}
    if every and _has(con, "documents"):
        for did, kind, title, author, published, url in con.execute(
            "SELECT id, kind, title, author, published_at, url FROM documents "
            "WHERE id IN (SELECT unnest(?))",
            [every],
        ).fetchall():
            meta[did] = Node(
                did,
                "post" if kind == "post" else "comment",
                title or f"comment by {author or 'unknown'}",
                author,
                _iso(published),
                url,
            )
    out = []
    for g in groups:
        nodes = []
        for x in sorted(g):
            if x in meta:
                nodes.append(meta[x])
            else:
                info = outside.get(x, {})
                nodes.append(
                    Node(
                        x,
                        "outside",
                        outside_title(x, info.get("url"), info.get("named")),
                        url=info.get("url"),
                    )
                )
        docs = [n for n in nodes if n.kind != "outside"]
        if not docs:
            continue
        root = min(
            [n for n in docs if n.kind == "post"] or docs,
            key=lambda n: (n.published_at is None, n.published_at or "", n.id),
        )
        d = Debate(id=root.id, title=root.title, nodes=nodes)
        d.responses, d.claim_links, d.rebuttals = _counts(con, {n.id for n in docs})
        out.append(d)
    out.sort(key=lambda d: (-len(d.nodes), min((n.published_at or "~") for n in d.nodes), d.id))
    return out


def _counts(con: Any, ids: set[str]) -> tuple[int, int, int]:
    """(responses other than cites, claim links, rebuttals: rebuts responses + attacks links)."""
    resp = rebut = links = 0
    members = sorted(ids)
    if _has(con, "responses"):
        resp, rebut = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE relation = 'rebuts') FROM responses "
            "WHERE relation <> 'cites' AND source_id IN (SELECT unnest(?))",
            [members],
        ).fetchone()
    if _has(con, "claim_links"):
        links, attacks = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE relation = 'attacks') FROM claim_links "
            "WHERE source_document_id IN (SELECT unnest(?))",
            [members],
        ).fetchone()
        rebut += attacks
    return int(resp), int(links), int(rebut)


def find(all_debates: list[Debate], node_id: str) -> Debate | None:
    """The debate ``node_id`` belongs to, if any."""
    for d in all_debates:
        if any(n.id == node_id for n in d.nodes):
            return d
    return None


def debate_rows(con: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for the snapshot's ``debate_groups`` and ``debate_members`` tables (see export.py)."""
    heads, members = [], []
    for rank, d in enumerate(debates(con), 1):
        s = d.summary()
        heads.append(
            (
                d.id,
                rank,
                d.title,
                s["nodes"],
                s["documents"],
                s["posts"],
                s["comments"],
                s["outside"],
                s["responses"],
                s["claim_links"],
                s["rebuttals"],
                s["first"],
                s["last"],
            )
        )
        members += [(d.id, n.id, n.kind, n.title, n.author, n.published_at, n.url) for n in d.nodes]
    return heads, members


DEBATE_COLUMNS = (
    "id",
    "rank",
    "title",
    "nodes",
    "documents",
    "posts",
    "comments",
    "outside",
    "responses",
    "claim_links",
    "rebuttals",
    "first",
    "last",
)
MEMBER_COLUMNS = ("debate_id", "node_id", "kind", "title", "author", "published_at", "url")


# ---- one debate in detail ---------------------------------------------------------------


def group_claim_links(
    rows: list[dict[str, Any]],
    *,
    min_score: float = MIN_CLAIM_LINK_SCORE,
    relation: str | None = None,
) -> dict[str, Any]:
    """Claim links grouped by responding document, then by quoted passage (each shown once).

    ``rows`` need ``source_document_id``, ``source_title``, ``source_text``, ``target_text``,
    ``target_document_id``, ``target_title``, ``relation``, ``method``, ``score``. Returns
    ``{"groups": [{document, title, passages: [{text, target_document_id, target_title,
    answers: [row...]}]}], "shown": n, "hidden": n below the cut-off, "relations": {rel: n}}``.
    """
    relations: dict[str, int] = {}
    shown = hidden = 0
    groups: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: -(r["score"] or 0)):
        relations[r["relation"]] = relations.get(r["relation"], 0) + 1
        if relation and r["relation"] != relation:
            continue
        if (r["score"] or 0) < min_score:
            hidden += 1
            continue
        shown += 1
        g = groups.setdefault(
            r["source_document_id"],
            {"document": r["source_document_id"], "title": r.get("source_title"), "passages": {}},
        )
        key = (r.get("target_document_id") or "", r.get("target_text") or "")
        p = g["passages"].setdefault(
            key,
            {
                "text": r.get("target_text"),
                "target_document_id": r.get("target_document_id"),
                "target_title": r.get("target_title"),
                "answers": [],
            },
        )
        p["answers"].append(r)
    out = []
    for g in groups.values():
        g["passages"] = list(g["passages"].values())
        out.append(g)
    return {
        "groups": out,
        "shown": shown,
        "hidden": hidden,
        "relations": dict(sorted(relations.items())),
    }


def _passage_id(outside_node: str, text: str) -> str:
    import hashlib

    return "passage:" + hashlib.sha256(f"{outside_node}\n{text}".encode()).hexdigest()[:16]


RESPONSE_SQL = (
    "SELECT source_id, target_id, target_key, relation, score, evidence FROM responses "
    "WHERE relation <> 'cites' AND source_id IN ({ids}) ORDER BY score DESC, source_id, target_key"
)
CLAIM_LINK_SQL = (
    "SELECT l.id, l.source_sentence_id, l.source_document_id, s.text, l.target_sentence_id, "
    "l.target_document_id, coalesce(t.text, l.target_text), l.relation, l.score, l.method "
    "FROM claim_links l LEFT JOIN sentences s ON s.id = l.source_sentence_id "
    "LEFT JOIN sentences t ON t.id = l.target_sentence_id "
    "WHERE l.source_document_id IN ({ids}) ORDER BY l.score DESC, l.id"
)


def debate_graph(con: Any, doc_id: str) -> dict[str, Any] | None:
    """The debate holding ``doc_id`` in the store (DuckDB) as an argument graph; None if none.

    See :func:`graph_from_rows`; the site builds the same graph from the snapshot's tables.
    """
    d = find(debates(con), doc_id)
    if d is None:
        return None
    docs = sorted(n.id for n in d.nodes if n.kind != "outside")
    resp = (
        con.execute(RESPONSE_SQL.format(ids="SELECT unnest(?)"), [docs]).fetchall()
        if _has(con, "responses")
        else []
    )
    links = (
        con.execute(CLAIM_LINK_SQL.format(ids="SELECT unnest(?)"), [docs]).fetchall()
        if _has(con, "claim_links", "sentences")
        else []
    )
    return graph_from_rows(d, resp, links)


def graph_from_rows(d: Debate, responses: list[Any], claim_links: list[Any]) -> dict[str, Any]:
    """A debate as an argument graph: typed nodes and typed, scored edges.

    ``responses`` and ``claim_links`` are the rows of :data:`RESPONSE_SQL` and
    :data:`CLAIM_LINK_SQL`. Nodes: ``document`` (posts, comments), ``outside`` (works with no
    document), ``claim`` (sentences of the corpus at either end of a claim link), ``passage``
    (quoted text of an outside work). Edges: ``response`` (document to document or outside
    work: relation, score, method), ``claim_link`` (claim to claim or passage: relation,
    score, method) and ``in`` (a claim in its document, a passage in its outside work).
    """
    nodes: dict[str, dict[str, Any]] = {}
    for n in d.nodes:
        nodes[n.id] = {
            "id": n.id,
            "type": "outside" if n.kind == "outside" else "document",
            "kind": n.kind,
            "title": n.title,
            "author": n.author,
            "published_at": n.published_at,
            "url": n.url,
        }
    edges: list[dict[str, Any]] = []
    best_outside: dict[str, str] = {}
    for src, tid, key, rel, score, evidence in responses:
        if tid is None:
            best_outside.setdefault(src, key)
        edges.append(
            {
                "type": "response",
                "source": src,
                "target": tid or key,
                "relation": rel,
                "score": round(float(score), 3),
                "method": response_method(evidence),
            }
        )
    for lid, ssid, sdoc, stext, tsid, tdoc, ttext, rel, score, method in claim_links:
        if ssid not in nodes:
            nodes[ssid] = {"id": ssid, "type": "claim", "text": stext, "document": sdoc}
            edges.append({"type": "in", "source": ssid, "target": sdoc})
        if tsid:
            target = tsid
            if tsid not in nodes:
                nodes[tsid] = {"id": tsid, "type": "claim", "text": ttext, "document": tdoc}
                edges.append({"type": "in", "source": tsid, "target": tdoc})
        else:
            work = tdoc or best_outside.get(sdoc) or QUOTED_PREFIX + sdoc
            target = _passage_id(work, ttext or "")
            if target not in nodes:
                nodes[target] = {"id": target, "type": "passage", "text": ttext, "work": work}
                edges.append({"type": "in", "source": target, "target": work})
        edges.append(
            {
                "type": "claim_link",
                "id": lid,
                "source": ssid,
                "target": target,
                "relation": rel,
                "score": round(float(score), 3),
                "method": method,
            }
        )
    return {
        "debate": d.summary(),
        "nodes": list(nodes.values()),
        "edges": edges,
        "cutoffs": {"responses": MIN_RESPONSE_SCORE, "claim_links": MIN_CLAIM_LINK_SCORE},
    }


def response_method(evidence: str | None) -> str:
    """How a response was found, from its evidence: ``relation_from`` (e.g. "quote answers")."""
    try:
        ev = json.loads(evidence or "{}")
    except ValueError:
        return "unknown"
    how = ev.get("relation_from") if isinstance(ev, dict) else None
    return str(how) if how else "rules"


def to_graphml(graph: dict[str, Any]) -> str:
    """GraphML (xml.etree) for :func:`debate_graph`'s output: every field a typed attribute."""
    import xml.etree.ElementTree as ET

    ns = "http://graphml.graphdrawing.org/xmlns"
    root = ET.Element("graphml", {"xmlns": ns})
    keys: dict[tuple[str, str], str] = {}

    def key(domain: str, name: str, value: Any) -> str:
        if (domain, name) not in keys:
            kid = f"{domain[0]}_{name}"
            typ = "double" if isinstance(value, float) else "string"
            ET.SubElement(
                root, "key", {"id": kid, "for": domain, "attr.name": name, "attr.type": typ}
            )
            keys[(domain, name)] = kid
        return keys[(domain, name)]

    items = [("node", n) for n in graph["nodes"]] + [("edge", e) for e in graph["edges"]]
    for domain, item in items:  # keys come first in GraphML
        for name, value in item.items():
            if name not in ("id", "source", "target") or domain == "edge" and name == "id":
                if value is not None:
                    key(domain, name, value)
    g = ET.SubElement(
        root, "graph", {"id": str(graph["debate"]["root"]), "edgedefault": "directed"}
    )
    for domain, item in items:
        if domain == "node":
            el = ET.SubElement(g, "node", {"id": str(item["id"])})
        else:
            el = ET.SubElement(
                g, "edge", {"source": str(item["source"]), "target": str(item["target"])}
            )
        for name, value in item.items():
            if (domain, name) in keys and value is not None:
                ET.SubElement(el, "data", {"key": keys[(domain, name)]}).text = str(value)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---- text for ``crux debates show`` -------------------------------------------------------


def resolve(con: Any, ref: str) -> str | None:
    """The document id for ``ref``: a document id, or a URL of a document in the store."""
    from ..htmltext import url_key

    row = con.execute("SELECT id FROM documents WHERE id = ?", [ref]).fetchone()
    if row:
        return str(row[0])
    key = url_key(ref) if "://" in ref else None
    if key:
        row = (
            con.execute(
                "SELECT min(document_id) FROM document_keys WHERE key = ?", [key]
            ).fetchone()
            if _has(con, "document_keys")
            else None
        )
        if not row or row[0] is None:
            row = con.execute("SELECT min(id) FROM documents WHERE url_key = ?", [key]).fetchone()
        if row and row[0] is not None:
            return str(row[0])
    return None


def _label(
    con: Any,
    doc_id: str | None,
    key: str | None,
    url: str | None = None,
    evidence: str | None = None,
) -> str:
    if doc_id:
        r = con.execute("SELECT title, author FROM documents WHERE id = ?", [doc_id]).fetchone()
        if r:
            return f"{r[0] or f'comment {doc_id}'} ({r[1] or 'unknown'})"
    return f"{outside_title(key or '', url, evidence_named(evidence))} (outside the corpus)"


def show_text(
    con: Any,
    doc_id: str,
    width: int,
    *,
    min_score: float = MIN_CLAIM_LINK_SCORE,
    relation: str | None = None,
) -> str:
    """What ``doc_id`` answers and what answers it (relation, method, score), then its claim
    links grouped by responding document and quoted passage, each passage once."""
    import textwrap

    lines = [_label(con, doc_id, doc_id), ""]
    out = con.execute(
        "SELECT target_id, target_key, target_url, relation, score, evidence FROM responses "
        "WHERE source_id = ? ORDER BY relation = 'cites', score DESC, target_key",
        [doc_id],
    ).fetchall()
    inc = con.execute(
        "SELECT source_id, relation, score, evidence FROM responses WHERE target_id = ? "
        "ORDER BY relation = 'cites', score DESC, source_id",
        [doc_id],
    ).fetchall()
    lines.append("Answers:" if out else "Answers: nothing")
    for tid, key, url, rel, score, ev in out:
        lines.append(
            f"  {rel:8} {score:.2f} {response_method(ev):<14} {_label(con, tid, key, url, ev)}"
        )
    lines.append("Answered by:" if inc else "Answered by: nothing")
    for sid, rel, score, ev in inc:
        lines.append(f"  {rel:8} {score:.2f} {response_method(ev):<14} {_label(con, sid, sid)}")
    rows = [
        dict(
            zip(
                (
                    "source_document_id",
                    "source_text",
                    "target_document_id",
                    "target_text",
                    "relation",
                    "method",
                    "score",
                    "source_title",
                    "target_title",
                ),
                r,
                strict=True,
            )
        )
        for r in con.execute(
            "SELECT l.source_document_id, s.text, l.target_document_id, coalesce(t.text, l.target_text), "
            "l.relation, l.method, l.score, coalesce(sd.title, 'comment by ' || sd.author), "
            "coalesce(td.title, 'comment by ' || td.author) FROM claim_links l "
            "JOIN sentences s ON s.id = l.source_sentence_id LEFT JOIN sentences t ON t.id = l.target_sentence_id "
            "LEFT JOIN documents sd ON sd.id = l.source_document_id LEFT JOIN documents td ON td.id = l.target_document_id "
            "WHERE l.source_document_id = ? OR l.target_document_id = ? ORDER BY l.id",
            [doc_id, doc_id],
        ).fetchall()
    ]
    work = next(
        (
            _label(con, None, key, url, ev)
            for tid, key, url, rel, _s, ev in out
            if tid is None and rel != "cites"
        ),
        None,
    )
    for r in rows:
        if r["target_document_id"] is None:
            r["target_title"] = work
    grouped = group_claim_links(rows, min_score=min_score, relation=relation)
    if not rows:
        return "\n".join(lines)
    what = f" {relation}" if relation else ""
    hidden = (
        f"; {grouped['hidden']} scored below {min_score:.2f} hidden (--all shows them)"
        if grouped["hidden"]
        else ""
    )
    lines += ["", f"Claim links{what}: {grouped['shown']} shown{hidden}"]
    wrap = max(30, width - 6)
    for g in grouped["groups"]:
        lines += ["", f"{g['title'] or g['document']} answers:"]
        for p in g["passages"]:
            src = (
                f"from {p['target_title']}"
                if p["target_title"]
                else "quoted from outside the corpus"
            )
            lines.append(f"  > [{src}]")
            lines += ["  > " + x for x in textwrap.wrap(p["text"] or "", wrap - 2)] or ["  >"]
            for a in p["answers"]:
                head = f"    {a['relation']} {a['method']} {a['score']:.2f}: "
                body = textwrap.wrap(a["source_text"] or "", max(20, wrap - len(head) + 4))
                lines.append(head + (body[0] if body else ""))
                lines += [" " * len(head) + x for x in body[1:]]
    return "\n".join(lines)


__all__ = [
    "DEBATE_COLUMNS",
    "MEMBER_COLUMNS",
    "MIN_CLAIM_LINK_SCORE",
    "MIN_RESPONSE_SCORE",
    "Debate",
    "Node",
    "debate_graph",
    "evidence_named",
    "debate_rows",
    "graph_from_rows",
    "debates",
    "find",
    "group_claim_links",
    "outside_title",
    "resolve",
    "response_method",
    "show_text",
    "to_graphml",
]
