"""The sweep and the argument-style detection, against the independent stand-in (forum_standin.py)."""

from __future__ import annotations

import json

import duckdb

from .fakes import run_crux
from .forum_standin import ForumStandIn, make_forum


def _con(path):
    return duckdb.connect(str(path), read_only=True)


def _config(db, name="f"):
    con = _con(db)
    try:
        return json.loads(con.execute("SELECT config FROM sources WHERE name = ?", [name]).fetchone()[0])
    finally:
        con.close()


def _crawl(db, forum):
    before = len(forum.requests)
    r = run_crux(db, "crawl")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r, forum.requests[before:]


def test_sweep_sees_old_edit_new_comment_and_deletions_for_15_percent(tmp_path):
    posts, comments = make_forum(200)
    db = tmp_path / "sweep.duckdb"
    by_age = sorted(posts, key=lambda p: p["postedAt"])
    edited, commented, gone, drafted = by_age[-22], by_age[40], by_age[100], by_age[120]  # all older than 7 days
    with ForumStandIn(posts, comments) as forum:
        assert run_crux(db, "add-forum", forum.url, "--name", "f").returncode == 0
        r, first = _crawl(db, forum)
        assert r.stdout.startswith(f"1 source: {len(posts) + len(comments)} new, 0 changed")
        assert not any(q.get("post_id") for q in first)  # no sweep on the first crawl

        forum.edit_post(edited["_id"], edited["htmlBody"] + "<p>Edit: a late correction.</p>",
                        at="2026-12-01T09:00:00.000Z")
        forum.add_comment(commented["_id"], "LateCommentXXXXXX", "<p>A reply months later.</p>",
                          at="2026-12-01T10:00:00.000Z")
        forum.delete_post(gone["_id"])
        forum.list_deleted_drafts = True  # the listing shows it, flagged
        forum.delete_post(drafted["_id"], as_draft=True)
        r, second = _crawl(db, forum)
        assert "1 new, 1 changed" in r.stdout and "marked deleted" in r.stdout
        # what the sweep asked: one listing page, then the two posts that moved, one thread
        listing = [q for q in second if q.get("collection") == "posts" and q.get("limit") == 1000]
        assert len(listing) == 1
        assert sorted(q["post_id"] for q in second if q.get("collection") == "post") \
            == sorted([edited["_id"], commented["_id"]])
        assert [q["terms"]["postId"] for q in second if q.get("collection") == "comments"] == [commented["_id"]]
        assert len(second) <= 0.15 * len(first), (len(second), len(first))

        con = _con(db)
        assert "a late correction" in con.execute("SELECT text FROM documents WHERE id = ?",
                                                  [edited["_id"]]).fetchone()[0]
        assert con.execute("SELECT document_id FROM document_revisions").fetchall() == [(edited["_id"],)]
        assert con.execute("SELECT post_id, deleted FROM documents WHERE id = 'LateCommentXXXXXX'").fetchone() \
            == (commented["_id"], False)
        assert con.execute("SELECT comment_count FROM documents WHERE id = ?",
                           [commented["_id"]]).fetchone()[0] == commented["commentCount"] + 1
        deleted = {r[0] for r in con.execute("SELECT id FROM documents WHERE deleted").fetchall()}
        expect = {gone["_id"], drafted["_id"]} | {c["_id"] for c in comments
                                                  if c["postId"] in (gone["_id"], drafted["_id"])}
        assert deleted == expect  # marked with their comments, never dropped
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == len(posts) + len(comments) + 1
        con.close()
        last = _config(db)["last_sweep"]
        assert last["complete"] and last["refetched"] == 2 and last["gone"] == 2 and last["threads"] == 1

        r, third = _crawl(db, forum)  # nothing moved: the sweep lists and fetches nothing
        assert " 0 new, 0 changed" in r.stdout and "marked deleted" not in r.stdout
        assert not [q for q in third if q.get("collection") in ("post", "comments")]
        shown = run_crux(db, "sources")
        assert shown.returncode == 0, shown.stderr
        assert "last sweep (every crawl): " in shown.stdout and "0 fetched again" in shown.stdout
        assert "complete" in shown.stdout and "api style: legacy" in shown.stdout


