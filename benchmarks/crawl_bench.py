"""Crawl benchmark: a full crawl of a fake ForumMagnum forum over loopback, then a no-change re-crawl.

``run(corpus_dir, workdir) -> dict`` serves every post of ``corpus_dir/**/*.json`` (JSON lists
of GraphQL post objects, e.g. ``corpora/lesswrong-2020``) from the tests' fake GraphQL server
on 127.0.0.1, runs ``crux crawl`` twice in fresh processes (comments on: one comment request
per post, as against the real site) and returns wall time, requests and peak RSS of each,
and the re-crawl as a share of the full crawl. ``CRUX_DOWNLOAD_DELAY=0`` (the crawler's own
overhead, not politeness, is measured; with the default 1 s delay a full crawl of N posts
takes at least N seconds).

    .venv/bin/python -m benchmarks.crawl_bench /work/shared/corpora/lesswrong-2020 /tmp/crawl-bench
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _load(corpus_dir: Path) -> list[dict[str, Any]]:
    from crux.crawler.forummagnum import _objects
    posts: dict[str, dict[str, Any]] = {}
    for f in sorted(corpus_dir.rglob("*.json")):
        for obj in _objects(json.loads(f.read_bytes())):
            if isinstance(obj, dict) and obj.get("_id") and obj.get("postedAt") and not obj.get("postId"):
                posts[obj["_id"]] = obj
    return list(posts.values())


def _timed(db: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float, float | None]:
    from tests.crawler.fakes import crux_env
    cmd = [sys.executable, "-m", "crux", "--db", str(db), *args]
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if time_bin:
        cmd = [time_bin, "-v", *cmd]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=crux_env(), capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return proc, wall, (int(m.group(1)) / 1024 if m else None)


def run(corpus_dir: str, workdir: str) -> dict[str, Any]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.crawler.fakes import FakeForum, run_crux

    posts = _load(Path(corpus_dir))
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "crawl.duckdb"
    db.unlink(missing_ok=True)
    with FakeForum(posts) as forum:
        add = run_crux(db, "add-forum", forum.url, "--name", "bench", "--api-style", "selector")
        if add.returncode:
            raise RuntimeError(add.stderr.strip())
        full, full_s, full_rss = _timed(db, "crawl")
        if full.returncode:
            raise RuntimeError(f"full crawl failed: {full.stderr.strip()[-500:]}")
        full_requests = len(forum.hits)
        again, again_s, again_rss = _timed(db, "crawl")
        if again.returncode:
            raise RuntimeError(f"re-crawl failed: {again.stderr.strip()[-500:]}")
        again_requests = len(forum.hits) - full_requests
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    con.close()
    return {
        "posts served": len(posts),
        "documents stored": stored,
        "full crawl": full.stdout.strip(),
        "re-crawl": again.stdout.strip(),
        "rows": [
            {"figure": "wall s", "full crawl": round(full_s, 2), "no-change re-crawl": round(again_s, 2),
             "ratio": round(again_s / full_s, 3)},
            {"figure": "requests (incl. robots.txt)", "full crawl": full_requests,
             "no-change re-crawl": again_requests, "ratio": round(again_requests / full_requests, 4)},
            {"figure": "peak RSS MB", "full crawl": round(full_rss, 1) if full_rss else None,
             "no-change re-crawl": round(again_rss, 1) if again_rss else None, "ratio": None},
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2]), indent=1))
