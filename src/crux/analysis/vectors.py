"""Reading stored embeddings, and encoding a query, for the analyses.

The analyses never embed the corpus: the embed stage fills ``embeddings`` and they read it.
Only a search query is encoded, with the same model and loader as the embed stage.
``ensure_embeddings`` (for tests, the evaluation and the benchmarks) runs the embed stage on
what has no vector yet, so every consumer sees the vectors production stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StageError, UsageError

if TYPE_CHECKING:
    import duckdb
    import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
KINDS = {"documents": "document", "claims": "claim"}


def stored_models(con: duckdb.DuckDBPyConnection, item_kind: str) -> list[tuple[str, int]]:
    """(model, rows) of the embeddings stored for ``item_kind``, most rows first."""
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT model, count(*) FROM embeddings WHERE item_kind = ? GROUP BY model "
            "ORDER BY count(*) DESC, model",
            [item_kind],
        ).fetchall()
    ]


def pick_model(con: duckdb.DuckDBPyConnection, item_kind: str, model: str | None = None) -> str:
    """The embedding model to use for ``item_kind``: the one asked for, else the most used."""
    models = stored_models(con, item_kind)
    if model:
        if model not in {m for m, _ in models}:
            raise UsageError(
                f"no {item_kind} embeddings for model {model!r}: run crux process first"
            )
        return model
    if not models:
        raise StageError(f"no {item_kind} embeddings yet: run crux process first")
    return models[0][0]


def load_vectors(
    con: duckdb.DuckDBPyConnection,
    item_kind: str,
    *,
    model: str | None = None,
    ids: list[str] | None = None,
) -> tuple[list[str], np.ndarray, str]:
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


def load_model(model: str = DEFAULT_MODEL) -> Any:
    """The embed stage's model (:func:`crux.pipeline.embed.load_model`: one loader, one cache)."""
    from ..pipeline import embed

    return embed.load_model(model)


def encode(texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = 32) -> np.ndarray:
    """Normalised float32 vectors of ``texts``, as the embed stage encodes them (bit for bit)."""
    from ..pipeline import embed

    return embed.encode_with(load_model(model), texts, batch_size=batch_size)


def ensure_embeddings(
    con: duckdb.DuckDBPyConnection, unit: str = "documents", model: str = DEFAULT_MODEL
) -> int:
    """Run the embed stage on the documents whose ``unit`` items have no vector yet; return
    how many documents it embedded. The vectors are production's: the embed stage's texts
    (title and the first characters of a document), its model, its encoding."""
    from ..db.tx import transaction
    from ..pipeline.embed import EmbedStage, model_name
    from ..pipeline.stage import PendingDoc

    model = model_name(model)  # with the encoder path, as the embed stage stores it
    kind = KINDS[unit]
    if unit == "documents":
        sql = (
            "SELECT d.id, d.content_hash FROM documents d WHERE NOT d.deleted AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.item_kind = ? AND e.item_id = d.id AND e.model = ?)"
        )
    else:
        sql = (
            "SELECT DISTINCT d.id, d.content_hash FROM claims c JOIN documents d ON d.id = c.document_id "
            "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.item_kind = ? "
            "AND e.item_id = c.sentence_id AND e.model = ?)"
        )
    docs = [PendingDoc(i, h) for i, h in con.execute(sql + " ORDER BY 1", [kind, model]).fetchall()]
    stage = EmbedStage(model)
    for start in range(0, len(docs), stage.batch_size):
        batch = docs[start : start + stage.batch_size]
        with transaction(con):
            stage.process(con, batch)
            stage.mark_done(con, batch)
    return len(docs)


__all__ = [
    "DEFAULT_MODEL",
    "encode",
    "ensure_embeddings",
    "load_model",
    "load_vectors",
    "pick_model",
    "stored_models",
]
