"""Time the responses and claim_links stages on the LessWrong 2020 corpus (1,083 posts)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"


def run(db_path: str) -> dict[str, Any]:
    """Ingest the corpus into ``db_path`` (if empty), segment it, then time both stages."""
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect
    from crux.pipeline import available_stages
    from crux.pipeline._segment_lite import run_pipeline

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    con = connect(db_path)
    out: dict[str, Any] = {}
    try:
        if not con.execute("SELECT count(*) FROM documents").fetchone()[0]:
            for path in iter_files([SHARED / "lesswrong-2020"]):
                ingest_file(con, path)
        t0 = time.perf_counter()
        run_pipeline(con, ["segment"])
        out["segment_s"] = round(time.perf_counter() - t0, 1)
        stages = available_stages()
        for name in ("responses", "claim_links"):
            t0 = time.perf_counter()
            res = stages[name]().run(con, force=True)
            out[f"{name}_s"] = round(time.perf_counter() - t0, 1)
            out[f"{name}_rows"] = res.rows_out
        out["documents"] = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        out["responses_non_cites"] = con.execute(
            "SELECT count(*) FROM responses WHERE relation <> 'cites'").fetchone()[0]
    finally:
        con.close()
    return out


if __name__ == "__main__":
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        print(run(sys.argv[1] if len(sys.argv) > 1 else str(Path(tmp) / "bench.duckdb")))
