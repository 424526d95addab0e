"""Latency of the published site: ``crux serve`` (Datasette) on the 1× snapshot, 10 clients.

The reference is Datasette's cheapest page, ``/-/versions.json``, under the same load in the
same run (measured before and after the queries), so a ratio says what the query itself costs.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import register
from .harness import BenchError, Context, median, percentile, ratio

CLIENTS = 10
SEARCH = "coronavirus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_paths(port: int, path_of: Callable[[int, int], str], *, clients: int = CLIENTS,
               per_client: int = 20, bodies: list[bytes] | None = None,
               timeout: float = 30) -> dict[str, Any]:
    """``clients`` threads on one keep-alive connection each; request ``n`` of client ``i``
    asks ``path_of(i, n)``. The answers' bodies go in ``bodies`` if given, each with its
    latency (``latencies`` and ``bodies`` are in the same order)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        mine, bad, got = [], [], []
        for n in range(per_client):
            t0 = time.perf_counter()
            body = b""
            try:
                conn.request("GET", path_of(i, n))
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    bad.append(f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException) as e:
                bad.append(type(e).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            mine.append(time.perf_counter() - t0)
            got.append(body)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)
            if bodies is not None:
                bodies.extend(got)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - t0}


def load(port: int, path: str, *, clients: int = CLIENTS, per_client: int = 20) -> dict[str, Any]:
    """``clients`` threads, each sending ``per_client`` GETs of ``path`` on one keep-alive connection."""
    return load_paths(port, lambda i, n: path, clients=clients, per_client=per_client)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise BenchError(f"crux serve exited with status {proc.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/-/versions.json")
            if conn.getresponse().status == 200:
                conn.close()
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"crux serve did not answer on port {port} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the server's own process group (crux serve and its Datasette), then kill."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=15)


def _row(name: str, path: str, got: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    lat = [x * 1000 for x in got["latencies"]]
    rlat = [x * 1000 for x in ref["latencies"]]
    p50, p95, r50, r95 = median(lat), percentile(lat, 95), median(rlat), percentile(rlat, 95)
    return {
        "query": name, "path": path, "reference": "/-/versions.json", "requests": len(lat),
        "clients": CLIENTS, "p50 ms": p50, "p95 ms": p95, "ref p50 ms": r50, "ref p95 ms": r95,
        "× p50": ratio(p50, r50), "× p95": ratio(p95, r95),
        "req/s": ratio(len(lat), got["elapsed"]), "ref req/s": ratio(len(rlat), ref["elapsed"]),
        "errors": len(got["errors"]),
    }


@contextlib.contextmanager
def serving(ctx: Context, db: Path, snap: Path, log_path: Path,
            env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen[bytes], float]]:
    """``crux serve`` of ``snap`` on a free port, in its own process group, output to
    ``log_path``: ``(port, process, seconds to its first answer)``; stopped on leaving."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*ctx.crux, "--db", str(db), "serve", "--snapshot", str(snap),
                                 "--port", str(port)], cwd=ctx.work, env=env or ctx.env(), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield port, proc, _wait_ready(port, proc)
        finally:
            _stop(proc)


def measure(port: int, queries: list[tuple[str, str]], per_client: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each query under :data:`CLIENTS` keep-alive clients, ``per_client`` requests each, after a
    warm-up; the reference ``/-/versions.json`` the same way before and after them. The
    rows (:func:`_row`) and the reference's load."""
    for _, path in [("ref", "/-/versions.json"), *queries]:  # warm up caches and connections
        got = load(port, path, clients=2, per_client=3)
        if got["errors"]:
            raise BenchError(f"GET {path} failed: {got['errors'][0]}")
    ref_a = load(port, "/-/versions.json", per_client=per_client)
    results = [(q, p, load(port, p, per_client=per_client)) for q, p in queries]
    ref_b = load(port, "/-/versions.json", per_client=per_client)
    ref = {"latencies": ref_a["latencies"] + ref_b["latencies"],
           "errors": ref_a["errors"] + ref_b["errors"],
           "elapsed": ref_a["elapsed"] + ref_b["elapsed"]}
    return [_row(q, p, got, ref) for q, p, got in results], ref


def server_rss_mb(proc: subprocess.Popen[bytes]) -> float:
    """The peak RSS of ``crux serve`` or its Datasette child, whichever is larger."""
    return max(_hwm_mb(pid) for pid in [proc.pid, *_children(proc.pid)])


def served_rows(ctx: Context, label: str, db: Path, snap: Path, queries: list[tuple[str, str]],
                per_client: int) -> tuple[list[dict[str, Any]], float, float]:
    """:func:`measure` on ``crux serve`` of ``snap`` (log: ``serve.log`` beside it): the rows,
    the server's peak RSS and its start-up seconds."""
    with serving(ctx, db, snap, snap.parent / "serve.log") as (port, proc, ready):
        ctx.log(f"  {label}: server up in {ready:.1f}s on port {port}; "
                f"{CLIENTS}×{per_client} requests per query")
        rows, _ = measure(port, queries, per_client)
        return rows, server_rss_mb(proc), ready


@register("site", "Site queries: `crux serve` (Datasette) under 10 concurrent clients", order=40)
def bench_site(ctx: Context) -> dict[str, Any]:
    db = ctx.ingested(1)
    work = ctx.scratch("site")
    snap = work / "lesswrong.sqlite"
    ctx.run([*ctx.crux, "--db", str(db), "publish", "--out", str(snap)], what="crux publish")
    with sqlite3.connect(snap) as sq:
        doc_id = sq.execute("SELECT id FROM documents ORDER BY id LIMIT 1").fetchone()[0]
        hits = sq.execute("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?",
                          [SEARCH]).fetchone()[0]
    name = snap.stem
    queries = [
        ("full-text search", f"/{name}/documents.json?_search={SEARCH}"),
        ("faceted table page", f"/{name}/documents?_facet=author"),
        ("row page", f"/{name}/documents/{urllib.parse.quote(doc_id)}"),
    ]
    per_client = ctx.repeats(50, 20)  # per client: 500 (quick 200) requests per query
    rows, rss, ready = served_rows(ctx, "site", db, snap, queries, per_client)
    return {"rows": rows, "server peak RSS MB (Datasette process)": rss,
            "server start s (to first answer)": ready,
            "notes": [f"Full-text query `{SEARCH}` matches {hits} documents; the row page is "
                      f"document `{doc_id}`. Clients are threads in the harness's process "
                      "(http.client, one keep-alive connection each) on the same 2 cores as the "
                      "server, so these latencies include client-side contention."]}
