"""Topic models: BERTopic on the stored embeddings; runs, topics and assignments in DuckDB.

``fit`` never embeds: it reads ``embeddings`` (documents or claims) and passes them to
BERTopic with a fixed UMAP ``random_state``, so two fits with one seed give the same
assignments. What a fit finds is stored in ``topic_runs``, ``topics`` and
``topic_assignments``; the views read those tables and never recompute assignments with a
reloaded model (a reloaded model's ``transform`` is wrong after outlier reduction, upstream
BERTopic #1809). The model is saved with safetensors in ``<db stem>-data/topics/<run_id>/``
beside the database, with the topic centroids (``centroids.safetensors``) that
:func:`assign_new` uses to give items embedded after the fit their nearest topic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db.store import bulk_insert
from ..db.tx import scalar
from ..db.tx import utcnow as _now
from ..errors import StageError, UsageError
from . import jit_cache
from .vectors import KINDS, load_vectors

if TYPE_CHECKING:
    import duckdb
    import numpy as np

log = logging.getLogger(__name__)

UNITS = tuple(KINDS)
_TOKENS = r"(?u)\b[^\W\d_][\w'-]*[^\W\d_]\b"  # words of 2+ letters, no bare numbers


@dataclass
class FitResult:
    run_id: str
    unit: str
    n_items: int
    n_topics: int
    n_outliers: int
    seconds: float
    model_path: str
    timings: dict[str, float] = field(default_factory=dict)
    largest_share: float = 0.0  # the biggest topic's share of all items
    warning: str | None = None  # set when one topic holds more than half the items

    def summary(self) -> str:
        from .output import plural

        return (
            f"topic run {self.run_id}: {plural(self.n_topics, 'topic')} over {self.n_items} {self.unit}, "
            f"{plural(self.n_outliers, 'outlier')}, largest topic {self.largest_share:.0%} "
            f"({self.seconds:.1f}s)"
        )


def data_dir(db_path: str | os.PathLike[str]) -> Path:
    """The folder beside the database that holds models and caches: ``<db stem>-data``."""
    p = Path(db_path)
    return p.parent / f"{p.stem}-data"


def prepare_numba(db_path: str | os.PathLike[str] | None) -> Path | None:
    """Point numba's disk cache beside the database; call before importing bertopic/umap."""
    if db_path is None or str(db_path) == ":memory:":
        return jit_cache.prepare(None)
    return jit_cache.prepare(data_dir(db_path) / "numba-cache")


