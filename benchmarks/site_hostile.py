"""The site under hostile SQL: 10 clients read pages while 5 clients send expensive queries.

``crux serve`` on the published 1× snapshot. The readers' latency is measured twice in one run:
alone, then while 5 threads loop over the hostile queries of issue 18 (huge values from printf,
zeroblob, randomblob, replace and group_concat; many big rows; a recursive CTE and a cross join
that run to the time limit; a CSV stream of a whole table). The goal: the readers' p95 stays
under 1 s, and every hostile query fails fast with a 4xx/5xx (or a stream cut at the deadline).
"""

from __future__ import annotations

import http.client
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from typing import Any

from . import register
from .harness import BenchError, Context, median, percentile
from .site_queries import CLIENTS, SEARCH, _children, _hwm_mb, _stop, _wait_ready, free_port, load

HOSTILE_CLIENTS = 5
ROWS = "with recursive r(x) as (select 1 union all select x+1 from r limit {n}) "
HOSTILE_SQL = [
    ("printf padding 500 MB", "select printf('%.*c', 500000000, 'x')"),
    ("printf padding 2 GB", "select printf('%.*c', 2000000000, 'x')"),
    ("zeroblob 1 GB", "select zeroblob(1000000000)"),
    ("randomblob 1 GB", "select randomblob(1000000000)"),
    ("replace blow-up", "select replace(hex(zeroblob(1000000)), '0', printf('%.*c', 100, '0'))"),
    ("group_concat blow-up", ROWS.format(n=100) + "select group_concat(hex(zeroblob(1000000))) from r"),
    ("1,000 rows of 900 kB", ROWS.format(n=1000) + "select zeroblob(900000) from r"),
    ("recursive CTE", "with recursive r(x) as (select 1 union all select x+1 from r) select count(*) from r"),
    ("cross join", "select count(*) from documents a, documents b, documents c"),
]


def _hostile_paths(name: str) -> list[tuple[str, str]]:
    paths = [(q, f"/{name}.json?" + urllib.parse.urlencode({"sql": sql})) for q, sql in HOSTILE_SQL]
    paths.append(("CSV stream of documents", f"/{name}/documents.csv?_stream=on&_size=max"))
    return paths


def _attack(port: int, paths: list[tuple[str, str]], offset: int, stop: threading.Event,
            out: list[tuple[str, int, float, int]]) -> None:
    i = offset
    while not stop.is_set():
        what, path = paths[i % len(paths)]
        i += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            size = len(resp.read())
            status = resp.status
        except (OSError, http.client.HTTPException):
            status, size = 0, 0
        finally:
            conn.close()
        out.append((what, status, time.perf_counter() - t0, size))


def _reader_row(phase: str, got: dict[str, Any]) -> dict[str, Any]:
    lat = [x * 1000 for x in got["latencies"]]
    return {"phase": phase, "clients": CLIENTS, "requests": len(lat), "p50 ms": median(lat),
            "p95 ms": percentile(lat, 95), "max ms": max(lat), "errors": len(got["errors"]),
            "p95 under 1 s": "yes" if percentile(lat, 95) < 1000 else "NO"}


@register("site_hostile", "The site under hostile SQL: 10 readers beside 5 hostile clients", order=41)
def bench_site_hostile(ctx: Context) -> dict[str, Any]:
    import sqlite3

    db = ctx.ingested(1)
    work = ctx.scratch("site_hostile")
    snap = work / "lesswrong.sqlite"
    ctx.run([*ctx.crux, "--db", str(db), "publish", "--out", str(snap)], what="crux publish")
    with sqlite3.connect(snap) as sq:
        doc_id = sq.execute("SELECT id FROM documents ORDER BY id LIMIT 1").fetchone()[0]
    name = snap.stem
    pages = [f"/{name}/documents/{urllib.parse.quote(doc_id)}", f"/{name}/documents.json?_size=10",
             f"/{name}/documents.json?_search={SEARCH}&_size=10", f"/doc/{urllib.parse.quote(doc_id)}"]
    per_client = ctx.repeats(60, 20)  # per reader, over the page mix
    port = free_port()
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen([*ctx.crux, "--db", str(db), "serve", "--snapshot", str(snap),
                             "--port", str(port)], cwd=ctx.work, env=ctx.env(), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    hostile: list[tuple[str, int, float, int]] = []
    try:
        _wait_ready(port, proc)
        for path in pages:
            got = load(port, path, clients=2, per_client=2)
            if got["errors"]:
                raise BenchError(f"GET {path} failed: {got['errors'][0]}")

        def readers() -> dict[str, Any]:
            runs = [load(port, p, per_client=max(1, per_client // len(pages))) for p in pages]
            return {"latencies": [x for r in runs for x in r["latencies"]],
                    "errors": [x for r in runs for x in r["errors"]]}

        alone = readers()
        stop = threading.Event()
        attackers = [threading.Thread(target=_attack, args=(port, _hostile_paths(name), i, stop, hostile))
                     for i in range(HOSTILE_CLIENTS)]
        for t in attackers:
            t.start()
        time.sleep(1.0)  # let the hostile queries take their threads first
        attacked = readers()
        stop.set()
        for t in attackers:
            t.join()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/{name}.json?sql=select+1")
        after = conn.getresponse().status
        conn.close()
        rss = max(_hwm_mb(pid) for pid in [proc.pid, *_children(proc.pid)])
    finally:
        _stop(proc)
        log.close()
    rows = [_reader_row("readers alone", alone), _reader_row("readers + 5 hostile clients", attacked)]
    by_query: dict[str, list[tuple[int, float, int]]] = {}
    for what, status, took, size in hostile:
        by_query.setdefault(what, []).append((status, took, size))
    hostile_rows = []
    for what, _ in [*HOSTILE_SQL, ("CSV stream of documents", "")]:
        got = by_query.get(what, [])
        if not got:
            continue
        statuses = Counter(s for s, _, _ in got)
        hostile_rows.append({
            "hostile query": what, "requests": len(got),
            "statuses": ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items())),
            "median s": median([t for _, t, _ in got]), "max s": max(t for _, t, _ in got),
            "largest body kB": max(b for _, _, b in got) / 1000})
    return {"rows": rows, "tables": {"Hostile requests during the attack": hostile_rows},
            "server peak RSS MB (Datasette process)": rss, "select 1 after the attack": after,
            "notes": [f"Readers: {CLIENTS} threads, one keep-alive connection each, over {len(pages)} "
                      "pages in turn (row page, a 10-row JSON table page, a 10-row full-text "
                      f"search for `{SEARCH}`, crux's document page); hostile clients: "
                      f"{HOSTILE_CLIENTS} threads looping over the queries below (new connection "
                      "each). 429 = the site already runs its `site_sql_at_once` visitors' queries (1); 400 = refused (value "
                      "too big, or the 3 s time limit); 503 = past the 4 s response deadline; "
                      "CSV streaming is off (400). All on the same 2 cores."]}
