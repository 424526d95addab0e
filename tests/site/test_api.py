"""``crux serve`` answers Datasette's JSON API; canned queries run; the snapshot is complete."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import yaml

from crux.site.export import PRIVATE_TABLES, PUBLIC_TABLES, inspect_path, metadata_path


def test_full_text_search_through_the_json_api(server):
    q = urlencode({"_search": "stop funding", "_shape": "array", "_col": "title"})
    rows = json.loads(server.get(f"/demo/documents.json?{q}"))
    assert "Forecasting Is Overrated; Stop Funding It" in [r["title"] for r in rows]
    # porter stemming: "forecasters" finds "forecasting"
    rows = json.loads(server.get("/demo/documents.json?_search=forecasters&_shape=array&_col=title"))
    assert rows


def _params(name: str, topic: str) -> dict[str, str]:
    return {"claims_about_topic": {"topic": topic}, "search_everywhere": {"q": "calibration"}}.get(name, {})


def test_every_canned_query_returns_rows(server, corpus):
    meta = yaml.safe_load(metadata_path(corpus[1]).read_text())
    queries = meta["databases"]["demo"]["queries"]
    assert set(queries) >= {"debates", "most_contested_claims", "forecasts_by_horizon",
                            "claims_about_topic", "search_everywhere"}
    con = sqlite3.connect(corpus[1])
    # the biggest topic of the newest run (the query accepts a topic number)
    word = str(con.execute("""SELECT topic_id FROM topics WHERE topic_id >= 0 AND run_id =
        (SELECT run_id FROM topic_runs ORDER BY created_at DESC LIMIT 1)
        ORDER BY size DESC""").fetchone()[0])
    con.close()
    for name in queries:
        q = urlencode({**_params(name, word), "_shape": "objects"})
        data = json.loads(server.get(f"/demo/{name}.json?{q}"))
        assert data["rows"], f"canned query {name} returned no rows"



def test_table_pages_compute_their_facets_but_suggest_none(server):
    # suggested facets (a GROUP BY per column on every page) are off: at 16x they were most of
    # a search's and a facet page's time (benchmarks/site_scale.py)
    data = json.loads(server.get("/demo/documents.json?_search=forecasting&_size=1"))
    assert data["suggested_facets"] == []
    assert {"source_id", "kind", "author"} <= set(data["facet_results"])
    # documents are long: 20 to a page unless _size asks for more (the others keep 100)
    assert len(json.loads(server.get("/demo/documents.json?_shape=array"))) == 20
    assert len(json.loads(server.get("/demo/documents.json?_shape=array&_size=30"))) == 30
    assert len(json.loads(server.get("/demo/sentences.json?_shape=array"))) == 100


def test_search_everywhere_returns_the_best_matches_of_every_kind(server, corpus):
    # the query ranks each kind's best 100 before the snippets are made; the same rows, in the
    # same order, as ranking every match of the three indexes at once
    q = "forecast"
    got = json.loads(server.get(f"/demo/search_everywhere.json?{urlencode({'q': q})}&_shape=array"))
    con = sqlite3.connect(corpus[1])
    parts = [
        f"select {kind!r}, t.document_id, {fts}.rank from {fts} join {table} t on t.rowid = {fts}.rowid "
        f"where {fts} match :q"
        for kind, fts, table in (("document", "documents_fts", "(select rowid, id as document_id from documents)"),
                                 ("claim", "claims_fts", "claims"), ("forecast", "forecasts_fts", "forecasts"),
                                 ("sentence", "sentences_fts", "sentences"))
    ]
    want = con.execute(f"select * from ({' union all '.join(parts)}) order by 3 limit 100", {"q": q}).fetchall()
    con.close()
    assert len(want) > 10 and {w[0] for w in want} >= {"document", "claim", "sentence"}
    assert [(r["found_in"], r["document_id"], r["rank"]) for r in got] == [tuple(w) for w in want]

def test_snapshot_has_every_public_table_views_fts_and_counts(corpus):
    db, snap = corpus
    con = sqlite3.connect(snap)
    names = {r[0]: r[1] for r in con.execute("SELECT name, type FROM sqlite_master")}
    for spec in PUBLIC_TABLES:
        assert names.get(spec.name) == "table", spec.name
    for private in PRIVATE_TABLES:
        assert private not in names
    for view in ("posts", "claim_details", "debate_links", "claim_link_details", "forecast_details"):
        assert names.get(view) == "view"
        con.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
    for fts in ("documents_fts", "claims_fts", "forecasts_fts", "sentences_fts"):
        assert names.get(fts) == "table"
        assert "porter" in con.execute("SELECT sql FROM sqlite_master WHERE name = ?", [fts]).fetchone()[0]
    assert con.execute("SELECT count(*) FROM claims WHERE text IS NULL").fetchone()[0] == 0
    meta = dict(con.execute("SELECT key, value FROM _meta"))
    # the last run that brought content in (the demo's ingest), not the later process runs
    assert meta["last_refreshed_at"] == con.execute(
        "SELECT max(finished_at) FROM _runs WHERE status IN ('ok', 'partial') AND command = 'demo'").fetchone()[0]
    assert meta["last_refreshed_at"] < con.execute("SELECT max(finished_at) FROM _runs").fetchone()[0]
    counts = json.loads(inspect_path(snap).read_text())["demo"]
    assert counts["tables"]["documents"]["count"] == 176
    assert counts["size"] == snap.stat().st_size
    con.close()


def test_serve_and_publish_bad_input_is_one_line(tmp_path: Path):
    def crux(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crux", *args], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
    out = crux("--db", str(tmp_path / "none.duckdb"), "serve")
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0
    assert "no published snapshot; run: crux publish" in out.stderr
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not sqlite")
    out = crux("serve", "--snapshot", str(bad))
    assert out.returncode == 1 and "not a SQLite snapshot" in out.stderr and "Traceback" not in out.stderr
    out = crux("--db", str(tmp_path / "a.duckdb"), "publish", "--out", str(tmp_path / "no" / "x.sqlite"))
    assert out.returncode == 2 and "folder does not exist" in out.stderr and "Traceback" not in out.stderr



def test_bad_site_settings_are_one_line_before_the_server_starts(corpus, tmp_path: Path):
    for env, says in ((("CRUX_SITE_SQL_AT_ONCE", "0"), "must be at least 1"),
                      (("CRUX_SITE_MAX_BYTES", "lots"), "is not a whole number"),
                      (("CRUX_QUERY_ENCODER", "fp16"), "use one of onnx-fp32, same")):
        out = subprocess.run([sys.executable, "-m", "crux", "serve", "--snapshot", str(corpus[1]),
                              "--port", "1"], capture_output=True, text=True, timeout=60,
                             cwd=tmp_path, env={**os.environ, env[0]: env[1]})
        assert out.returncode in (1, 2) and says in out.stderr, (env, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and "Serving" not in out.stdout, (env, out.stderr)
