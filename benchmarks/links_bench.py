"""Time the responses and claim_links stages on the LessWrong 2020 corpus (1,083 posts).

``run(db_path)`` ingests the corpus into ``db_path`` when it is empty, runs segment, claims
and embed (not timed as part of the debate stages: they are the inputs), then times
``responses`` and ``claim_links`` with ``force=True``, twice: the first run pays for encoding
the sentences it compares (the embed stage stores only claims and quotes), the second shows
the warm cost. ``limit`` (or ``CRUX_LINKS_BENCH_LIMIT``) keeps only the first N posts in date
order, for a loaded machine; the result says which.

``python -m benchmarks.links_bench [DB] [--limit N]`` prints the figures.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"
CORPUS = SHARED / "lesswrong-2020"


def _subset(limit: int, out: Path) -> Path:
    posts = [p for f in sorted(CORPUS.glob("*.json")) for p in json.loads(f.read_text())]
    posts.sort(key=lambda p: (p.get("postedAt") or "", p["_id"]))
    out.write_text(json.dumps(posts[:limit]))
    return out


def run(db_path: str, limit: int | None = None) -> dict[str, Any]:
    """Figures for both debate stages on ``db_path`` (filled from the corpus when empty)."""
    from crux.crawler.ingest import ingest_paths
    from crux.db import connect
    from crux.pipeline import available_stages
    from crux.pipeline import run as run_stages

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    limit = limit or (int(os.environ["CRUX_LINKS_BENCH_LIMIT"]) if os.environ.get("CRUX_LINKS_BENCH_LIMIT")
                      else None)
    if not CORPUS.exists():
        raise FileNotFoundError(f"{CORPUS} is missing (set CRUX_SHARED)")
    con = connect(db_path)
    out: dict[str, Any] = {"corpus": "lesswrong-2020" + (f" (first {limit} posts by date)" if limit else ""),
                           "cpus": os.cpu_count()}
    quiet = {"progress": False, "echo": lambda *_a, **_k: None}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not con.execute("SELECT count(*) FROM documents").fetchone()[0]:
                src = _subset(limit, Path(tmp) / "subset.json") if limit else CORPUS
                t0 = time.perf_counter()
                ingest_paths(con, [src])
                out["ingest_s"] = round(time.perf_counter() - t0, 1)
        stages = available_stages()
        t0 = time.perf_counter()
        run_stages(con, [s for s in ("segment", "claims", "embed") if s in stages], **quiet)
        out["inputs_s"] = round(time.perf_counter() - t0, 1)  # segment + claims + embed
        out["documents"] = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        out["sentences"] = con.execute("SELECT count(*) FROM sentences").fetchone()[0]
        out["links"] = con.execute("SELECT count(*) FROM links").fetchone()[0]
        out["links_in_corpus"] = con.execute("SELECT count(*) FROM links WHERE target_id IS NOT NULL").fetchone()[0]
        for label in ("cold", "warm"):
            for name in ("responses", "claim_links"):
                t0 = time.perf_counter()
                res = stages[name]().run(con, force=True)
                out[f"{name}_{label}_s"] = round(time.perf_counter() - t0, 2)
                out[f"{name}_rows"] = res.rows_out
        out["responses_non_cites"] = con.execute(
            "SELECT count(*) FROM responses WHERE relation <> 'cites'").fetchone()[0]
        out["docs_per_s_cold"] = round(out["documents"] / max(out["responses_cold_s"] + out["claim_links_cold_s"],
                                                               1e-9), 1)
        out["load_average"] = round(os.getloadavg()[0], 1)
    finally:
        con.close()
    return out


if __name__ == "__main__":
    import sys
    args = sys.argv[1:]
    lim = None
    if "--limit" in args:
        i = args.index("--limit")
        lim = int(args[i + 1])
        del args[i:i + 2]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(args[0] if args else str(Path(tmp) / "bench.duckdb"), lim), indent=1))
    except Exception as e:  # one clear line, not a traceback
        print(f"links bench failed: {type(e).__name__}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
