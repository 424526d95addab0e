"""What the ForumMagnum sweep costs: requests and seconds of a re-crawl with and without it.

Runs ``crux crawl`` against the tests' independent GraphQL stand-in
(``tests/crawler/forum_standin.py``) on loopback, no delay between requests:

    python -m benchmarks.sweep_cost [N_POSTS ...]

For each size: the first crawl, a no-change re-crawl with the sweep and without it
(``sweep_every_days = -1``), and a re-crawl after an old edit, a new comment on an old post
and a deleted post. Prints one Markdown table row per crawl.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crawler.fakes import run_crux  # noqa: E402
from tests.crawler.forum_standin import ForumStandIn, make_forum  # noqa: E402


def _crawl(db: Path, forum: ForumStandIn, label: str, n: int) -> None:
    before = len(forum.requests)
    t = time.monotonic()
    r = run_crux(db, "crawl", timeout=1800)
    wall = time.monotonic() - t
    asked = forum.requests[before:]
    listing = sum(1 for q in asked if q.get("limit") == 1000)
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[-200:]
    print(f"| {n:,} | {label} | {len(asked):,} | {listing} | {wall:.2f} | {summary} |", flush=True)


def measure(n: int) -> None:
    posts, comments = make_forum(n)
    by_age = sorted(posts, key=lambda p: p["postedAt"])
    with tempfile.TemporaryDirectory() as tmp, ForumStandIn(posts, comments) as forum:
        db = Path(tmp) / "f.duckdb"
        run_crux(db, "add-forum", forum.url, "--name", "f")
        _crawl(db, forum, "first crawl", n)
        _crawl(db, forum, "no change, sweep", n)
        run_crux(db, "add-forum", forum.url, "--name", "f", "--sweep-every-days", "-1")
        _crawl(db, forum, "no change, no sweep", n)
        run_crux(db, "add-forum", forum.url, "--name", "f", "--sweep-every-days", "0")
        forum.edit_post(by_age[-22]["_id"], "<p>edited</p>", at="2026-12-01T09:00:00.000Z")
        forum.add_comment(by_age[n // 5]["_id"], "LateCommentXXXXXX", "<p>late</p>", at="2026-12-01T10:00:00.000Z")
        forum.delete_post(by_age[n // 2]["_id"])
        _crawl(db, forum, "edit + comment + delete, sweep", n)


if __name__ == "__main__":
    print("| posts | crawl | requests | listing pages | wall s | crux's summary |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for size in [int(a) for a in sys.argv[1:]] or [200, 2000]:
        measure(size)
