"""The site's semantic search page: the claims and documents nearest a sentence by meaning.

``/semantic?q=...`` (``/semantic.json?q=...`` for the figures) encodes the query with the
model that made the snapshot's vectors (``_meta.vectors_model``, the packaged all-MiniLM-L6-v2
by default), through the one loader, :func:`crux.pipeline.embed.load_model`, offline, and
ranks the ``vectors`` table ``crux publish`` wrote (:mod:`crux.site.export`) by dot product
(the vectors are unit length: cosine similarity). Every hit links to its document page, on
the claim's sentence (``/doc/<id>#s-<position>``). An empty query shows the form.

Nothing here runs on the event loop but the page: the model is loaded on the first query and
kept, and encoding and ranking run on one worker thread (:data:`_POOL`, with a lock around
the model), so other pages keep serving while a query encodes. The matrix is read once per
snapshot: it hangs on the Database object, and :mod:`crux.site.swap` makes a new one for
each published file, so a republished snapshot brings its own vectors.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MAX_QUERY = 500
CLAIMS = 20     # claim hits shown
DOCUMENTS = 10  # document hits shown
CACHE = 256     # query vectors kept (a reload or the JSON of the same query re-encodes nothing)

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crux-semantic")
_MODEL_LOCK = threading.Lock()
_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()


class Unavailable(Exception):
    """Semantic search cannot run on this snapshot or server; the message says what to do."""


@dataclass
class Index:
    """One snapshot's vectors: a (n, dim) float32 matrix, the kind and id of each row."""

    model: str
    matrix: np.ndarray
    kinds: np.ndarray   # the item_kind of each row ("claim", "document")
    ids: list[str]
    seconds: float      # how long reading it took

    def nearest(self, q: np.ndarray, kind: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows of ``kind`` with the highest dot product with ``q``, best first."""
        import numpy as np

        rows = np.flatnonzero(self.kinds == kind)
        if not len(rows) or k <= 0:
            return []
        scores = self.matrix[rows] @ q
        top = np.argpartition(-scores, min(k, len(rows)) - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[rows[i]], float(scores[i])) for i in top]


def _read_index(conn: Any) -> Index | None:
    """The snapshot's ``vectors`` as an :class:`Index` (in a Datasette thread), or None."""
    import numpy as np

    t0 = time.perf_counter()
    try:
        meta = dict(conn.execute("select key, value from _meta where key like 'vectors_%'").fetchall())
        rows = conn.execute("select item_kind, item_id, vector from vectors order by rowid").fetchall()
    except Exception:  # an older snapshot: no vectors table
        return None
    if not rows or "vectors_model" not in meta:
        return None
    dim = int(meta.get("vectors_dim") or 0)
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), -1)
    if dim and matrix.shape[1] != dim:
        return None
    return Index(model=meta["vectors_model"], matrix=np.ascontiguousarray(matrix, dtype=np.float32),
                 kinds=np.array([r[0] for r in rows]), ids=[r[1] for r in rows],
                 seconds=time.perf_counter() - t0)


async def index(db: Any) -> Index | None:
    """The vectors of the snapshot ``db`` serves, read once (concurrent first calls share it)."""
    task = getattr(db, "_crux_semantic", None)
    if task is None:
        task = asyncio.ensure_future(db.execute_fn(_read_index))
        db._crux_semantic = task
    try:
        return await asyncio.shield(task)
    except Exception:
        db._crux_semantic = None  # try again on the next query
        raise


def _encode(model: str, text: str) -> np.ndarray:
    """The query's unit vector, as the embed stage encodes (on the worker thread)."""
    from ..errors import CruxError
    from ..pipeline import embed

    key = (model, text)
    with _MODEL_LOCK:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        try:
            m = embed.load_model(model)
        except CruxError as e:
            raise Unavailable(str(e)) from None
        vec = embed.encode_with(m, [text], batch_size=1)[0]
        _cache[key] = vec
        while len(_cache) > CACHE:
            _cache.popitem(last=False)
    return vec