def test_selector_only_forum_is_detected_and_stored(tmp_path):
    posts, comments = make_forum(30)
    db = tmp_path / "sel.duckdb"
    with ForumStandIn(posts, comments, styles=("selector",)) as forum:
        assert run_crux(db, "add-forum", forum.url, "--name", "f").returncode == 0  # unknown site: legacy first
        r, first = _crawl(db, forum)
        assert r.stdout.startswith(f"1 source: {len(posts) + len(comments)} new")
        assert "api_style" not in r.stderr and "switch" not in r.stderr
        assert [q["style"] for q in first if q.get("status") == 400] == ["legacy"]  # refused once
        cfg = _config(db)
        assert cfg["api_style"] == "selector" and cfg["api_style_detected"]["refused"] == "legacy"
        r, second = _crawl(db, forum)
        assert all(q.get("style") == "selector" for q in second if q["method"] == "POST")
        shown = run_crux(db, "sources")
        assert "api style: selector (detected " in shown.stdout and "refused legacy" in shown.stdout


def test_forum_refusing_both_styles_is_one_line(tmp_path):
    posts, comments = make_forum(5)
    db = tmp_path / "none.duckdb"
    with ForumStandIn(posts, comments, styles=()) as forum:
        run_crux(db, "add-forum", forum.url, "--name", "f")
        r = run_crux(db, "crawl")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: f:")]
        assert len(err) == 1 and "refused both argument styles" in err[0]
        assert 'Unknown argument "input"' in err[0] and 'Unknown argument "selector"' in err[0]
        assert "api_style" not in _config(db) or _config(db)["api_style"] == "legacy"


def test_sweep_schedule_setting(tmp_path):
    posts, comments = make_forum(30)
    db = tmp_path / "sched.duckdb"
    with ForumStandIn(posts, comments) as forum:
        assert run_crux(db, "add-forum", forum.url, "--name", "f", "--sweep-every-days", "30").returncode == 0
        _crawl(db, forum)
        _, second = _crawl(db, forum)  # never swept yet: sweeps
        assert sum(q.get("limit") == 1000 for q in second) == 1
        _, third = _crawl(db, forum)   # swept less than 30 days ago: not now
        assert sum(q.get("limit") == 1000 for q in third) == 0
        assert "last sweep (every 30 days)" in run_crux(db, "sources").stdout


def test_a_failed_sweep_marks_nothing_deleted(tmp_path):
    posts, comments = make_forum(40)
    db = tmp_path / "fail.duckdb"
    old = sorted(posts, key=lambda p: p["postedAt"])[5]
    with ForumStandIn(posts, comments) as forum:
        assert run_crux(db, "add-forum", forum.url, "--name", "f").returncode == 0
        _crawl(db, forum)
        con = _con(db)
        watermark = con.execute("SELECT watermark FROM sources").fetchone()[0]
        con.close()
        forum.delete_post(old["_id"])
        forum.fail_limit = 1000  # the listing answers 500, every retry
        r = run_crux(db, "crawl")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        con = _con(db)
        assert con.execute("SELECT count(*) FROM documents WHERE deleted").fetchone()[0] == 0
        assert con.execute("SELECT watermark FROM sources").fetchone()[0] == watermark
        con.close()
        assert _config(db)["last_sweep"]["complete"] is False
        assert "incomplete, nothing marked deleted" in run_crux(db, "sources").stdout
        forum.fail_limit = None
        r, _ = _crawl(db, forum)
        assert "marked deleted" in r.stdout
        con = _con(db)
        assert con.execute("SELECT deleted FROM documents WHERE id = ?", [old["_id"]]).fetchone() == (True,)
        con.close()


def test_schema_error_and_notes():
    from crux.crawler.graphql import schema_error
    from crux.crawler.sources import forum_notes
    refused = {"errors": [{"message": 'Unknown argument "selector" on field "Query.posts".'}]}
    assert schema_error(refused, 400) == 'Unknown argument "selector" on field "Query.posts".'
    assert schema_error({"errors": [{"message": "x", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]},
                        200) == "x"
    skip = {"errors": [{"message": "Exceeded maximum value for skip"}], "data": {"posts": None}}
    assert schema_error(skip, 200) is None  # a query error, not a wrong style
    assert schema_error({"errors": [{"message": "Unknown type"}], "data": {"posts": {"results": []}}}, 200) is None
    assert schema_error({"data": {"posts": {"results": []}}}, 200) is None and schema_error([], 400) is None
    notes = forum_notes({"api_style": "selector", "sweep_every_days": "junk",
                         "api_style_detected": {"at": "2026-12-02T13:50:00.000Z", "refused": "legacy"}})
    assert notes == ["api style: selector (detected 2026-12-02 13:50: the site refused legacy)",
                     "sweep (every crawl): not yet (the first crawl reads everything)"]
    assert forum_notes({"sweep_every_days": -1})[1].startswith("sweep (never)")
