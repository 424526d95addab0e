"""The ForumMagnum spider against a fake GraphQL server on 127.0.0.1 (crawls run in a subprocess)."""

from __future__ import annotations

import glob
import json
from datetime import datetime, timedelta

import duckdb
import pytest

from .fakes import FakeForum, demo_forum, run_crux


def _db(path):
    return duckdb.connect(str(path), read_only=True)


def _graphql(forum, since=0):
    return [h for h in forum.hits[since:] if h.path == "/graphql"]


def test_full_crawl_then_incremental_edit_and_delete(tmp_path):
    posts, comments = demo_forum()
    db = tmp_path / "f.duckdb"
    # the EA Forum accepts only the legacy input/terms style: the fake refuses the other one
    with FakeForum(posts, comments, styles=("legacy",)) as forum:
        r = run_crux(db, "add-forum", forum.url, "--name", "demo", "--lookback-days", "90")
        assert r.returncode == 0, r.stderr
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"1 source: {len(posts) + len(comments)} new, 0 changed")
        asked = _graphql(forum)
        assert all(h.asked["style"] == "legacy" and h.status == 200 for h in asked)
        comment_asks = [h.asked["terms"]["postId"] for h in asked if h.asked["collection"] == "comments"]
        assert sorted(comment_asks) == sorted(p["_id"] for p in posts)  # each thread fetched once
        assert forum.paths().count("/robots.txt") == 1

        con = _db(db)
        stored = dict(con.execute("SELECT id, kind FROM documents").fetchall())
        assert len(stored) == con.execute("SELECT count(*) FROM documents").fetchone()[0]
        assert {k for k, v in stored.items() if v == "post"} == {p["_id"] for p in posts}
        assert {k for k, v in stored.items() if v == "comment"} == {c["_id"] for c in comments}
        c = comments[1]
        assert con.execute("SELECT post_id, parent_id FROM documents WHERE id = ?", [c["_id"]]).fetchone() \
            == (c["postId"], c["parentCommentId"] or c["postId"])
        watermark, status, items = con.execute(
            "SELECT watermark, last_status, items FROM sources WHERE name = 'demo'").fetchone()
        assert watermark == max(p["postedAt"] for p in posts) and status == "ok"
        assert items == len(posts) + len(comments)
        con.close()

        # no change: one page of recent posts (watermark - 90 days) and the sweep's one listing
        # page of the older ones; no comment requests
        n = len(forum.hits)
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert " 0 new, 0 changed" in r.stdout
        again = _graphql(forum, n)
        assert [h.asked["collection"] for h in again] == ["posts", "posts"]
        window = [h for h in again if h.asked["limit"] != 1000]
        assert len(window) == 1 and [h.asked["terms"] for h in again if h.asked["limit"] == 1000] == [{}]
        start = datetime.fromisoformat(watermark.replace("Z", "")) - timedelta(days=90)
        assert window[0].asked["terms"]["after"].startswith(start.strftime("%Y-%m-%dT%H:%M"))

        # upstream: the newest post is edited and gets a comment, the one before is deleted
        newest, previous = sorted(posts, key=lambda p: p["postedAt"])[-1:-3:-1]
        forum.edit_post(newest["_id"], newest["htmlBody"] + "<p>Edit: one more thought.</p>")
        forum.delete_post(previous["_id"])
        forum.add_comment({"_id": "NewCommentXXXXXXX", "postId": newest["_id"], "parentCommentId": None,
                           "postedAt": "2026-10-06T10:00:00.000Z", "htmlBody": "<p>Late reply.</p>",
                           "user": {"username": "late", "displayName": "Late Reader"}, "baseScore": 1})
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert "1 new, 1 changed" in r.stdout and "marked deleted" in r.stdout
        con = _db(db)
        assert con.execute("SELECT document_id FROM document_revisions").fetchall() == [(newest["_id"],)]
        assert "one more thought" in con.execute("SELECT text FROM documents WHERE id = ?",
                                                 [newest["_id"]]).fetchone()[0]
        deleted = {r[0] for r in con.execute("SELECT id FROM documents WHERE deleted").fetchall()}
        prev_comments = {c["_id"] for c in comments if c["postId"] == previous["_id"]}
        assert deleted == {previous["_id"]} | prev_comments  # marked, not dropped
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == len(posts) + len(comments) + 1
        con.close()


