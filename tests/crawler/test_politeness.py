"""Politeness and robustness in one crawl: Retry-After, back-off, robots.txt, timeouts, dead hosts.

One failing source must leave the others complete, and ``crux sources`` must show why it failed.
"""

from __future__ import annotations

import socket

import duckdb
import pytest

from crux.crawler.middlewares import parse_retry_after
from crux.demo import DEMO_DIR

from .fakes import FakeForum, FeedServer, demo_forum, run_crux


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failures_stay_with_their_source(tmp_path):
    posts, comments = demo_forum()
    db = tmp_path / "p.duckdb"
    blog = (DEMO_DIR / "blog.rss.xml").read_bytes()
    with FakeForum(posts, comments) as forum, FeedServer({"/blog.xml": (blog, "application/rss+xml")}) as feeds:
        forum.faults = [("429", 1), ("500", None)]   # the first two GraphQL requests
        feeds.put("/private/feed.xml", blog)          # robots.txt: Disallow: /private/
        feeds.put("/slow.xml", blog)
        feeds.slow["/slow.xml"] = 2.5                  # over the 1 s timeout below
        feeds.put("/broken.xml", blog)
        feeds.fail_always.add("/broken.xml")
        dead = f"http://127.0.0.1:{_closed_port()}/feed.xml"
        for args in (["add-forum", forum.url, "--name", "forum"],
                     ["add-feed", feeds.url + "/blog.xml", "--name", "blog"],
                     ["add-feed", feeds.url + "/private/feed.xml", "--name", "private"],
                     ["add-feed", feeds.url + "/slow.xml", "--name", "slow"],
                     ["add-feed", feeds.url + "/broken.xml", "--name", "broken"],
                     ["add-feed", dead, "--name", "dead"]):
            assert run_crux(db, *args).returncode == 0
        r = run_crux(db, "crawl", CRUX_DOWNLOAD_TIMEOUT="1")
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        errors = {ln.split(":", 2)[1].strip(): ln for ln in r.stderr.splitlines() if ln.startswith("Error: ")}
        assert set(errors) == {"private", "slow", "broken", "dead"}, r.stderr
        assert "robots.txt" in errors["private"]
        assert "timed out after 1 s" in errors["slow"]
        assert "HTTP 500" in errors["broken"]
        assert "connection refused" in errors["dead"]
        assert "4 failed (broken, dead, private, slow; see crux sources)" in r.stdout

        # Retry-After: 1 was honoured: nothing reached the forum within a second of the 429
        graphql = [h for h in forum.hits if h.path == "/graphql"]
        assert [h.status for h in graphql[:3]] == [429, 500, 200]
        assert graphql[1].at - graphql[0].at >= 0.95
        assert graphql[2].at - graphql[1].at >= 0.15    # back-off after the 500 (0.2 s)
        assert "/private/feed.xml" not in feeds.paths()
        broken = [h.at for h in feeds.hits if h.path == "/broken.xml"]
        assert len(broken) == 3  # two retries (CRUX_RETRY_TIMES=2), backing off 0.2 s then 0.4 s
        assert broken[1] - broken[0] >= 0.15 and broken[2] - broken[1] >= 0.35

        con = duckdb.connect(str(db), read_only=True)
        counts = dict(con.execute("SELECT s.name, count(d.id) FROM sources s LEFT JOIN documents d "
                                  "ON d.source_id = s.id GROUP BY s.name").fetchall())
        assert counts == {"forum": len(posts) + len(comments), "blog": 9, "private": 0, "slow": 0,
                          "broken": 0, "dead": 0}
        con.close()
        shown = run_crux(db, "sources").stdout
        block = {b.split()[0]: b for b in shown.split("\n") if b and not b.startswith(" ")}
        assert set(block) == {"forum", "blog", "private", "slow", "broken", "dead"}
        lines = shown.splitlines()
        status = {lines[i].split()[0]: lines[i + 1] for i in range(0, len(lines), 2)}
        assert "status=ok" in status["forum"] and "status=ok" in status["blog"]
        assert "status=failed" in status["dead"] and "connection refused" in status["dead"]
        assert "error: " in status["slow"] and "timed out" in status["slow"]


def test_retry_after_too_long_fails_the_source_instead_of_stalling(tmp_path):
    posts, comments = demo_forum()
    db = tmp_path / "r.duckdb"
    with FakeForum(posts[:2], comments) as forum:
        forum.faults = [("429", 3600)]
        run_crux(db, "add-forum", forum.url, "--name", "f")
        r = run_crux(db, "crawl", CRUX_MAX_RETRY_AFTER="5")
        assert r.returncode == 1
        assert "Error: f:" in r.stderr and "asked to wait 3600 s" in r.stderr
        assert len([h for h in forum.hits if h.path == "/graphql"]) == 1


@pytest.mark.parametrize("value, expected", [
    ("3", 3.0), (b"120", 120.0), ("", None), ("soon", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
])
def test_parse_retry_after(value, expected):
    from email.utils import parsedate_to_datetime
    now = parsedate_to_datetime("Wed, 21 Oct 2015 07:27:00 GMT").timestamp()
    assert parse_retry_after(value, now=now) == expected
