"""Hostile inputs of issue #18, each with its exact message and nothing stored before it changed.

"Nothing stored before it changed" is checked on every table a document lives in (``_store``:
row counts and a sha256 of the rows, ``_runs``, ``_rejects`` and ``_migrations`` aside) before
and after. Where the cases live:

1. a feed taking a forum post (ingest, crawl)      here
2. two feeds sharing a link, ingest/crawl twice     here
3. a bad value in a multi-file ``crux ingest``     here (the command's lines and exit code)
4. a bad item beside valid siblings                here
5. expensive SQL through the site                  tests/site/test_limits.py (a real server)
6. devices, FIFOs, unreadable files and folders,
   non-UTF-8 names                                 here
7. UTF-16, ``null``, kind, id, tags, duplicates    here; a full disk during publish here;
   ``running`` rows and ``_runs.config``           tests/db/test_runs_hygiene.py;
   ``--path-as-is /../x``                          tests/site/test_limits.py;
   200 MB input memory                             ``make bench`` (BENCHMARKS.md)
8. edits older than the look-back (the sweep)      tests/crawler/test_forummagnum_sweep.py
9. argument style detected                         tests/crawler/test_forummagnum_sweep.py
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from crux.cli import cli
from crux.crawler.ingest import ingest_paths, iter_files
from crux.htmltext import forum_site, is_forum_host

from .fakes import FeedServer, crux_env, limit_file_size, run_crux

LW = '[{"_id":"GOODPOST000000001","title":"Real","htmlBody":"<p>r</p>"}]'
BOOKKEEPING = ("_runs", "_rejects", "_migrations")
# what a crawl records about the fetch itself, not about what is stored
FETCH_STATE = {"sources": ("etag", "last_modified", "watermark", "last_fetch_at", "last_status",
                           "last_error")}


def _feed(title, link, channel_link=""):
    chan = f"<link>{channel_link}</link>" if channel_link else ""
    return (f'<rss version="2.0"><channel><title>{title}</title>{chan}<item><title>HIJACKED</title>'
            f"<link>{link}</link></item></channel></rss>")


def _store(con) -> dict[str, list[str]]:
    """Every stored row of every table but the bookkeeping ones, sorted, as text."""
    tables = [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "ORDER BY 1").fetchall() if t not in BOOKKEEPING]
    out = {}
    for t in tables:
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [t]).fetchall() if c not in FETCH_STATE.get(t, ())]
        sel = ", ".join(f'"{c}"' for c in cols)
        out[t] = sorted(repr(r) for r in con.execute(f'SELECT {sel} FROM "{t}"').fetchall())
    return out


def _digest(store: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Row count and content hash per table."""
    return {t: (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            for t, rows in store.items()}


def _kept(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, int]:
    """Every row stored before is still there, byte for byte; returns the rows added per table."""
    for t, rows in before.items():
        gone = sorted(set(rows) - set(after[t]))
        assert not gone, f"{t}: rows stored before changed or went: {gone[:3]}"
    return {t: len(after[t]) - len(before.get(t, [])) for t in after
            if len(after[t]) != len(before.get(t, []))}


def _file_store(db: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return _store(con)
    finally:
        con.close()


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


@pytest.mark.parametrize("link,channel", [
    ("https://evil.example/posts/GOODPOST000000001/x", ""),                   # item 1
    ("https://www.lesswrong.com/posts/GOODPOST000000001/x", "https://evil.example/"),
    ("https://www.lesswrong.com.evil.example/posts/GOODPOST000000001/x", ""),  # look-alike host
    ("https://www.xn--lesswrng-c7a.com/posts/GOODPOST000000001/x", ""),
    ("https://www.lesswrong.com@evil.example/posts/GOODPOST000000001/x", ""),
    ("https://evil.example/x?commentId=GOODPOST000000001", ""),                # item 1, comments
])
def test_no_feed_overwrites_a_forum_post(con, tmp_path, link, channel):
    lw = _write(tmp_path, "lw.json", LW)
    evil = _write(tmp_path, "evil.xml", _feed("Evil", link, channel))
    assert not ingest_paths(con, [lw]).failed
    before = _store(con)
    report = ingest_paths(con, [lw, evil])
    assert not report.failed and (report.totals.new, report.totals.unchanged) == (1, 1)
    assert con.execute("SELECT title, source_id FROM documents WHERE id = 'GOODPOST000000001'"
                       ).fetchone() == ("Real", "lw")
    assert con.execute("SELECT count(*) FROM documents WHERE title = 'HIJACKED'").fetchone() == (1,)
    after = _store(con)
    added = _kept(before, after)  # the post's row, keys, links and source untouched
    assert added["documents"] == 1 and added["sources"] == 1
    again = ingest_paths(con, [lw, evil])
    assert again.totals.changed == 0 and again.totals.new == 0
    assert _digest(_store(con)) == _digest(after)


def test_jsonl_cannot_take_a_forum_id(con, tmp_path):
    lw = _write(tmp_path, "lw.json", LW)
    ingest_paths(con, [lw])
    before = _store(con)
    evil = _write(tmp_path, "evil.jsonl", '{"id":"GOODPOST000000001","title":"HIJACK","text":"x"}\n')
    report = ingest_paths(con, [evil])
    assert report.totals.held == 1
    assert _kept(before, _store(con)) == {"sources": 1}  # a source of its own, and nothing else


def test_two_feeds_sharing_a_link_are_idempotent(con, tmp_path):
    a = _write(tmp_path, "a.xml", _feed("A", "https://blog.example/post"))
    b = _write(tmp_path, "b.xml", _feed("B", "https://blog.example/post"))
    first = ingest_paths(con, [a, b])
    assert first.totals.new == 2
    state = _digest(_store(con))
    for _ in range(2):
        again = ingest_paths(con, [a, b])
        assert (again.totals.new, again.totals.changed, again.totals.unchanged) == (0, 0, 2)
        assert _digest(_store(con)) == state
    ids = [r[0] for r in con.execute("SELECT document_id FROM document_keys WHERE key = "
                                     "'blog.example/post' ORDER BY 1").fetchall()]
    assert len(ids) == 2 and ids[1] == ids[0] + "@b"  # the cross-post stays findable by its URL


def test_bad_values_cost_their_item_only(con, tmp_path):
    good = _write(tmp_path, "good.jsonl", '{"id":"g","title":"kept","text":"x"}\n')
    ingest_paths(con, [good])
    before = _store(con)
    mix = _write(tmp_path, "mix.jsonl", "\n".join([
        '{"id":"a","title":"ok","text":"x"}',
        '{"id":"b","title":"bad \\ud800","text":"x"}',
        '{"id":"c","title":"d","published_at":"9999-12-31T23:00:00-05:00"}',
        '[' * 100000 + ']' * 100000,
        '{"id":true,"title":"t"}',
        '{"id":"k","title":"t","kind":"poll"}',
        '{"id":"s","title":"t","tags":"abc"}',
    ]).encode() + b'\n{"id":"l","title":"caf\xe9"}\n')
    big = _write(tmp_path, "big.json", '[{"_id":"BIGSCORE000000001","title":"t","htmlBody":"x","baseScore":1e400},'
                 '{"_id":"BIGSCORE000000002","title":"t","htmlBody":"x","baseScore":4294967296},'
                 '{"_id":"OKPOST00000000001","title":"t","htmlBody":"x"}]')
    report = ingest_paths(con, [mix, big])
    assert not report.failed
    reasons = dict(r for f in report.files for r in f.rejected)
    loc = str(mix)
    assert reasons[f"{loc}#b"] == "field 'title' holds a lone surrogate ('\\ud800' at 4); it is not text"
    assert reasons[f"{loc}:3"] == "date '9999-12-31T23:00:00-05:00' is out of range"
    assert reasons[f"{loc}:4"] == "nested too deeply to parse"
    assert reasons[f"{loc}:5"] == "missing 'id' (a string or an integer)"
    assert reasons[f"{loc}#k"] == "kind 'poll' is neither 'post' nor 'comment'"
    assert reasons[f"{loc}:8"] == "not UTF-8 (byte 23); re-encode the file as UTF-8"
    assert reasons[f"{big}#1"] == "field 'baseScore' is not a finite number: inf"
    assert reasons[f"{big}#2"] == "field 'baseScore' is out of range: 4294967296"
    stored = {r[0] for r in con.execute("SELECT id FROM documents").fetchall()}
    assert {"a", "s", "OKPOST00000000001", "g"} <= stored and not {"b", "c", "k", "l"} & stored
    assert con.execute("SELECT tags FROM documents WHERE id = 's'").fetchone() == ('["abc"]',)
    assert con.execute("SELECT count(*) FROM _rejects").fetchone()[0] == len(reasons)
    assert _kept(before, _store(con))["documents"] == 3


def test_unreadable_inputs_are_one_line_each_and_the_others_go_on(con, tmp_path):
    good = _write(tmp_path, "good.jsonl", '{"id":"g","title":"kept","text":"x"}\n')
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    null = _write(tmp_path, "null.json", "null")
    utf16 = _write(tmp_path, "u16.json", LW.encode("utf-16"))
    odd = tmp_path / os.fsdecode(b"odd\xffname.jsonl")
    odd.write_bytes(b'{"id":"o","title":"t","text":"x"}\n')
    ingest_paths(con, [good])
    before = _store(con)
    report = ingest_paths(con, [fifo, "/dev/zero", tmp_path / "missing.xml", null, utf16, odd, good])
    errors = [f.error for f in report.files if f.error]
    assert errors == [
        f"{fifo}: not a regular file (a device, pipe or socket); copy it to a file first",
        "/dev/zero: not a regular file (a device, pipe or socket); copy it to a file first",
        f"{tmp_path}/missing.xml: no such file or folder",
        f"{null}: the JSON holds a single null, not posts; expected a ForumMagnum GraphQL response, "
        "a list of posts or JSON Lines",
    ]
    stored = {r[0] for r in con.execute("SELECT id FROM documents").fetchall()}
    assert stored == {"g", "o", "GOODPOST000000001"}
    assert con.execute("SELECT count(*) FROM _rejects").fetchone()[0] == 4
    assert _kept(before, _store(con))["documents"] == 2


def test_look_alike_hosts_are_no_forum():
    assert forum_site("lesswrong.com") == forum_site("greaterwrong.com") == "lw"
    assert forum_site("ea.greaterwrong.com") == "ea"
    for host in ("lesswrong.com.evil.example", "evil-lesswrong.com", "xn--lesswrng-c7a.com",
                 "lesswrong.co", "lesswrong.com.", ""):
        assert not is_forum_host(host) or host == "lesswrong.com."


def test_feedparser_corpus_twice_changes_nothing(con, shared):
    files = list(iter_files([shared("corpora/feedparser-tests")]))
    first = ingest_paths(con, files)
    state = _digest(_store(con))
    again = ingest_paths(con, files)
    assert again.totals.changed == 0 and again.totals.new == 0, again.summary()
    assert again.totals.unchanged >= first.totals.new > 900
    assert _digest(_store(con)) == state


def test_a_bad_value_costs_its_item_in_a_multi_file_ingest(runner, tmp_path):
    """Item 3 through ``crux ingest``: the lines the user sees, the summary, exit 1 for the one
    file that cannot be read, and every later file still ingested."""
    db = tmp_path / "c.duckdb"
    lw = _write(tmp_path, "lw.json", LW)
    assert runner.invoke(cli, ["--db", str(db), "ingest", str(lw)]).exit_code == 0
    before = _file_store(db)
    far = _write(tmp_path, "far.json", '[{"_id":"FARPOST0000000001","title":"far","htmlBody":"x",'
                 '"postedAt":"9999-12-31T23:00:00-05:00"},'
                 '{"_id":"HUGESCORE00000001","title":"t","htmlBody":"x","baseScore":1e400},'
                 '{"_id":"OKPOST00000000002","title":"ok","htmlBody":"x"}]')
    null = _write(tmp_path, "null.json", "null")
    latin1 = _write(tmp_path, "latin1.jsonl", b'{"id":"l1","title":"caf\xe9"}\n')
    dup = _write(tmp_path, "dup.jsonl", '{"id":"d","title":"one"}\n{"id":"d","title":"two"}\n')
    last = _write(tmp_path, "z.jsonl", '{"id":"last","title":"after the bad ones","text":"x"}\n')
    r = runner.invoke(cli, ["--db", str(db), "ingest", *map(str, (far, null, latin1, dup, last))])
    assert r.exit_code == 1, r.output
    assert r.stdout == ("5 files: 3 new, 0 changed, 0 unchanged documents, 4 items skipped, "
                        "1 file failed\n")
    assert r.stderr.splitlines() == [
        f"Warning: {far}#1: skipped (field 'postedAt': date '9999-12-31T23:00:00-05:00' is out of range)",
        f"Warning: {far}#2: skipped (field 'baseScore' is not a finite number: inf)",
        f"Error: {null}: the JSON holds a single null, not posts; expected a ForumMagnum GraphQL "
        "response, a list of posts or JSON Lines",
        f"Warning: {latin1}:1: skipped (not UTF-8 (byte 24); re-encode the file as UTF-8)",
        f"Warning: {dup}#d: skipped (the id appears again later in the file; the last one is stored)",
    ]
    after = _file_store(db)
    assert _kept(before, after)["documents"] == 3
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert {i for (i,) in con.execute("SELECT id FROM documents").fetchall()} == {
            "GOODPOST000000001", "OKPOST00000000002", "d", "last"}
        assert con.execute("SELECT title FROM documents WHERE id = 'd'").fetchone() == ("two",)
        assert con.execute("SELECT count(*) FROM _rejects").fetchone() == (5,)
        assert con.execute("SELECT status, error FROM _runs WHERE command = 'ingest' ORDER BY id DESC "
                           "LIMIT 1").fetchone() == ("partial", "1 file failed")
    finally:
        con.close()


HIJACK_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>
<link>{base}/</link>
<item><title>HIJACKED</title><link>https://www.lesswrong.com/posts/GOODPOST000000001/x</link></item>
<item><title>HIJACKED comment</title><link>https://evil.example/x?commentId=GOODPOST000000001</link></item>
<item><title>Shared</title><link>https://blog.example/post</link><description>shared</description></item>
</channel></rss>"""


def test_a_crawled_feed_cannot_take_a_forum_post_and_recrawls_change_nothing(runner, tmp_path):
    """Items 1 and 2 through ``crux crawl``: two loopback feeds link the forum post and share a
    link; the post stays the forum's, and a second crawl reports and stores no change."""
    db = tmp_path / "c.duckdb"
    lw = _write(tmp_path, "lw.json", LW)
    assert runner.invoke(cli, ["--db", str(db), "ingest", str(lw)]).exit_code == 0
    before = _file_store(db)
    with FeedServer({}) as srv:
        for name in ("a", "b"):
            srv.put(f"/{name}.xml", HIJACK_FEED.format(title=name.upper(), base=srv.url).encode())
            add = runner.invoke(cli, ["--db", str(db), "add-feed", f"{srv.url}/{name}.xml", "--name", name])
            assert add.exit_code == 0, add.output
        first = run_crux(db, "crawl")
        assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
        assert first.stdout.startswith("2 sources: 6 new, 0 changed, 0 unchanged documents")
        crawled = _file_store(db)
        assert _kept(before, crawled)["documents"] == 6
        second = run_crux(db, "crawl")
        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("2 sources: 0 new, 0 changed, ")
    assert _digest(_file_store(db)) == _digest(crawled)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT title, source_id FROM documents WHERE id = 'GOODPOST000000001'"
                           ).fetchone() == ("Real", "lw")
        assert con.execute("SELECT count(*) FROM document_revisions").fetchone() == (0,)
    finally:
        con.close()


@contextlib.contextmanager
def _unprivileged():
    """As root, drop the effective uid to nobody (root reads any file); otherwise as we are."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(pwd.getpwnam("nobody").pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)


def test_unreadable_file_and_folder_arguments_are_one_line_each(con):
    """Item 6: an unreadable file or folder named as an argument, and one below a folder."""
    top = Path(tempfile.mkdtemp(prefix="crux-hostile-"))  # not under pytest's 0700 root folder
    try:
        os.chmod(top, 0o755)
        good = _write(top, "good.jsonl", '{"id":"g","title":"kept","text":"x"}\n')
        secret = _write(top, "secret.jsonl", '{"id":"s","title":"t","text":"x"}\n')
        (top / "locked").mkdir()
        _write(top / "locked", "a.jsonl", '{"id":"a","title":"t","text":"x"}\n')
        later = _write(top, "later.jsonl", '{"id":"later","title":"t","text":"x"}\n')
        for p in (good, secret, later, top / "locked" / "a.jsonl"):
            os.chmod(p, 0o644)
        ingest_paths(con, [good])  # also loads the codecs while we may read them
        before = _store(con)
        os.chmod(secret, 0)
        os.chmod(top / "locked", 0)
        with _unprivileged():
            report = ingest_paths(con, [secret, top / "locked", top])
    finally:
        os.chmod(top / "locked", 0o755)
        shutil.rmtree(top)
    errors = [f.error for f in report.files if f.error]
    assert errors == [
        f"{secret}: cannot read (Permission denied); check the path and permissions",
        f"{top}/locked: cannot read (Permission denied); check the path and permissions",
        f"{top}/locked: cannot read (Permission denied); check the path and permissions",
        f"{secret}: cannot read (Permission denied); check the path and permissions",
    ]
    assert [f.path for f in report.files if not f.error] == [str(good), str(later)]
    assert _kept(before, _store(con))["documents"] == 1  # later.jsonl; good.jsonl unchanged


def test_a_full_disk_during_publish_is_one_line_and_keeps_the_old_snapshot(runner, tmp_path):
    """Item 7: the snapshot cannot be written (the file may grow no further)."""
    db = tmp_path / "c.duckdb"
    lw = _write(tmp_path, "lw.json", LW)
    assert runner.invoke(cli, ["--db", str(db), "ingest", str(lw)]).exit_code == 0
    assert runner.invoke(cli, ["--db", str(db), "publish"]).exit_code == 0
    snap = tmp_path / "c.sqlite"
    old = hashlib.sha256(snap.read_bytes()).hexdigest()
    before = _file_store(db)
    files = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run([sys.executable, "-m", "crux", "--db", str(db), "publish"], env=crux_env(),
                       capture_output=True, text=True, preexec_fn=limit_file_size(100_000))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        f"Error: {tmp_path}: cannot write the snapshot (disk I/O error): the disk is full or the "
        "file is past a size limit; free some space and run crux publish again (the old snapshot "
        "is kept)"]
    assert hashlib.sha256(snap.read_bytes()).hexdigest() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no half-written file left
    assert _digest(_file_store(db)) == _digest(before)
