"""A small stand-in for the segment stage, used by the debate-link tests, evaluation and
benchmark only when :mod:`crux.pipeline.segment` is not installed.

It writes ``blocks`` and ``sentences`` under the schema contract (block quotes mark their
sentences ``in_quote``) with a regex sentence splitter, and records ``_stage_state`` rows
for ``segment`` so that stages declaring ``after=("segment",)`` see the documents as ready.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_BLOCK = {"p": "paragraph", "li": "list_item", "h1": "heading", "h2": "heading", "h3": "heading",
          "h4": "heading", "h5": "heading", "h6": "heading", "figcaption": "caption",
          "td": "table_cell", "th": "table_cell", "pre": "code"}
_SPLIT = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z0-9@])")


def _blocks(html: str) -> list[tuple[str, str, int]]:
    from ..htmltext import html_to_text, parse_fragment

    root = parse_fragment(html)
    if root is None:
        return []
    out = []
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag not in _BLOCK:
            continue
        if tag == "li" and el.find(".//p") is not None:
            continue
        if any(isinstance(a.tag, str) and a.tag in _BLOCK for a in el.iterancestors()):
            continue
        text = " ".join(el.text_content().split())
        if text:
            depth = sum(1 for a in el.iterancestors() if a.tag == "blockquote")
            kind = "blockquote" if depth else _BLOCK[tag]
            out.append((kind, text, depth))
    if not out:
        text = " ".join(html_to_text(html).split())
        if text:
            out.append(("paragraph", text, 0))
    return out


def segment_documents(con: duckdb.DuckDBPyConnection, ids: list[str] | None = None) -> int:
    """Write blocks and sentences for ``ids`` (default: every document); return sentences written."""
    from ..db.schema import _now

    if ids is None:
        rows = con.execute("SELECT id, html, text, content_hash FROM documents").fetchall()
    else:
        rows = con.execute("SELECT id, html, text, content_hash FROM documents WHERE id IN "
                           "(SELECT unnest(?))", [ids]).fetchall()
    brows, srows, state = [], [], []
    for doc_id, html, text, chash in rows:
        blocks = _blocks(html) if html else [("paragraph", " ".join(p.split()), 0)
                                             for p in (text or "").split("\n\n") if p.strip()]
        spos = 0
        for b, (kind, btext, depth) in enumerate(blocks):
            bid = f"{doc_id}:b{b}"
            brows.append((bid, doc_id, b, kind, btext, depth))
            pieces = [btext] if kind in ("heading", "code", "table_cell") else _SPLIT.split(btext)
            start = 0
            for piece in pieces:
                i = btext.find(piece, start)
                if i < 0 or not piece.strip():
                    continue
                srows.append((f"{doc_id}:s{spos}", doc_id, bid, spos, piece, i, i + len(piece),
                               kind == "blockquote"))
                start = i + len(piece)
                spos += 1
        state.append(("segment", doc_id, chash, "lite", _now()))
    ids_done = [r[0] for r in rows]
    con.execute("DELETE FROM blocks WHERE document_id IN (SELECT unnest(?))", [ids_done])
    con.execute("DELETE FROM sentences WHERE document_id IN (SELECT unnest(?))", [ids_done])
    from ..db.store import bulk_insert
    bulk_insert(con, "blocks", ("id", "document_id", "position", "kind", "text", "depth"), brows)
    bulk_insert(con, "sentences", ("id", "document_id", "block_id", "position", "text", "start",
                                   '"end"', "in_quote"), srows)
    bulk_insert(con, "_stage_state", ("stage", "document_id", "content_hash", "version", "done_at"),
                state, "ON CONFLICT (stage, document_id) DO UPDATE SET content_hash = "
                "excluded.content_hash, done_at = excluded.done_at")
    return len(srows)


def run_pipeline(con: duckdb.DuckDBPyConnection, names: list[str] | None = None) -> list:
    """Run the available stages in order (the lite segmenter stands in for a missing segment stage)."""
    from . import available_stages

    stages = available_stages()
    results = []
    if "segment" not in stages:
        todo = [r[0] for r in con.execute(
            "SELECT d.id FROM documents d WHERE NOT EXISTS (SELECT 1 FROM _stage_state s WHERE "
            "s.stage = 'segment' AND s.document_id = d.id AND s.content_hash = d.content_hash)"
        ).fetchall()]
        if todo:
            segment_documents(con, todo)
    for name, cls in stages.items():
        if names is None or name in names:
            results.append(cls().run(con))
    return results
