"""Semantic search on the site: ``/semantic.json`` under 10 keep-alive clients, LessWrong 2020 1×.

The store is the one the ``process`` benchmark leaves (``out/db/processed-x1.duckdb``; quick
mode: the sample's): ``crux publish`` writes its claim and document vectors into the snapshot,
``crux serve`` answers. Every request asks a different sentence (claim sentences of the corpus,
a seeded sample), so each one encodes its query: the plugin's cache of query vectors never
answers. The reference is ``/-/versions.json`` under the same load in the same run; a third
row is that cheap page asked by 2 clients *while* 10 clients run semantic queries, against
the same 2 clients alone: what a query encoding costs the other pages. The same semantic load
also runs on a server with ``CRUX_QUERY_ENCODER=same`` (queries encoded by torch, as the
vectors were, instead of the default onnx-fp32) and on one with ``CRUX_SEMANTIC_BATCH=1`` (one
query encoded at a time, no micro-batching), and a table splits each request's time from the server's own figures in the
JSON (queued, encode, rank, details SQL) and what is left outside the search.

The snapshot size the vectors add is the size of the snapshot, vacuumed, with and without the
``vectors`` table.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from functools import partial
from typing import Any

from . import register, site_queries
from .harness import BenchError, Context, median, percentile, ratio
from .site_queries import CLIENTS, _children, _hwm_mb, _stop, _wait_ready, free_port

REF = "/-/versions.json"
# site_queries' load client, with room for the first query (it loads the model in the server)
load_paths = partial(site_queries.load_paths, timeout=60)
BATCH = 32  # the semantic_batch setting's default


def _row(name: str, got: dict[str, Any], ref_name: str, ref: dict[str, Any], clients: int) -> dict[str, Any]:
    lat = [x * 1000 for x in got["latencies"]]
    rlat = [x * 1000 for x in ref["latencies"]]
    p50, p95, r50, r95 = median(lat), percentile(lat, 95), median(rlat), percentile(rlat, 95)
    return {"query": name, "reference": ref_name, "requests": len(lat), "clients": clients,
            "p50 ms": p50, "p95 ms": p95, "ref p50 ms": r50, "ref p95 ms": r95,
            "× p50": ratio(p50, r50), "× p95": ratio(p95, r95),
            "req/s": ratio(len(lat), got["elapsed"]), "errors": len(got["errors"])}


def _split(name: str, got: dict[str, Any], bodies: list[bytes]) -> dict[str, Any]:
    """Medians of the server's own figures (``/semantic.json``'s ms fields) and of the rest."""
    answers = [json.loads(b) for b in bodies if b.startswith(b"{")]
    if not answers:
        raise BenchError(f"{name}: no JSON answers to read the timings from")

    def med(key: str) -> float:
        return median([float(a.get(key) or 0) for a in answers])

    outside = [lat * 1000 - float(a.get("ms") or 0) for lat, a in zip(got["latencies"], answers, strict=False)]
    return {"setting": name, "query model": answers[0].get("query_model", ""), "requests": len(answers), "client ms": median([x * 1000 for x in got["latencies"]]),
            "server ms (search)": med("ms"), "queued": med("queue_ms"), "encode (the batch)": med("encode_ms"),
            "rank (the batch)": med("rank_ms"), "details SQL": med("details_ms"),
            "outside search (HTTP, JSON, clients)": median(outside), "mean batch": ratio(
                sum(float(a.get("batch") or 0) for a in answers), len(answers))}


def _vacuumed_size(src: Any, dst: Any, drop: bool) -> int:
    shutil.copyfile(src, dst)
    with sqlite3.connect(dst) as sq:
        if drop:
            sq.execute("DROP TABLE vectors")
        sq.commit()
    sq = sqlite3.connect(dst)
    sq.execute("VACUUM")
    sq.close()
    size = dst.stat().st_size
    dst.unlink()
    return size


@register("semantic", "Semantic search: `/semantic.json` (query encoded by the site) under 10 clients",
          order=42)
def bench_semantic(ctx: Context) -> dict[str, Any]:
    from .process import processed

    src = processed(ctx)
    if not src.exists():
        return {"skipped": "needs the `process` benchmark's store: run it first "
                           "(--only process --only semantic)"}
    work = ctx.scratch("semantic")
    snap = work / "lesswrong.sqlite"
    pub = ctx.run([*ctx.crux, "--db", str(src), "publish", "--out", str(snap)], what="crux publish")
    with sqlite3.connect(snap) as sq:
        kinds = dict(sq.execute("SELECT item_kind, count(*) FROM vectors GROUP BY 1").fetchall())
        meta = dict(sq.execute("SELECT key, value FROM _meta").fetchall())
        texts = [r[0] for r in sq.execute("SELECT text FROM claims WHERE length(text) BETWEEN 40 AND 200 "
                                          "ORDER BY sentence_id").fetchall()]
    if not kinds.get("claim"):
        raise BenchError(f"{snap}: no claim vectors were published")
    with_vec = _vacuumed_size(snap, work / "with.sqlite", drop=False)
    without = _vacuumed_size(snap, work / "without.sqlite", drop=True)
    per_client = ctx.repeats(30, 10)
    queries = random.Random(20261202).sample(texts, min(len(texts), CLIENTS * per_client + 50))

    def sem(i: int, n: int) -> str:
        return "/semantic.json?" + urllib.parse.urlencode({"q": queries[50 + i * per_client + n]})

    def serve(batch: int, encoder: str = "onnx-fp32") -> tuple[int, subprocess.Popen[bytes], Any, float, float]:
        port = free_port()
        env = {**ctx.env(), "CRUX_SEMANTIC_BATCH": str(batch), "CRUX_QUERY_ENCODER": encoder}
        log = (work / f"serve-batch{batch}-{encoder}.log").open("wb")
        proc = subprocess.Popen([*ctx.crux, "--db", str(src), "serve", "--snapshot", str(snap),
                                 "--port", str(port)], cwd=ctx.work, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            ready = _wait_ready(port, proc)
            t0 = time.perf_counter()
            first = load_paths(port, lambda i, n: "/semantic.json?" + urllib.parse.urlencode({"q": queries[0]}),
                               clients=1, per_client=1)
            cold = time.perf_counter() - t0
            if first["errors"]:
                raise BenchError(f"the first semantic query failed: {first['errors'][0]}")
            warm = load_paths(port, lambda i, n: "/semantic.json?" + urllib.parse.urlencode(
                {"q": queries[1 + i * 3 + n]}), clients=2, per_client=3)
            if warm["errors"]:
                raise BenchError(f"semantic queries failed: {warm['errors'][0]}")
        except BaseException:
            _stop(proc)
            log.close()
            raise
        return port, proc, log, ready, cold

    def other(batch: int, encoder: str) -> tuple[dict[str, Any], list[bytes]]:
        """The same semantic load on a server of its own with other settings."""
        port, proc, log, _, _ = serve(batch, encoder)
        bodies: list[bytes] = []
        try:
            return load_paths(port, sem, per_client=per_client, bodies=bodies), bodies
        finally:
            _stop(proc)
            log.close()

    # before: queries encoded by torch (query_encoder = same); one query at a time (batch 1)
    torch_got, torch_bodies = other(BATCH, "same")
    single, single_bodies = other(1, "onnx-fp32")
    port, proc, log, ready, cold = serve(BATCH)
    got_bodies: list[bytes] = []
    try:
        load_paths(port, lambda i, n: REF, clients=2, per_client=3)
        ctx.log(f"  semantic: server up in {ready:.1f}s, first query {cold:.1f}s; "
                f"{CLIENTS}×{per_client} requests")
        ref_a = load_paths(port, lambda i, n: REF, per_client=per_client * 2)
        got = load_paths(port, sem, per_client=per_client, bodies=got_bodies)
        ref_b = load_paths(port, lambda i, n: REF, per_client=per_client * 2)
        alone = load_paths(port, lambda i, n: REF, clients=2, per_client=per_client * 2)
        # the cheap page from 2 clients while 10 clients run semantic queries
        beside: dict[str, Any] = {}
        sem2 = list(reversed(queries[50:]))

        def background() -> None:
            beside.update(load_paths(port, lambda i, n: REF, clients=2, per_client=per_client * 2))

        bg = threading.Thread(target=background)
        bg.start()
        during = load_paths(port, lambda i, n: "/semantic.json?" + urllib.parse.urlencode(
            {"q": sem2[i * per_client + n] + " (again)"}), per_client=per_client)
        bg.join()
        servers = [proc.pid, *_children(proc.pid)]
        rss = max(_hwm_mb(pid) for pid in servers)
    finally:
        _stop(proc)
        log.close()
    ref = {k: ref_a[k] + ref_b[k] for k in ("latencies", "errors", "elapsed")}
    rows = [_row(f"semantic search (`/semantic.json`, a new sentence each request; batches of up to {BATCH}; "
                 "queries encoded by onnx-fp32)", got, REF, ref, CLIENTS),
            _row("the same, queries encoded by torch (`query_encoder` = same, its own server)",
                 torch_got, REF, ref, CLIENTS),
            _row("the same by onnx-fp32, one query encoded at a time (`semantic_batch` = 1, its own server)",
                 single, REF, ref, CLIENTS),
            _row(f"`{REF}` while 10 clients search (2 clients)", beside, f"`{REF}` alone (2 clients)",
                 alone, 2)]
    rows[0]["errors"] += len(during["errors"])
    split = [_split(f"onnx-fp32, batches of up to {BATCH}", got, got_bodies),
             _split(f"torch, batches of up to {BATCH}", torch_got, torch_bodies),
             _split("onnx-fp32, one at a time", single, single_bodies)]
    n_vec = sum(kinds.values())
    dim = int(meta.get("vectors_dim") or 0)
    return {
        "rows": rows,
        "tables": {"Where a semantic request's time goes (medians over the 10-client run; ms)": split},
        "vectors": f"{kinds.get('claim', 0):,} claims + {kinds.get('document', 0):,} documents, "
                   f"{meta.get('vectors_model')} ({dim} float32)",
        "snapshot MB (as published)": snap.stat().st_size / 1e6,
        "snapshot MB the vectors add (vacuumed, with − without)": (with_vec - without) / 1e6,
        "vectors' raw size MB (n × dim × 4)": n_vec * dim * 4 / 1e6,
        "snapshot growth from the vectors (vacuumed)": ratio(with_vec - without, without),
        "crux publish wall s (with the vectors)": pub.wall_s,
        "first query s (loads the model and reads the vectors)": cold,
        "server start s (to first answer)": ready,
        "server peak RSS MB (Datasette process)": rss,
        "notes": [
            "Clients are threads in the harness's process (http.client, one keep-alive connection "
            "each) on the same 2 cores as the server. Each semantic request encodes a different "
            "claim sentence of the corpus (one worker thread, a lock around the model; the queries "
            "that wait while one encodes are encoded and ranked together, one matrix product per "
            "kind) and ranks every vector by a numpy dot product; the other pages run on "
            "Datasette's own threads. `encode` and `rank` are per batch, shared by its requests.",
        ],
    }
