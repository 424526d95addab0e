"""Topic fit and claim search figures: ``run(db_path) -> dict`` (called by the harness).

- ``crux topics fit`` in a new process on a copy of the db with an empty data folder (cold
  numba cache), then again (warm): wall time and peak RSS of each process;
- BERTopic alone (same embeddings and parameters) vs crux's ``fit`` in one warm process: ratio;
- claim search latency p50/p95 over 100 queries (model and vectors loaded once) at 1x and 4x
  the stored claim vectors (replicated). When the db has no claim embeddings the documents are
  the unit and the search figures time encode + rank over the document vectors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_CHILD = r"""
import json, resource, sys, time
t = time.perf_counter()
from crux.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    print("BENCH " + json.dumps({"seconds": time.perf_counter() - t,
          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), file=sys.stderr)
"""

_ALONE = r"""
import json, sys, time
db, unit = sys.argv[1], sys.argv[2]
from crux.analysis.topics import prepare_numba, fit, item_rows, _vectorizer
from crux.analysis.vectors import load_vectors, KINDS
from crux.db import connect
prepare_numba(db)
from bertopic import BERTopic
from umap import UMAP
from hdbscan import HDBSCAN
con = connect(db)
ids, X, _ = load_vectors(con, KINDS[unit])
texts = item_rows(con, unit)
keep = [k for k, i in enumerate(ids) if i in texts]
docs = [texts[ids[k]] for k in keep]; X = X[keep]
def alone():
    m = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42),
                 hdbscan_model=HDBSCAN(min_cluster_size=10, min_samples=5, prediction_data=False),
                 vectorizer_model=_vectorizer(len(docs)), calculate_probabilities=False)
    m.fit_transform(docs, embeddings=X)
alone()  # warm-up in this process
t = time.perf_counter(); alone(); a = time.perf_counter() - t
t = time.perf_counter(); fit(con, db, unit=unit, min_topic_size=10, seed=42); c = time.perf_counter() - t
print("BENCH " + json.dumps({"bertopic_alone_s": a, "crux_fit_s": c}), file=sys.stderr)
"""


def _child(code: str, args: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["HF_HUB_OFFLINE"] = "1"
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    line = [x for x in p.stderr.splitlines() if x.startswith("BENCH ")]
    if p.returncode != 0 or not line:
        raise RuntimeError(f"child failed: {p.stderr.strip().splitlines()[-1:]}")
    return {**json.loads(line[-1][6:]), "wall_s": wall}


def _unit(db: Path) -> str:
    from crux.db import connect
    con = connect(db, read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM embeddings WHERE item_kind = 'claim'").fetchone()[0]
    finally:
        con.close()
    return "claims" if n >= 200 else "documents"


def search_latency(db: Path, unit: str, copies: int = 1, n: int = 100) -> dict[str, Any]:
    import numpy as np

    from crux.analysis.claims_search import ClaimIndex
    from crux.analysis.vectors import encode, load_vectors
    from crux.db import connect

    con = connect(db, read_only=True)
    try:
        kind = "claim" if unit == "claims" else "document"
        if unit == "claims":
            index = ClaimIndex(con)
            base = (list(index.ids), index.X)
        else:
            ids, X, _ = load_vectors(con, kind)
            base = (ids, X)
        rng = np.random.default_rng(0)
        titles = [r[0] for r in con.execute("SELECT title FROM documents WHERE title IS NOT NULL "
                                            "ORDER BY id").fetchall()]
        queries = [titles[i] for i in rng.choice(len(titles), size=n, replace=len(titles) < n)]
        X = np.vstack([base[1]] * copies)
        ids = base[0] * copies
        encode([queries[0]])
        times = []
        for q in queries:
            t = time.perf_counter()
            if unit == "claims":
                index.ids, index.X = ids, X
                index.search(q, 10)
            else:
                qv = encode([q])[0]
                sims = X @ qv
                np.argpartition(-sims, 10)[:10]
            times.append((time.perf_counter() - t) * 1000)
    finally:
        con.close()
    return {"vectors": len(ids), "p50_ms": float(np.percentile(times, 50)),
            "p95_ms": float(np.percentile(times, 95))}


def run(db_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Figures for BENCHMARKS.md (see the module doc)."""
    from crux.analysis.vectors import ensure_embeddings
    from crux.db import connect

    src = Path(db_path)
    with tempfile.TemporaryDirectory(prefix="crux-topics-bench-") as tmp:
        db = Path(tmp) / "bench.duckdb"
        shutil.copy(src, db)
        con = connect(db)
        try:
            if not con.execute("SELECT count(*) FROM embeddings WHERE item_kind = 'document'").fetchone()[0]:
                ensure_embeddings(con, "documents")
        finally:
            con.close()
        unit = _unit(db)
        args = ["--db", str(db), "topics", "fit", "--unit", unit]
        cold = _child(_CHILD, args)
        warm = _child(_CHILD, args)
        alone = _child(_ALONE, [str(db), unit])
        s1 = search_latency(db, unit, 1)
        s4 = search_latency(db, unit, 4)
    return {
        "unit": unit,
        "rows": [
            {"figure": "crux topics fit, new process, cold numba cache (s)", "value": round(cold["wall_s"], 1),
             "peak_rss_mb": round(cold["peak_rss_mb"])},
            {"figure": "crux topics fit, new process, warm numba cache (s)", "value": round(warm["wall_s"], 1),
             "peak_rss_mb": round(warm["peak_rss_mb"]), "ratio_to_cold": round(warm["wall_s"] / cold["wall_s"], 2)},
            {"figure": "BERTopic alone, warm process (s)", "value": round(alone["bertopic_alone_s"], 2)},
            {"figure": "crux fit (load + BERTopic + save + store), warm process (s)",
             "value": round(alone["crux_fit_s"], 2),
             "ratio_to_bertopic": round(alone["crux_fit_s"] / alone["bertopic_alone_s"], 2)},
            {"figure": f"search p50/p95 ms, 1x ({s1['vectors']} vectors)", "value": round(s1["p50_ms"], 1),
             "p95_ms": round(s1["p95_ms"], 1)},
            {"figure": f"search p50/p95 ms, 4x ({s4['vectors']} vectors)", "value": round(s4["p50_ms"], 1),
             "p95_ms": round(s4["p95_ms"], 1)},
        ],
        "notes": [f"unit: {unit}" + ("" if unit == "claims" else
                  " (no claim embeddings in this db; search figures time encode + rank over document vectors)")],
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1]), indent=1))
