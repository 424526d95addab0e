"""The site's semantic search page: the claims and documents nearest a sentence by meaning.

``/semantic?q=...`` (``/semantic.json?q=...`` for the figures) encodes the query with the
model that made the snapshot's vectors (``_meta.vectors_model``, the packaged all-MiniLM-L6-v2
by default), through the one loader, :func:`crux.pipeline.embed.load_model`, offline (for the
packaged model's fp32 vectors, by its ``onnx-fp32`` path, which gives the same vectors within
3e-7 faster: :func:`query_model`, the ``query_encoder`` setting), and ranks the ``vectors`` table ``crux publish`` wrote (:mod:`crux.site.export`) by dot product
(the vectors are unit length: cosine similarity). Every hit links to its document page, on
the claim's sentence (``/doc/<id>#s-<position>``). An empty query shows the form.

Nothing here runs on the event loop but the page: the model is loaded on the first query and
kept, and encoding and ranking run on one worker thread (:data:`_POOL`, with a lock around
the model), so other pages keep serving while a query encodes. Queries that arrive while an
encode runs wait in a :class:`_Batcher` and go to the worker together, up to the
``semantic_batch`` setting (32; 1 = one at a time): one ``encode_with`` call for the batch (it
gives a text the same vector whatever it is batched with) and one matrix product per kind for
all of them, top-k by ``np.argpartition``; the batch's hits are read in two queries while
the next batch encodes. The matrix is read once per snapshot, its rows
grouped by kind so each kind is one contiguous block: it hangs on the Database object, and
:mod:`crux.site.swap` makes a new one for each published file, so a republished snapshot
brings its own vectors (and its own batcher).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MAX_QUERY = 500
CLAIMS = 20  # claim hits shown
DOCUMENTS = 10  # document hits shown
CACHE = 256  # query vectors kept (a reload or the JSON of the same query re-encodes nothing)

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crux-semantic")
_MODEL_LOCK = threading.Lock()
_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()


class Unavailable(Exception):
    """Semantic search cannot run on this snapshot or server; the message says what to do."""


@dataclass
class Index:
    """One snapshot's vectors: a (n, dim) float32 matrix, the kind and id of each row.

    Rows of one kind are contiguous (``spans``: kind -> (start, stop)), so a kind's block is a
    view of the matrix, never a copy.
    """

    model: str
    matrix: np.ndarray
    kinds: np.ndarray  # the item_kind of each row ("claim", "document")
    ids: list[str]
    seconds: float  # how long reading it took
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.spans and len(self.kinds):
            import numpy as np

            order = np.argsort(self.kinds, kind="stable")
            if (order != np.arange(len(order))).any():
                self.matrix = np.ascontiguousarray(self.matrix[order])
                self.kinds = self.kinds[order]
                self.ids = [self.ids[i] for i in order]
            names, starts = np.unique(self.kinds, return_index=True)
            stops = [*starts[1:], len(self.kinds)]
            self.spans = {
                str(n): (int(a), int(b)) for n, a, b in zip(names, starts, stops, strict=True)
            }

    def nearest_many(self, qs: np.ndarray, kind: str, k: int) -> list[list[tuple[str, float]]]:
        """For each row of ``qs`` (b, dim), the ``k`` rows of ``kind`` with the highest dot
        product, best first: one matrix product for the batch, top-k by ``np.argpartition``."""
        import numpy as np

        lo, hi = self.spans.get(kind, (0, 0))
        if hi <= lo or k <= 0:
            return [[] for _ in range(len(qs))]
        k = min(k, hi - lo)
        scores = qs @ self.matrix[lo:hi].T  # (b, rows of kind)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        top, best = np.take_along_axis(top, order, axis=1), np.take_along_axis(best, order, axis=1)
        return [
            [(self.ids[lo + int(i)], float(v)) for i, v in zip(row, vals, strict=True)]
            for row, vals in zip(top, best, strict=True)
        ]

    def nearest(self, q: np.ndarray, kind: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows of ``kind`` with the highest dot product with ``q``, best first."""
        return self.nearest_many(q.reshape(1, -1), kind, k)[0]


