"""Hostile inputs of issue #18, each with its exact message and nothing stored before it changed."""

from __future__ import annotations

import hashlib
import os

import pytest

from crux.crawler.ingest import ingest_paths, iter_files
from crux.htmltext import forum_site, is_forum_host

LW = '[{"_id":"GOODPOST000000001","title":"Real","htmlBody":"<p>r</p>"}]'


def _feed(title, link, channel_link=""):
    chan = f"<link>{channel_link}</link>" if channel_link else ""
    return (f'<rss version="2.0"><channel><title>{title}</title>{chan}<item><title>HIJACKED</title>'
            f"<link>{link}</link></item></channel></rss>")


def _state(con):
    """Row counts and a hash of every stored document."""
    rows = con.execute("SELECT id, source_id, content_hash, title FROM documents ORDER BY id").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


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
])
def test_no_feed_overwrites_a_forum_post(con, tmp_path, link, channel):
    lw = _write(tmp_path, "lw.json", LW)
    evil = _write(tmp_path, "evil.xml", _feed("Evil", link, channel))
    assert not ingest_paths(con, [lw]).failed
    before = _state(con)
    report = ingest_paths(con, [lw, evil])
    assert not report.failed
    assert con.execute("SELECT title, source_id FROM documents WHERE id = 'GOODPOST000000001'"
                       ).fetchone() == ("Real", "lw")
    assert con.execute("SELECT count(*) FROM documents WHERE title = 'HIJACKED'").fetchone() == (1,)
    again = ingest_paths(con, [lw, evil])
    assert again.totals.changed == 0 and again.totals.new == 0
    assert before[0] + 1 == _state(con)[0]


def test_jsonl_cannot_take_a_forum_id(con, tmp_path):
    lw = _write(tmp_path, "lw.json", LW)
    ingest_paths(con, [lw])
    before = _state(con)
    evil = _write(tmp_path, "evil.jsonl", '{"id":"GOODPOST000000001","title":"HIJACK","text":"x"}\n')
    report = ingest_paths(con, [evil])
    assert report.totals.held == 1 and _state(con) == before


def test_two_feeds_sharing_a_link_are_idempotent(con, tmp_path):
    a = _write(tmp_path, "a.xml", _feed("A", "https://blog.example/post"))
    b = _write(tmp_path, "b.xml", _feed("B", "https://blog.example/post"))
    first = ingest_paths(con, [a, b])
    assert first.totals.new == 2
    state = _state(con)
    for _ in range(2):
        again = ingest_paths(con, [a, b])
        assert (again.totals.new, again.totals.changed, again.totals.unchanged) == (0, 0, 2)
    assert _state(con) == state
    ids = [r[0] for r in con.execute("SELECT document_id FROM document_keys WHERE key = "
                                     "'blog.example/post' ORDER BY 1").fetchall()]
    assert len(ids) == 2 and ids[1] == ids[0] + "@b"  # the cross-post stays findable by its URL


def test_bad_values_cost_their_item_only(con, tmp_path):
    good = _write(tmp_path, "good.jsonl", '{"id":"g","title":"kept","text":"x"}\n')
    ingest_paths(con, [good])
    before = _state(con)
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
    assert con.execute("SELECT title, content_hash FROM documents WHERE id = 'g'").fetchone()[0] == "kept"
    assert before[0] + 3 == _state(con)[0]


def test_unreadable_inputs_are_one_line_each_and_the_others_go_on(con, tmp_path):
    good = _write(tmp_path, "good.jsonl", '{"id":"g","title":"kept","text":"x"}\n')
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    null = _write(tmp_path, "null.json", "null")
    utf16 = _write(tmp_path, "u16.json", LW.encode("utf-16"))
    odd = tmp_path / os.fsdecode(b"odd\xffname.jsonl")
    odd.write_bytes(b'{"id":"o","title":"t","text":"x"}\n')
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_subfolder_is_reported(tmp_path):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.xml").write_text("x")
    os.chmod(tmp_path / "locked", 0)
    try:
        assert tmp_path / "locked" in list(iter_files([tmp_path]))
    finally:
        os.chmod(tmp_path / "locked", 0o755)


def test_look_alike_hosts_are_no_forum():
    assert forum_site("lesswrong.com") == forum_site("greaterwrong.com") == "lw"
    assert forum_site("ea.greaterwrong.com") == "ea"
    for host in ("lesswrong.com.evil.example", "evil-lesswrong.com", "xn--lesswrng-c7a.com",
                 "lesswrong.co", "lesswrong.com.", ""):
        assert not is_forum_host(host) or host == "lesswrong.com."


def test_feedparser_corpus_twice_changes_nothing(con, shared):
    files = list(iter_files([shared("corpora/feedparser-tests")]))
    first = ingest_paths(con, files)
    state = _state(con)
    again = ingest_paths(con, files)
    assert again.totals.changed == 0 and again.totals.new == 0, again.summary()
    assert again.totals.unchanged >= first.totals.new > 900
    assert _state(con) == state
