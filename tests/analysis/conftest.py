"""A demo corpus with real document embeddings, fitted twice by the CLI in new processes
(cold, then warm numba cache) and once in this process, shared by the analysis tests.

BERTopic's numba code costs a minute or more to compile in a fresh process, so the fits are
made once per session: two ``crux topics fit`` subprocesses (which also give the cold/warm
timing and the same-seed check), then in-process fits that reuse the warm cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

MIN_TOPIC_SIZE = 4

# Hand-written rows for the stages the analyses read (claims, links, forecasts): ids of
# sentences of demo documents, texts written here.
CLAIMS = [
    ("fk5doj9YeoEq7KZIi", "Forecasting tournaments improve the calibration of policy makers."),
    ("fk5doj9YeoEq7KZIi", "Grants for forecasting platforms are mostly wasted money."),
    ("mBcXb5pm8pseZX0CE", "Far-UVC lamps reduce airborne transmission in crowded rooms."),
    ("mBcXb5pm8pseZX0CE", "Air filters are cheaper than far-UVC per cubic metre cleaned."),
    ("0pBPV7I7N7nFE2XVD", "Most survey respondents trust aggregated forecasts over pundits."),
]


def run_cli(args: list[str], db: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["HF_HUB_OFFLINE"] = "1"
    env["CRUX_NUMBA_USER_CACHE"] = "0"  # the first fit must be cold, whatever ran before
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "crux", "--db", str(db), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    return proc, time.perf_counter() - t


def _seed(db: Path) -> None:
    from crux.analysis.vectors import ensure_embeddings
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect
    from crux.demo import DEMO_DIR, DEMO_SOURCES

    # the demo's documents only (not build_demo, which runs every stage and a first topic fit)
    con = connect(db)
    try:
        for path in iter_files([DEMO_DIR]):
            ingest_file(con, path, source=DEMO_SOURCES.get(path.name))
        ensure_embeddings(con, "documents")
        for n, (doc, text) in enumerate(CLAIMS):
            sid = f"{doc}:s9{n:02d}"
            con.execute("INSERT INTO sentences VALUES (?, ?, ?, ?, ?, 0, ?, false)",
                        [sid, doc, f"{doc}:b0", 900 + n, text, len(text)])
            con.execute("INSERT INTO claims VALUES (?, ?, 0.9, 'factual', 'test')", [sid, doc])
        ensure_embeddings(con, "claims")
        s = [f"{d}:s9{n:02d}" for n, (d, _) in enumerate(CLAIMS)]
        links = [(s[1], s[0], "attacks"), (s[2], s[0], "attacks"), (s[3], s[2], "attacks"),
                 (s[4], s[0], "supports")]
        for k, (src, dst, rel) in enumerate(links):
            con.execute("INSERT INTO claim_links VALUES (?, ?, ?, ?, ?, NULL, ?, 0.8, 'test')",
                        [f"l{k}", src, src.split(":")[0], dst, dst.split(":")[0], rel])
        con.execute("INSERT INTO forecasts (sentence_id, document_id, probability, low, high, verbal, horizon, horizon_text, event, holder) VALUES (?, ?, 0.7, NULL, NULL, 'likely', DATE '2030-12-31', "
                    "'by 2030', 'far-UVC in most offices', NULL)", [s[2], CLAIMS[2][0]])
    finally:
        con.close()


@pytest.fixture(scope="session")
def cli_fits(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo db fitted twice by ``crux topics fit`` in new processes: cold, then warm."""
    db = tmp_path_factory.mktemp("topics") / "demo.duckdb"
    _seed(db)
    args = ["topics", "fit", "--min-topic-size", str(MIN_TOPIC_SIZE), "--seed", "42"]
    cache = db.parent / f"{db.stem}-data" / "numba-cache"

    def listing() -> dict[str, int]:
        return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}

    cold, _ = run_cli(args, db)
    assert cold.returncode == 0, cold.stderr[-2000:]
    after_cold = listing()
    warm, _ = run_cli(args, db)
    assert warm.returncode == 0, warm.stderr[-2000:]
    return {"db": db, "cache": cache, "after_cold": after_cold, "after_warm": listing(),
            "out": [cold.stdout, warm.stdout]}


@pytest.fixture(scope="session")
def fitted(cli_fits: dict) -> dict:
    """An in-process fit with outlier reduction on the same db (warm numba cache), run last."""
    from crux.analysis.topics import fit
    from crux.db import connect

    db = cli_fits["db"]
    con = connect(db)
    try:
        reduced = fit(con, db, unit="documents", min_topic_size=MIN_TOPIC_SIZE, seed=42,
                      reduce_outliers=True)
    finally:
        con.close()
    return {**cli_fits, "reduced": reduced}