def _rank(idx: Index, text: str, k_claims: int, k_docs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    q = _encode(idx.model, text)
    t1 = time.perf_counter()
    out = {"claim": idx.nearest(q, "claim", k_claims), "document": idx.nearest(q, "document", k_docs)}
    t2 = time.perf_counter()
    return {**out, "encode_ms": (t1 - t0) * 1000, "rank_ms": (t2 - t1) * 1000}


async def _details(db: Any, have: set[str], ranked: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The hits with their document titles, sentence positions and text, in rank order."""
    from . import pages

    title = "coalesce(d.title, 'comment by ' || coalesce(d.author, 'someone'))"
    claims: list[dict[str, Any]] = []
    if ranked["claim"]:
        ids = [i for i, _ in ranked["claim"]]
        pos = "s.position" if "sentences" in have else "null"
        join = " left join sentences s on s.id = c.sentence_id" if "sentences" in have else ""
        rows = await pages._rows(db, (
            f"select c.sentence_id, c.document_id, c.text, c.kind, {pos} as position, "
            f"d.kind as document_kind, {title} as title, d.author, "
            "substr(d.published_at, 1, 10) as published "
            f"from claims c join documents d on d.id = c.document_id{join} "
            f"where c.sentence_id in ({', '.join('?' for _ in ids)})"), ids)
        by_id = {r["sentence_id"]: r for r in rows}
        claims = [{**by_id[i], "score": s} for i, s in ranked["claim"] if i in by_id]
    docs: list[dict[str, Any]] = []
    if ranked["document"]:
        ids = [i for i, _ in ranked["document"]]
        rows = await pages._rows(db, (
            f"select d.id as document_id, d.kind as document_kind, {title} as title, d.author, "
            "substr(d.published_at, 1, 10) as published, substr(d.text, 1, 280) as excerpt "
            f"from documents d where d.id in ({', '.join('?' for _ in ids)})"), ids)
        by_id = {r["document_id"]: r for r in rows}
        docs = [{**by_id[i], "score": s} for i, s in ranked["document"] if i in by_id]
    for h in claims + docs:
        anchor = f"#s-{h['position']}" if h.get("position") is not None else ""
        h["url"] = f"/doc/{quote(h['document_id'], safe='')}{anchor}"
    return claims, docs


async def search(db: Any, have: set[str], q: str, *, k_claims: int = CLAIMS,
                 k_docs: int = DOCUMENTS) -> dict[str, Any]:
    """The claims and documents nearest ``q``: {"claims", "documents", "model", timings}."""
    idx = await index(db)
    if idx is None:
        raise Unavailable("This snapshot has no vectors: run crux process (the embed stage), "
                          "then crux publish.")
    loop = asyncio.get_running_loop()
    ranked = await loop.run_in_executor(_POOL, _rank, idx, q, k_claims, k_docs)
    claims, docs = await _details(db, have, ranked)
    return {"claims": claims, "documents": docs, "model": idx.model, "vectors": len(idx.ids),
            "encode_ms": ranked["encode_ms"], "rank_ms": ranked["rank_ms"]}


async def semantic_page(datasette: Any, request: Any) -> Any:
    """``/semantic`` (and ``/semantic.json``): the form, and the hits of ``q`` when given."""
    from datasette.utils.asgi import Response

    from . import pages

    as_json = request.url_vars.get("format") == ".json" or request.args.get("_format") == "json"
    db = pages._db(datasette)
    have = await pages._tables(db)
    q = " ".join((request.args.get("q") or "").split())[:MAX_QUERY]
    result: dict[str, Any] = {"claims": [], "documents": [], "note": None}
    status = 200
    if q:
        t0 = time.perf_counter()
        try:
            result.update(await search(db, have, q))
        except Unavailable as e:
            result["note"], status = str(e), 503
        result["ms"] = (time.perf_counter() - t0) * 1000
    if as_json:
        return Response.json({"q": q, **result}, status=status)
    return await pages._render(datasette, request, "crux_semantic.html",
                               {"q": q, "searched": bool(q), **result})


__all__ = ["Index", "Unavailable", "index", "search", "semantic_page"]
