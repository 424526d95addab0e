"""Zero-downtime republish: 20 clients query ``crux serve`` while ``crux publish`` replaces the
snapshot three times (with new data each time). No request fails, each new document is
served within 2 s of its publish finishing, and semantic search reads each new file's vectors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb

from .conftest import Server

CLIENTS = 20
MAX_REQUESTS_PER_CLIENT = 400


def _crux(db: Path, *args: str) -> None:
    out = subprocess.run([sys.executable, "-m", "crux", "--db", str(db), *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_republish_under_load_fails_no_request(corpus, tmp_path):
    db = tmp_path / "demo.duckdb"
    shutil.copyfile(corpus[0], db)
    _crux(db, "publish")
    srv = Server(db)
    doc = json.loads(srv.get("/demo/posts.json?_shape=array&_size=1"))[0]["id"]
    semantic = "/semantic.json"  # the vectors a query would search: read per snapshot, no encoding
    vectors = json.loads(srv.get(semantic, timeout=60))["vectors"]
    assert vectors > 3
    paths = [semantic, "/", f"/doc/{doc}", "/demo/documents.json?_search=forecasting&_size=5",
             "/forecasts", "/demo/posts.json?_size=10", "/debates", "/demo/claim_details.json?_size=5",
             "/demo.json"]
    stop = threading.Event()
    failures: list[str] = []
    done = [0] * CLIENTS

    def client(i: int) -> None:
        n = 0
        while not stop.is_set() and n < MAX_REQUESTS_PER_CLIENT:
            path = paths[(i + n) % len(paths)]
            n += 1
            try:
                with urllib.request.urlopen(srv.url + path, timeout=15) as r:
                    r.read()
                    if r.status != 200:
                        failures.append(f"{path}: {r.status}")
            except urllib.error.HTTPError as e:
                failures.append(f"{path}: HTTP {e.code}")
            except OSError as e:
                failures.append(f"{path}: {e}")
            time.sleep(0.01)
        done[i] = n

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    lags = []
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        for round_ in range(3):
            marker = f"republishmarker{round_}"
            feed = tmp_path / f"new-{round_}.jsonl"
            feed.write_text(json.dumps({
                "id": f"new-{round_}", "title": f"Round {round_} {marker}", "author": "Load Tester",
                "published_at": "2026-01-01T00:00:00Z", "html": f"<p>Fresh post {marker}.</p>"}) + "\n")
            _crux(db, "ingest", str(feed), "--source", "load test")
            con = duckdb.connect(str(db))  # one claim vector fewer in each new snapshot
            con.execute("DELETE FROM embeddings WHERE item_kind = 'claim' AND item_id = "
                        "(SELECT min(item_id) FROM embeddings WHERE item_kind = 'claim')")
            con.close()
            _crux(db, "publish")
            published = time.monotonic()
            while True:
                rows = json.loads(srv.get(f"/demo/documents.json?_search={marker}&_shape=array"))
                if rows:
                    lags.append(time.monotonic() - published)
                    break
                assert time.monotonic() - published < 2.0, f"round {round_}: old data after 2 s"
                time.sleep(0.05)
        assert json.loads(srv.get(semantic))["vectors"] == vectors - 3
        # the counts follow the new file too (from its inspect JSON)
        tables = json.loads(srv.get("/demo.json"))["tables"]
        documents = next(t for t in tables if t["name"] == "documents")
        assert documents["count"] == 179
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        srv.stop()
    assert failures == [], failures[:5]
    assert sum(done) > 200, done
    assert max(lags) < 2.0, lags