def _read_index(conn: Any) -> Index | None:
    """The snapshot's ``vectors`` as an :class:`Index` (in a Datasette thread), or None.

    The rows are read in pages by rowid, each well under the ``site_max_bytes`` cap the site
    puts on one query's rows (:mod:`crux.site.limits`): LessWrong 2020's vectors alone are
    56 MB, more than the 50 MB default."""
    import sqlite3

    import numpy as np

    from . import limits

    t0 = time.perf_counter()
    try:
        meta = dict(
            conn.execute("select key, value from _meta where key like 'vectors_%'").fetchall()
        )
        conn.execute("select 1 from vectors limit 1").fetchall()
    except sqlite3.OperationalError:  # an older snapshot: no vectors table
        return None
    if "vectors_model" not in meta:
        return None
    dim = int(meta.get("vectors_dim") or 0)
    page = max(1, limits.max_bytes() // (2 * (4 * (dim or 1024) + 1024)))
    rows: list[Any] = []
    last = -(1 << 62)
    try:
        while True:
            got = conn.execute(
                "select rowid, item_kind, item_id, vector from vectors where rowid > ? "
                "order by rowid limit ?",
                [last, page],
            ).fetchall()
            rows.extend(got)
            if len(got) < page:
                break
            last = got[-1][0]
    except sqlite3.Error as e:
        raise Unavailable(f"cannot read this snapshot's vectors ({e}); publish it again") from None
    if not rows:
        return None
    matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), -1)
    if dim and matrix.shape[1] != dim:
        return None
    return Index(
        model=meta["vectors_model"],
        matrix=np.ascontiguousarray(matrix, dtype=np.float32),
        kinds=np.array([r[1] for r in rows]),
        ids=[r[2] for r in rows],
        seconds=time.perf_counter() - t0,
    )


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


QUERY_PATHS = ("onnx-fp32", "same")
_fallback: set[str] = set()  # query models that could not load: the snapshot's own is used


def query_model(model: str) -> str:
    """The model name queries are encoded with, for vectors stored as ``model``.

    Vectors of the packaged all-MiniLM-L6-v2 in fp32 torch (the default) are matched by its
    ``onnx-fp32`` path when the ``query_encoder`` setting says so (its default): the same
    vectors within 3e-7, bit for bit whatever a query is batched with, at 2-3x torch's speed on
    a few short texts (BENCHMARKS.md, "Semantic search"). Any other model, or
    ``query_encoder = same``, encodes with the snapshot's own model and path."""
    from .. import config
    from ..errors import UsageError
    from ..pipeline import embed, encoders

    how = str(config.get("query_encoder")).strip().lower()
    if how not in QUERY_PATHS:
        raise UsageError(f"setting query_encoder = {how!r}: use one of {', '.join(QUERY_PATHS)}")
    try:
        base, path = embed._split(model)
    except UsageError:
        return model
    if how == "same" or path != encoders.TORCH or base not in embed._PACKAGED:
        return model
    fast = f"{base}+onnx-fp32"
    return model if fast in _fallback else fast


def _load(model: str) -> tuple[str, Any]:
    """``(name, loaded model)`` for queries against vectors of ``model`` (under the lock)."""
    from ..errors import CruxError
    from ..pipeline import embed

    try:
        name = query_model(model)
    except CruxError as e:
        raise Unavailable(str(e)) from None
    try:
        return name, embed.load_model(name)
    except CruxError as e:
        if name == model:  # the snapshot's own model: nothing else to try
            raise Unavailable(str(e)) from None
        log.warning("semantic search: %s; queries are encoded with %s instead", e, model)
        _fallback.add(name)
    try:
        return model, embed.load_model(model)
    except CruxError as e:
        raise Unavailable(str(e)) from None


