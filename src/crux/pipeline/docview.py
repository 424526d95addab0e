"""A document as the linking stages see it: its sentences in order, with their flags, and the
per-run cache of their vectors.

:func:`load_docs` reads documents with their sentences (and which are claims) from the store;
:class:`Vectors` gives unit sentence embeddings, computed or read once per text within a run.
The stages make one :class:`Vectors` in ``setup``: there is no module-level state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["MIN_CLAIM_CHARS", "DocView", "Sent", "Vectors", "load_docs"]

MIN_CLAIM_CHARS = 25  # shorter sentences are never a claim to link (PairParams.min_claim_chars)


@dataclass
class Sent:
    id: str
    block: int
    kind: str
    text: str
    in_quote: bool
    claim: bool = False


@dataclass
class DocView:
    id: str
    kind: str
    parent_id: str | None
    title: str | None
    author: str | None
    url: str | None
    url_key: str | None
    published_at: Any
    sents: list[Sent] = field(default_factory=list)

    def own(self, min_chars: int = MIN_CLAIM_CHARS) -> list[Sent]:
        """The author's own sentences: not quoted, not headings, at least ``min_chars`` long."""
        return [
            s
            for s in self.sents
            if not s.in_quote and s.kind != "heading" and len(s.text) >= min_chars
        ]

    def claims(self, min_chars: int = MIN_CLAIM_CHARS) -> list[Sent]:
        """The sentences the claims stage flagged among :meth:`own`, else all of them."""
        own = self.own(min_chars)
        return [s for s in own if s.claim] or own


def load_docs(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, DocView]:
    """Documents with their sentences (and which are claims), keyed by id."""
    ids = [i for i in dict.fromkeys(ids) if i]
    if not ids:
        return {}
    out = {
        r[0]: DocView(*r)
        for r in con.execute(
            "SELECT id, kind, parent_id, title, author, url, url_key, published_at FROM documents "
            "WHERE id IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
    }
    rows = con.execute(
        "SELECT s.document_id, s.id, b.position, b.kind, s.text, s.in_quote, c.sentence_id IS NOT NULL "
        "FROM sentences s JOIN blocks b ON b.id = s.block_id "
        "LEFT JOIN claims c ON c.sentence_id = s.id AND c.score >= 0.5 "
        "WHERE s.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
        [ids],
    ).fetchall()
    for doc_id, sid, bpos, bkind, text, in_quote, claim in rows:
        out[doc_id].sents.append(
            Sent(sid, bpos, bkind, text, bool(in_quote) or bkind == "blockquote", bool(claim))
        )
    return out


class Vectors:
    """Unit sentence embeddings, computed (or read from the store) once per text within a run.

    ``encode``: texts -> unit vectors (default :func:`crux.pipeline.stance.encode`, the
    configured MiniLM). Calling the object gives the vectors of ``texts``, one row each."""

    def __init__(self, encode: Callable[[Sequence[str]], Any] | None = None) -> None:
        from .stance import encode as default

        self.encode = encode or default
        self.cache: dict[str, Any] = {}

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.encode(todo), strict=True):
                self.cache[t] = v
        if not texts:
            from .embed import empty

            return empty()
        return np.stack([self.cache[t] for t in texts])

    def prefetch(self, con: duckdb.DuckDBPyConnection, views: dict[str, DocView]) -> None:
        """Load stored vectors of these documents' sentences, then encode the rest in one call."""
        self.prefetch_sents(con, [s for v in views.values() for s in v.sents])

    def prefetch_sents(self, con: duckdb.DuckDBPyConnection, sents: list[Sent]) -> None:
        """:meth:`prefetch` for some sentences only."""
        want = {
            s.id: s.text
            for s in sents
            if (s.in_quote or (s.kind != "heading" and len(s.text) >= 12))
            and s.text not in self.cache
        }
        if not want:
            return
        from .embed import model_name

        rows = con.execute(
            "SELECT item_id, vector FROM embeddings WHERE item_kind IN ('claim', 'quote', 'sentence') "
            "AND model = ? AND item_id IN (SELECT unnest(?))",
            [model_name(), list(want)],
        ).fetchall()
        import numpy as np

        for sid, vec in rows:
            v = np.asarray(vec, dtype="float32")
            self.cache[want[sid]] = v / max(float(np.linalg.norm(v)), 1e-9)
        self([t for t in want.values()])
