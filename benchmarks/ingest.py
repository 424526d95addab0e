"""``crux ingest`` of the 1× (4×, 16×) corpus against parsing the same files without the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import register
from .harness import Context, growth_rows, median, pair_row


def parse_json_only(folder: str) -> dict[str, Any]:
    """Reference: read and ``json.loads`` every file; count the posts."""
    n = 0
    for f in sorted(Path(folder).glob("*.json")):
        n += len(json.loads(f.read_bytes()))
    return {"docs": n}


def parse_to_docs(folder: str) -> dict[str, Any]:
    """Second reference: crux's own parsing (JSON to ``Doc`` records), no store."""
    from crux.crawler.forummagnum import parse_forum_json
    n = 0
    for f in sorted(Path(folder).glob("*.json")):
        n += len(parse_forum_json(json.loads(f.read_bytes()), location=str(f)).docs)
    return {"docs": n}


def _docs_in(db: Path) -> int:
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM documents").fetchone()[0]
    finally:
        con.close()


@register("ingest", "Ingest: `crux ingest` vs parsing alone", order=20)
def bench_ingest(ctx: Context) -> dict[str, Any]:
    rows, growth = [], {"crux ingest": [], "json.loads alone": [], "parse to Doc (no store)": []}
    sizes = [s for s in ctx.sizes if s >= 1]
    for size in sizes:
        corpus = ctx.corpus(size)
        work = ctx.scratch(f"ingest-x{size}")
        repeats = ctx.repeats(5 if size <= 4 else 3, 3)
        ctx.log(f"  ingest {size}×: {repeats} repeats")
        ing, js, docs = [], [], []
        for i in range(repeats):  # interleaved, A B C A B C ..., so drift hits all three
            db = work / f"run{i}.duckdb"  # a fresh store each time
            ing.append(ctx.run([*ctx.crux, "--db", str(db), "ingest", str(corpus)], what="crux ingest"))
            js.append(ctx.probe("benchmarks.ingest:parse_json_only", str(corpus)))
            docs.append(ctx.probe("benchmarks.ingest:parse_to_docs", str(corpus)))
        n = _docs_in(next(work.glob("run*.duckdb")))
        if n != js[0].result["docs"]:
            raise RuntimeError(f"{size}×: stored {n} documents of {js[0].result['docs']} posts")
        rows.append(pair_row(f"crux ingest {size}× ({n:,} docs)", ing, "json.loads alone", js, n))
        rows.append(pair_row(f"crux ingest {size}×", ing, "parse to Doc (no store)", docs, n))
        growth["crux ingest"].append(median([m.wall_s for m in ing]))
        growth["json.loads alone"].append(median([m.wall_s for m in js]))
        growth["parse to Doc (no store)"].append(median([m.wall_s for m in docs]))
        for db in work.glob("run*.duckdb*"):
            db.unlink()
    result: dict[str, Any] = {"rows": rows}
    if len(sizes) >= 2:
        table = growth_rows("series", sizes, growth)
        result["tables"] = {"Growth with corpus size (log-log slope of median wall time; 1.0 = linear)": table}
        result["notes"] = [
            "The references' exponents sit below 1 because interpreter start-up is a fixed part "
            "of their short runs; the store's own growth shows in crux's exponent and in docs/s per size."]
    else:
        result["notes"] = ["Growth exponent: not measured (needs two sizes or more; quick mode runs 1× only)."]
    return result