def test_lesswrong_2020_modern_style_and_no_change_recrawl(tmp_path, shared):
    posts = [p for f in sorted(glob.glob(str(shared("corpora/lesswrong-2020") / "*.json")))
             for p in json.load(open(f))]
    assert len(posts) == 1083
    db = tmp_path / "lw.duckdb"
    with FakeForum(posts, styles=("selector",)) as forum:
        assert run_crux(db, "add-forum", forum.url, "--name", "lw", "--api-style", "selector",
                        "--no-comments").returncode == 0
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("1 source: 1083 new, 0 changed, 0 unchanged")
        full = len(forum.hits)
        assert all(h.asked["offset"] <= 2000 for h in _graphql(forum))
        con = _db(db)
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM documents").fetchone() == (1083, 1083)
        con.close()
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert " 0 new, 0 changed" in r.stdout
        recrawl = _graphql(forum, full)
        listing = [h for h in recrawl if h.asked["limit"] == 1000]
        assert len(listing) == 2  # the sweep: 1,026 older posts, pages of 1,000
        assert len(recrawl) - len(listing) <= 0.2 * full  # 57 posts in the last week: 2 pages of 50


def test_wrong_style_is_detected_and_a_refusal_of_both_is_one_line(tmp_path):
    posts, comments = demo_forum()
    db = tmp_path / "e.duckdb"
    with FakeForum(posts[:3], styles=("legacy",)) as forum:
        run_crux(db, "add-forum", forum.url, "--name", "modern", "--api-style", "selector")
        r = run_crux(db, "crawl")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        styles = [(h.asked["style"], h.status) for h in _graphql(forum)]
        assert styles[0] == ("selector", 400) and all(s == ("legacy", 200) for s in styles[1:])
        con = _db(db)
        cfg, status = con.execute("SELECT config, last_status FROM sources").fetchone()
        con.close()
        assert json.loads(cfg)["api_style"] == "legacy" and status == "ok"
        forum.styles = ()  # the site changes its API: neither style works any more
        r = run_crux(db, "crawl")
        assert r.returncode == 1
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: modern:")]
        assert len(err) == 1 and "refused both argument styles" in err[0] and 'Unknown argument "selector"' in err[0]
        con = _db(db)
        assert con.execute("SELECT last_status FROM sources").fetchone() == ("failed",)
        con.close()


@pytest.mark.parametrize("style", ["legacy", "selector"])
def test_payload_styles(style):
    from crux.crawler.graphql import comments_payload, posts_payload
    p = posts_payload(style, after="2020-01-01T00:00:00.000Z", limit=50, offset=0)
    c = comments_payload(style, post_id="abc", limit=500)
    if style == "legacy":
        assert p["variables"]["input"]["terms"]["view"] == "old"
        assert p["variables"]["input"]["terms"]["after"] == "2020-01-01T00:00:00.000Z"
        assert "posts(input: $input)" in p["query"]
        assert c["variables"]["input"]["terms"]["postId"] == "abc"
    else:
        assert p["variables"]["selector"] == {"old": {"after": "2020-01-01T00:00:00.000Z"}}
        assert p["variables"]["limit"] == 50
        assert "posts(selector: $selector" in p["query"]
        assert c["variables"]["selector"] == {"postCommentsOld": {"postId": "abc"}}
    for field in ("_id", "postId", "parentCommentId", "postedAt", "htmlBody", "baseScore", "pageUrl"):
        assert field in c["query"]


def test_graphql_errors_array_is_checked():
    from crux.crawler.graphql import graphql_results
    assert graphql_results({"data": {"posts": {"results": [1]}}}, "posts") == ([1], None)
    res, err = graphql_results({"errors": [{"message": "Exceeded maximum value for skip"}],
                                "data": {"posts": None}}, "posts")
    assert res is None and err == "GraphQL error: Exceeded maximum value for skip"
    res, err = graphql_results({"errors": [{"message": "partial"}], "data": {"posts": {"results": []}}}, "posts")
    assert res == [] and "partial" in err
    assert graphql_results([], "posts")[0] is None