def _encode_many(model: str, texts: list[str]) -> np.ndarray:
    """The queries' unit vectors (b, dim) for vectors stored as ``model``, as the embed stage
    encodes (:func:`query_model` says with what): the cached ones from the cache, the others
    in one ``encode_with`` call (on the worker thread)."""
    import numpy as np

    from ..pipeline import embed

    with _MODEL_LOCK:
        vecs: dict[str, Any] = {}
        for t in texts:
            if (model, t) in _cache:
                _cache.move_to_end((model, t))
                vecs[t] = _cache[(model, t)]
        todo = list(dict.fromkeys(t for t in texts if t not in vecs))
        if todo:
            _, m = _load(model)
            for t, v in zip(
                todo, embed.encode_with(m, todo, batch_size=max(len(todo), 1)), strict=True
            ):
                vecs[t] = _cache[(model, t)] = v
            while len(_cache) > CACHE:
                _cache.popitem(last=False)
    return np.stack([vecs[t] for t in texts])


def _encode(model: str, text: str) -> np.ndarray:
    """One query's unit vector (see :func:`_encode_many`)."""
    return _encode_many(model, [text])[0]


def _rank_batch(idx: Index, asks: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Encode and rank a batch of ``(text, k_claims, k_docs)`` (on the worker thread)."""
    t0 = time.perf_counter()
    qs = _encode_many(idx.model, [t for t, _, _ in asks])
    t1 = time.perf_counter()
    used = query_model(idx.model)
    claims = idx.nearest_many(qs, "claim", max(kc for _, kc, _ in asks))
    docs = idx.nearest_many(qs, "document", max(kd for _, _, kd in asks))
    t2 = time.perf_counter()
    return [
        {
            "claim": c[:kc],
            "document": d[:kd],
            "encode_ms": (t1 - t0) * 1000,
            "rank_ms": (t2 - t1) * 1000,
            "batch": len(asks),
            "query_model": used,
        }
        for (_, kc, kd), c, d in zip(asks, claims, docs, strict=True)
    ]


class _Batcher:
    """The queries of one snapshot waiting for the worker: the first goes at once, the ones
    that arrive while it encodes go together when it is done (all on the event loop). A ranked
    batch reads its hits' details in two queries while the next batch encodes."""

    def __init__(self, db: Any, idx: Index, size: int) -> None:
        self.db, self.idx, self.size = db, idx, max(1, size)
        self.waiting: list[tuple[str, int, int, asyncio.Future[dict[str, Any]], float]] = []
        self.busy = False
        self.have: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # details being read (kept from the GC)

    async def search(self, have: set[str], text: str, k_claims: int, k_docs: int) -> dict[str, Any]:
        """``text``'s ranked hits with their details, and the timings of its batch."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.have = have
        self.waiting.append((text, k_claims, k_docs, fut, time.perf_counter()))
        if not self.busy:
            self._next(loop)
        return await fut

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        self.waiting = [w for w in self.waiting if not w[3].done()]  # drop cancelled requests
        if not self.waiting:
            self.busy = False
            return
        batch, self.waiting = self.waiting[: self.size], self.waiting[self.size :]
        self.busy = True
        started = time.perf_counter()
        job = loop.run_in_executor(
            _POOL, _rank_batch, self.idx, [(t, kc, kd) for t, kc, kd, _, _ in batch]
        )

        def done(job: asyncio.Future[list[dict[str, Any]]]) -> None:
            try:
                results = job.result()
            except BaseException as e:  # noqa: BLE001 - every waiter gets it
                for *_, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(e)
            else:
                for (*_, t0), r in zip(batch, results, strict=True):
                    r["queue_ms"] = (started - t0) * 1000
                task = loop.create_task(self._finish([w[3] for w in batch], results))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            self._next(loop)

        job.add_done_callback(done)

    async def _finish(
        self, futs: list[asyncio.Future[dict[str, Any]]], results: list[dict[str, Any]]
    ) -> None:
        t0 = time.perf_counter()
        try:
            details = await _details(self.db, self.have, results)
        except BaseException as e:  # noqa: BLE001 - every waiter gets it
            for fut in futs:
                if not fut.done():
                    fut.set_exception(e)
            return
        ms = (time.perf_counter() - t0) * 1000
        for fut, r, (claims, docs) in zip(futs, results, details, strict=True):
            if not fut.done():
                fut.set_result({**r, "claims": claims, "documents": docs, "details_ms": ms})


def _batcher(db: Any, idx: Index) -> _Batcher:
    b = getattr(db, "_crux_batcher", None)
    if b is None or b.idx is not idx:
        from .. import config

        b = db._crux_batcher = _Batcher(db, idx, int(config.get("semantic_batch")))
    return b


async def _details(
    db: Any, have: set[str], ranked: list[dict[str, Any]]
) -> list[tuple[list[Any], list[Any]]]:
    """Each ranking's hits with their document titles, sentence positions and text, in rank
    order: two queries for the whole batch (claims, documents), ``IN (...)`` on primary keys."""
    from . import pages

    title = "coalesce(d.title, 'comment by ' || coalesce(d.author, 'someone'))"
    claim_ids = list(dict.fromkeys(i for r in ranked for i, _ in r["claim"]))
    doc_ids = list(dict.fromkeys(i for r in ranked for i, _ in r["document"]))
    claim_rows: dict[str, Any] = {}
    if claim_ids:
        pos = "s.position" if "sentences" in have else "null"
        join = " left join sentences s on s.id = c.sentence_id" if "sentences" in have else ""
        rows = await pages._rows(
            db,
            (
                f"select c.sentence_id, c.document_id, c.text, c.kind, {pos} as position, "
                f"d.kind as document_kind, {title} as title, d.author, "
                "substr(d.published_at, 1, 10) as published "
                f"from claims c join documents d on d.id = c.document_id{join} "
                f"where c.sentence_id in ({', '.join('?' for _ in claim_ids)})"
            ),
            claim_ids,
        )
        claim_rows = {r["sentence_id"]: r for r in rows}
    doc_rows: dict[str, Any] = {}
    if doc_ids:
        rows = await pages._rows(
            db,
            (
                f"select d.id as document_id, d.kind as document_kind, {title} as title, d.author, "
                "substr(d.published_at, 1, 10) as published, substr(d.text, 1, 280) as excerpt "
                f"from documents d where d.id in ({', '.join('?' for _ in doc_ids)})"
            ),
            doc_ids,
        )
        doc_rows = {r["document_id"]: r for r in rows}
    out = []
    for r in ranked:
        claims = [{**claim_rows[i], "score": sc} for i, sc in r["claim"] if i in claim_rows]
        docs = [{**doc_rows[i], "score": sc} for i, sc in r["document"] if i in doc_rows]
        for h in claims + docs:
            anchor = f"#s-{h['position']}" if h.get("position") is not None else ""
            h["url"] = f"/doc/{quote(h['document_id'], safe='')}{anchor}"
        out.append((claims, docs))
    return out


async def search(
    db: Any, have: set[str], q: str, *, k_claims: int = CLAIMS, k_docs: int = DOCUMENTS
) -> dict[str, Any]:
    """The claims and documents nearest ``q``: {"claims", "documents", "model", timings}."""
    idx = await index(db)
    if idx is None:
        raise Unavailable(
            "This snapshot has no vectors: run crux process (the embed stage), then crux publish."
        )
    got = await _batcher(db, idx).search(have, q, k_claims, k_docs)
    return {
        "claims": got["claims"],
        "documents": got["documents"],
        "model": idx.model,
        "query_model": got["query_model"],
        "vectors": len(idx.ids),
        **{k: got[k] for k in ("queue_ms", "encode_ms", "rank_ms", "details_ms", "batch")},
    }


async def semantic_page(datasette: Any, request: Any) -> Any:
    """``/semantic`` (and ``/semantic.json``): the form, and the hits of ``q`` when given.

    ``/semantic.json`` without ``q`` says which model and how many vectors a query would search,
    without loading the model."""
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
    elif as_json:  # what a query would search (the model and how many vectors): nothing encoded
        idx = await index(db)
        result.update(model=idx.model if idx else None, vectors=len(idx.ids) if idx else 0)
    if as_json:
        return Response.json({"q": q, **result}, status=status)
    return await pages._render(
        datasette, request, "crux_semantic.html", {"q": q, "searched": bool(q), **result}
    )


__all__ = ["Index", "Unavailable", "index", "search", "semantic_page"]
