"""``crux publish`` against a bare sqlite-utils insert of the same tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import register
from .harness import Context, interleaved, pair_row


def bare_insert(db: str, out: str) -> dict[str, Any]:
    """Reference: ``documents`` and ``links`` from DuckDB into SQLite with sqlite-utils, nothing else."""
    import duckdb
    import sqlite_utils

    Path(out).unlink(missing_ok=True)
    con = duckdb.connect(db, read_only=True)
    sq = sqlite_utils.Database(out)
    counts = {}
    for table, pk in (("documents", "id"), ("links", ("source_id", "position"))):
        cur = con.execute(f"SELECT * FROM {table}")
        cols = [d[0] for d in cur.description]
        n = 0
        while rows := cur.fetchmany(5000):
            batch = [{c: (json.dumps(v, default=str) if isinstance(v, list | dict) else v)
                      for c, v in zip(cols, r, strict=True)} for r in rows]
            sq[table].insert_all(batch, pk=pk, batch_size=1000)
            n += len(rows)
        counts[table] = n
    sq.close()
    con.close()
    return counts


@register("publish", "Publish: `crux publish` vs a bare sqlite-utils insert", order=30)
def bench_publish(ctx: Context) -> dict[str, Any]:
    rows = []
    for size in ctx.sizes:
        db = ctx.ingested(size)
        work = ctx.scratch(f"publish-x{size}")
        repeats = ctx.repeats(5 if size <= 4 else 3, 3)
        ctx.log(f"  publish {size}×: {repeats} repeats")
        snap, bare = work / "snapshot.sqlite", work / "bare.sqlite"
        runs, refs = interleaved(
            repeats,
            lambda db=db, snap=snap: ctx.run([*ctx.crux, "--db", str(db), "publish", "--out", str(snap)],
                                             what="crux publish"),
            lambda db=db, bare=bare: ctx.probe("benchmarks.publish:bare_insert", str(db), str(bare)),
        )
        counts = refs[0].result
        n = counts.get("documents", 0) + counts.get("links", 0)
        row = pair_row(f"crux publish {size}× ({counts.get('documents', 0):,} docs + "
                       f"{counts.get('links', 0):,} links)", runs, "sqlite-utils insert_all", refs,
                       n, unit="rows")
        row["snapshot MB"] = snap.stat().st_size / 1e6
        row["bare file MB"] = bare.stat().st_size / 1e6
        rows.append(row)
    return {"rows": rows, "notes": [
        "`crux publish` also builds indexes, the FTS5 index (porter), views, metadata.yml and runs "
        "`PRAGMA quick_check`; the reference only inserts rows (sqlite-utils `insert_all`, default "
        "journal). Both read the same DuckDB file."]}