def default_min_topic_size(unit: str, n_items: int) -> int:
    """Documents: one per 100 documents (at least 4); claims: one per 300 claims (at least 10).

    A fixed 10 held on 1,083 LessWrong 2020 posts (26 topics; 11 gave 14) but put 412 of 458
    real posts in one topic, where 5 gave 28 sensible topics. Claims are short and many: with 10, the 30,634
    claims of LessWrong 2020 gave 565 topics and 11,452 outliers, too many to read
    (measured 2026-11-22).
    """
    if unit == "claims":
        return max(10, n_items // 300)
    return max(4, n_items // 100)


def dominant_topic_warning(
    topics: list[int], unit: str, min_topic_size: int
) -> tuple[float, str | None]:
    """The largest topic's share of all items, and a warning (what to change) above one half."""
    from collections import Counter

    sizes = Counter(t for t in topics if t >= 0)
    if not sizes or not topics:
        return 0.0, None
    tid, n = sizes.most_common(1)[0]
    share = n / len(topics)
    if share <= 0.5:
        return share, None
    return share, (
        f"topic {tid} holds {n} of {len(topics)} {unit} ({share:.0%}): the topics are too "
        f"coarse; refit with a smaller --min-topic-size (now {min_topic_size}, try "
        f"{max(2, min_topic_size // 2)})"
    )


@contextmanager
def _bertopic_progress(progress: Any) -> Iterator[None]:
    """Send BERTopic's step messages ("Dimensionality - ...", "Cluster - ...") to ``progress``."""
    if progress is None:
        yield
        return
    bt_log = logging.getLogger("BERTopic")
    saved = bt_log.level, bt_log.handlers[:]

    class _Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            progress(record.getMessage())

    bt_log.handlers = [_Forward(logging.INFO)]
    bt_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        bt_log.setLevel(saved[0])
        bt_log.handlers = saved[1]


def min_items(min_topic_size: int) -> int:
    """The fewest items a fit accepts."""
    return max(20, 2 * min_topic_size)


def item_rows(
    con: duckdb.DuckDBPyConnection, unit: str, ids: list[str] | None = None
) -> dict[str, str]:
    """{item id: text} of the current items of ``unit`` (documents not deleted; current claims)."""
    if unit == "documents":
        sql = (
            "SELECT d.id, coalesce(d.title || '\n\n', '') || coalesce(d.text, '') FROM documents d "
            "WHERE NOT d.deleted"
        )
    elif unit == "claims":
        sql = "SELECT c.sentence_id, s.text FROM claims c JOIN sentences s ON s.id = c.sentence_id"
    else:
        raise UsageError(f"unknown unit {unit!r}: use documents or claims")
    return {r[0]: r[1] or "" for r in con.execute(sql).fetchall()}


def _vectorizer(n_items: int) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    # c-TF-IDF fits the vectorizer on one joined text per topic, so min_df counts topics:
    # keep every word on small corpora, drop one-topic words (mostly noise) on large ones.
    return CountVectorizer(
        stop_words="english",
        token_pattern=_TOKENS,
        ngram_range=(1, 2),
        min_df=1 if n_items < 1000 else 2,
        max_features=50_000,
    )


def _run_id(unit: str, created: Any, params: dict[str, Any], ids: list[str]) -> str:
    h = hashlib.sha1(json.dumps(params, sort_keys=True).encode())
    for i in ids:
        h.update(i.encode())
    return f"{unit}-{created:%Y%m%dT%H%M%S}-{h.hexdigest()[:6]}"


@contextmanager
def _quiet_bertopic() -> Iterator[None]:
    """Hide BERTopic's warnings about choices made here on purpose."""
    bt_log = logging.getLogger("BERTopic")
    level = bt_log.level
    bt_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        bt_log.setLevel(level)


def _centroids(X: np.ndarray, topics: list[int]) -> tuple[list[int], np.ndarray]:
    import numpy as np

    arr = np.asarray(topics)
    ids = sorted(t for t in set(topics) if t >= 0)
    cents = np.zeros((len(ids), X.shape[1]), dtype=np.float32)
    for k, t in enumerate(ids):
        c = X[arr == t].mean(axis=0)
        cents[k] = c / (np.linalg.norm(c) or 1.0)
    return ids, cents


def fit(
    con: duckdb.DuckDBPyConnection,
    db_path: str | os.PathLike[str] | None,
    *,
    unit: str = "documents",
    min_topic_size: int | None = None,
    seed: int = 42,
    reduce_outliers: bool = False,
    model: str | None = None,
    save: bool = True,
    progress: Any = None,
) -> FitResult:
    """Fit BERTopic on the stored embeddings of ``unit``; store the run; return its summary.

    ``min_topic_size`` None: :func:`default_min_topic_size` of the unit and item count.
    ``progress``: called with a line per step (a terminal's progress; None in cron).
    A fit whose largest topic holds more than half the items logs a warning and returns it."""
    say = progress or (lambda _msg: None)
    import numpy as np

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    if unit not in KINDS:
        raise UsageError(f"unknown unit {unit!r}: use documents or claims")
    if min_topic_size is not None and min_topic_size < 2:
        raise UsageError("--min-topic-size must be at least 2")
    kind = KINDS[unit]
    texts = item_rows(con, unit)
    ids, X, emb_model = load_vectors(con, kind, model=model)
    keep = [k for k, i in enumerate(ids) if i in texts]
    ids = [ids[k] for k in keep]
    X = X[keep] if len(keep) else X
    if min_topic_size is None:
        min_topic_size = default_min_topic_size(unit, len(ids))
    need = min_items(min_topic_size)
    if len(ids) < need:
        raise StageError(f"too few {unit} for topics ({len(ids)}); need at least {need}")
    docs = [texts[i] for i in ids]
    timings["load"] = time.perf_counter() - t0
    say(f"{len(ids)} {unit} loaded; fitting with --min-topic-size {min_topic_size}")

    t = time.perf_counter()
    say("importing BERTopic, UMAP and HDBSCAN")
    prepare_numba(db_path)
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    timings["import"] = time.perf_counter() - t

    t = time.perf_counter()
    vectorizer = _vectorizer(len(ids))
    # HDBSCAN's default min_samples (= min_cluster_size) merged LessWrong 2020 into 3 topics,
    # one of 748 posts; half of it gives 26 topics (and more outliers: see --reduce-outliers).
    min_samples = max(2, min_topic_size // 2)
    params = {
        "unit": unit,
        "embedding_model": emb_model,
        "min_topic_size": min_topic_size,
        "min_samples": min_samples,
        "seed": seed,
        "reduce_outliers": reduce_outliers,
        "umap": {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0, "metric": "cosine"},
        "vectorizer": {"ngram_range": [1, 2], "min_df": vectorizer.min_df, "stop_words": "english"},
    }
    topic_model = BERTopic(
        umap_model=UMAP(
            n_neighbors=min(15, len(ids) - 1),
            n_components=5,
            min_dist=0.0,
            metric="cosine",
            random_state=seed,
        ),
        hdbscan_model=HDBSCAN(
            min_cluster_size=min_topic_size,
            min_samples=min_samples,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=False,
        ),
        vectorizer_model=vectorizer,
        calculate_probabilities=False,
        top_n_words=10,
        min_topic_size=min_topic_size,
    )
    say("fitting: UMAP, then HDBSCAN, then each topic's words")
    with _bertopic_progress(progress):
        topics, probs = topic_model.fit_transform(docs, embeddings=X)
    topics = [int(x) for x in topics]
    prob: list[float | None] = (
        [float(p) for p in probs]
        if probs is not None and np.ndim(probs) == 1
        else [None] * len(topics)
    )
    timings["fit"] = time.perf_counter() - t
    if not any(x >= 0 for x in topics):
        raise StageError(
            f"no topics found in {len(ids)} {unit}; try a smaller --min-topic-size "
            f"(now {min_topic_size})"
        )
    if reduce_outliers and -1 in topics:
        t = time.perf_counter()
        new = [
            int(x)
            for x in topic_model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=X)
        ]
        prob = [None if a != b else p for a, b, p in zip(topics, new, prob, strict=True)]
        topics = new
        with _quiet_bertopic():  # "custom list of topic assignments": topic embeddings are ours
            topic_model.update_topics(docs, topics=topics, vectorizer_model=vectorizer)
        timings["reduce_outliers"] = time.perf_counter() - t

    share, warning = dominant_topic_warning(topics, unit, min_topic_size)
    if warning:
        log.warning(warning)
    topic_ids, cents = _centroids(X, topics)
    say("saving the model and the assignments")
    created = _now()
    run_id = _run_id(unit, created, params, ids)
    model_dir = ""
    if save and db_path is not None and str(db_path) != ":memory:":
        t = time.perf_counter()
        model_dir = str(data_dir(db_path) / "topics" / run_id)
        try:
            _save(topic_model, Path(model_dir), X, topics, topic_ids, cents)
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            raise
        timings["save"] = time.perf_counter() - t

    rows = []
    for tid in sorted(set(topics)):
        words = [(w, float(s)) for w, s in (topic_model.get_topic(tid) or []) if w]
        label = "outliers" if tid == -1 else ", ".join(w for w, _ in words[:4])
        rows.append((run_id, tid, label, json.dumps(words), topics.count(tid)))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO topic_runs VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, created, unit, json.dumps(params), len(ids), model_dir or None],
        )
        bulk_insert(con, "topics", ("run_id", "topic_id", "label", "words", "size"), rows)
        bulk_insert(
            con,
            "topic_assignments",
            ("run_id", "item_kind", "item_id", "topic_id", "probability", "method"),
            [(run_id, kind, i, tp, p, "fit") for i, tp, p in zip(ids, topics, prob, strict=True)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        if model_dir:
            shutil.rmtree(model_dir, ignore_errors=True)
        raise
    log.info("topic fit timings: %s", {k: round(v, 2) for k, v in timings.items()})
    return FitResult(
        run_id,
        unit,
        len(ids),
        len(topic_ids),
        topics.count(-1),
        time.perf_counter() - t0,
        model_dir,
        timings,
        share,
        warning,
    )


def _save(
    topic_model: Any,
    path: Path,
    X: np.ndarray,
    topics: list[int],
    topic_ids: list[int],
    cents: np.ndarray,
) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    # Keep the saved topic embeddings in step with the final topics (the outlier row only
    # when outliers remain): after reduce_outliers + update_topics BERTopic may keep a stale
    # -1 row, which shifts every topic of a reloaded model by one (#1809).
    has_outliers = -1 in topics
    rows = [X[np.asarray(topics) == -1].mean(axis=0)] if has_outliers else []
    topic_model.topic_embeddings_ = np.vstack(rows + [cents]) if rows else cents.copy()
    # scikit-learn 1.9 keeps numpy ints in vocabulary_, which BERTopic's JSON config can't hold
    vec = topic_model.vectorizer_model
    vec.vocabulary_ = {w: int(i) for w, i in vec.vocabulary_.items()}
    path.mkdir(parents=True, exist_ok=True)
    with _quiet_bertopic():  # "saving without an embedding model": on purpose
        topic_model.save(
            str(path), serialization="safetensors", save_ctfidf=True, save_embedding_model=False
        )
    save_file(
        {"centroids": cents, "topic_ids": np.asarray(topic_ids, dtype=np.int64)},
        str(path / "centroids.safetensors"),
    )
    return path


# ---- runs and assignment of new items ---------------------------------------------------------


def latest_run(con: duckdb.DuckDBPyConnection, unit: str | None = None) -> str | None:
    sql = "SELECT run_id FROM topic_runs"
    params: list[Any] = []
    if unit:
        sql += " WHERE unit = ?"
        params.append(unit)
    row = con.execute(sql + " ORDER BY created_at DESC, run_id DESC LIMIT 1", params).fetchone()
    return row[0] if row else None


def resolve_run(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None, unit: str | None = None
) -> tuple[str, str, str]:
    """(run_id, unit, item_kind) of ``run_id`` or of the latest run; one-line error when none."""
    if run_id:
        row = con.execute(
            "SELECT run_id, unit FROM topic_runs WHERE run_id = ?", [run_id]
        ).fetchone()
        if not row:
            raise UsageError(f"no topic run {run_id!r}: see crux topics list --runs")
    else:
        rid = latest_run(con, unit)
        if rid is None:
            raise StageError("no topics yet: run crux topics fit first")
        row = con.execute("SELECT run_id, unit FROM topic_runs WHERE run_id = ?", [rid]).fetchone()
    assert row is not None  # latest_run named it
    return row[0], row[1], KINDS[row[1]]


def centroids(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list[int], np.ndarray, str]:
    """(topic ids, unit-norm centroids, embedding model) of a run: saved file, else from the tables."""
    import numpy as np

    row = con.execute(
        "SELECT unit, params, model_path FROM topic_runs WHERE run_id = ?", [run_id]
    ).fetchone()
    if not row:
        raise UsageError(f"no topic run {run_id!r}")
    unit, params, model_path = row
    emb_model = json.loads(params or "{}").get("embedding_model")
    f = Path(model_path) / "centroids.safetensors" if model_path else None
    if f is not None and f.exists():
        from safetensors.numpy import load_file

        d = load_file(str(f))
        return [int(x) for x in d["topic_ids"]], d["centroids"], emb_model
    got = con.execute(
        "SELECT item_id, topic_id FROM topic_assignments WHERE run_id = ? "
        "AND method = 'fit' AND topic_id >= 0",
        [run_id],
    ).fetchall()
    by_id = dict(got)
    ids, X, emb_model = load_vectors(con, KINDS[unit], model=emb_model, ids=list(by_id))
    tids, cents = _centroids(X, [by_id[i] for i in ids]) if ids else ([], np.zeros((0, 0)))
    return tids, cents, emb_model


def assign_new(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> int:
    """Give items embedded since the fit the topic of their nearest centroid (method 'centroid').

    Works on ``run_id`` or on the latest run of each unit; returns the rows written. The
    probability column holds the cosine similarity to the chosen centroid; ``topics.size``
    is recounted to include the new items.
    """
    runs = [run_id] if run_id else [r for u in UNITS if (r := latest_run(con, u))]
    written = 0
    for rid in runs:
        _, unit, kind = resolve_run(con, rid)
        tids, cents, emb_model = centroids(con, rid)
        if not tids:
            continue
        texts = item_rows(con, unit)
        new_ids = [
            r[0]
            for r in con.execute(
                "SELECT e.item_id FROM embeddings e WHERE e.item_kind = ? AND e.model = ? AND NOT EXISTS "
                "(SELECT 1 FROM topic_assignments a WHERE a.run_id = ? AND a.item_kind = e.item_kind "
                "AND a.item_id = e.item_id)",
                [kind, emb_model, rid],
            ).fetchall()
            if r[0] in texts
        ]
        if not new_ids:
            continue
        ids, X, _ = load_vectors(con, kind, model=emb_model, ids=new_ids)
        sims = X @ cents.T
        best = sims.argmax(axis=1)
        rows = [
            (rid, kind, i, tids[int(b)], float(sims[k, b]), "centroid")
            for k, (i, b) in enumerate(zip(ids, best, strict=True))
        ]
        bulk_insert(
            con,
            "topic_assignments",
            ("run_id", "item_kind", "item_id", "topic_id", "probability", "method"),
            rows,
            "ON CONFLICT DO NOTHING",
        )
        # a topic's size counts its items, the centroid-assigned ones too (the site sorts by it)
        con.execute(
            "UPDATE topics SET size = (SELECT count(*) FROM topic_assignments a "
            "WHERE a.run_id = topics.run_id AND a.topic_id = topics.topic_id) WHERE run_id = ?",
            [rid],
        )
        written += len(rows)
    return written


def load_model(
    con: duckdb.DuckDBPyConnection, run_id: str, db_path: str | os.PathLike[str] | None
) -> Any:
    """The saved BERTopic model of a run (for plots only; never for assignments)."""
    row = con.execute("SELECT model_path FROM topic_runs WHERE run_id = ?", [run_id]).fetchone()
    if not row or not row[0] or not Path(row[0]).exists():
        raise StageError(f"the model of topic run {run_id} is not saved: run crux topics fit again")
    prepare_numba(db_path)
    from bertopic import BERTopic

    with _quiet_bertopic():  # "loading without an embedding model": plots need none
        return BERTopic.load(row[0])


__all__ = [
    "UNITS",
    "FitResult",
    "assign_new",
    "centroids",
    "data_dir",
    "fit",
    "latest_run",
    "refresh_topics",
    "default_min_topic_size",
    "dominant_topic_warning",
    "load_model",
    "min_items",
    "prepare_numba",
    "resolve_run",
]


def _db_file(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT file FROM pragma_database_list WHERE name = current_database()"
    ).fetchone()
    return row[0] if row and row[0] else None


def refresh_topics(
    con: duckdb.DuckDBPyConnection,
    *,
    refit: bool = False,
    progress: Any = None,
    db_path: str | os.PathLike[str] | None = None,
) -> str:
    """The refresh step: refit a unit's latest run (same parameters) when asked or when its
    items grew by the ``refit_growth`` setting; otherwise assign new items to centroids.
    With no run yet, the first fit (documents, default parameters)."""
    from .. import config

    db_path = db_path or _db_file(con)
    growth = float(config.get("refit_growth"))
    notes = []
    for unit in UNITS:
        rid = latest_run(con, unit)
        if rid is None:
            continue
        n_fit, params = con.execute(
            "SELECT n_items, params FROM topic_runs WHERE run_id = ?", [rid]
        ).fetchone() or (0, None)
        p = json.loads(params or "{}")
        now = len(item_rows(con, unit))
        if refit or (n_fit and now >= n_fit * (1 + growth)):
            res = fit(
                con,
                db_path,
                unit=unit,
                min_topic_size=int(p.get("min_topic_size", 10)),
                seed=int(p.get("seed", 42)),
                reduce_outliers=bool(p.get("reduce_outliers")),
                model=p.get("embedding_model"),
            )
            notes.append(
                f"refit {unit}: {res.n_topics} topics"
                + (f" ({res.warning})" if res.warning else "")
            )
    if latest_run(con) is None:  # the first fit: documents, default parameters
        n_docs = scalar(con, "SELECT count(*) FROM embeddings WHERE item_kind = 'document'")
        if n_docs < min_items(10):
            return f"skipped: too few document embeddings for topics ({n_docs})"
        # small corpora need small topics: 176 demo documents give 2 topics at size 10
        size = default_min_topic_size("documents", n_docs)
        res = fit(con, db_path, unit="documents", min_topic_size=size)
        return (
            f"first fit: {res.n_topics} topics over {res.n_items} documents (min size {size})"
            + (f"; warning: {res.warning}" if res.warning else "")
        )
    n = assign_new(con)
    return "; ".join(notes + [f"{n} new items assigned to topics"])
