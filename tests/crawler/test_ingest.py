from __future__ import annotations

import json
from pathlib import Path

from crux.cli import cli
from crux.crawler.ingest import ingest_paths

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Tiny blog</title><link>https://tiny.example/</link>
<item><title>First</title><link>https://tiny.example/p/first</link><guid>https://tiny.example/p/first</guid>
<pubDate>Tue, 28 Apr 2026 12:37:29 +0200</pubDate><author>ann@tiny.example (Ann)</author>
<category>forecasting</category>
<description>Short summary</description>
<content:encoded><![CDATA[<p>Full <b>content</b> with <a href="/p/second">a link</a>.</p><blockquote><p>Quoted.</p></blockquote>]]></content:encoded>
</item>
<item><title>Second</title><link>https://tiny.example/p/second</link><guid>https://tiny.example/p/second</guid>
<pubDate>Wed, 29 Apr 2026 08:00:00 GMT</pubDate><description>Only a summary.</description></item>
</channel></rss>"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_rss_prefers_full_content_and_normalises_dates(con, tmp_path):
    report = ingest_paths(con, [write(tmp_path, "tiny.xml", RSS)])
    assert report.totals.new == 2 and not report.failed
    rows = con.execute("SELECT title, author, published_at, html, text, tags FROM documents "
                       "ORDER BY published_at").fetchall()
    first = rows[0]
    assert first[0] == "First"
    assert "Ann" in first[1]
    assert str(first[2]) == "2026-04-28 10:37:29"  # UTC
    assert "<blockquote>" in first[3] and "Full content" in first[4]
    assert json.loads(first[5]) == ["forecasting"]
    assert rows[1][4] == "Only a summary."
    link = con.execute("SELECT target_url, target_id FROM links").fetchone()
    second_id = con.execute("SELECT id FROM documents WHERE title='Second'").fetchone()[0]
    assert link == ("https://tiny.example/p/second", second_id)
    src = con.execute("SELECT kind, name, url FROM sources").fetchone()
    assert src == ("file", "Tiny blog", "https://tiny.example/")


def test_graphql_envelopes_and_comments(con, tmp_path):
    posts = {"data": {"posts": {"results": [
        {"_id": "PostAAAAAAAAAAAAA", "title": "P", "pageUrl": "https://f.example/posts/PostAAAAAAAAAAAAA/p",
         "postedAt": "2024-01-02T03:04:05.000Z", "htmlBody": "<p>body</p>",
         "user": {"username": "u", "displayName": "User U"}, "baseScore": 3, "tags": [{"name": "AI"}]}]}}}
    one = {"data": {"post": {"result": {"_id": "PostBBBBBBBBBBBBB", "title": "Q",
                                        "contents": {"html": "<p>from contents</p>"}}}}}
    comments = {"data": {"comments": {"results": [
        {"_id": "ComAAAAAAAAAAAAA1", "postId": "PostAAAAAAAAAAAAA", "parentCommentId": None,
         "htmlBody": "<p>top</p>", "user": {"displayName": "C"}, "postedAt": "2024-01-03T00:00:00Z"},
        {"_id": "ComAAAAAAAAAAAAA2", "postId": "PostAAAAAAAAAAAAA", "parentCommentId": "ComAAAAAAAAAAAAA1",
         "htmlBody": "<p>reply</p>", "user": None}]}}}
    bare = [{"_id": "PostCCCCCCCCCCCCC", "title": "R", "htmlBody": "<p>r</p>"}]
    paths = [write(tmp_path, "a.json", json.dumps(posts)), write(tmp_path, "b.json", json.dumps(one)),
             write(tmp_path, "c.json", json.dumps(comments)), write(tmp_path, "d.json", json.dumps(bare))]
    report = ingest_paths(con, paths)
    assert not report.failed and report.totals.new == 5
    rows = dict(con.execute("SELECT id, parent_id FROM documents WHERE kind='comment'").fetchall())
    assert rows == {"ComAAAAAAAAAAAAA1": "PostAAAAAAAAAAAAA", "ComAAAAAAAAAAAAA2": "ComAAAAAAAAAAAAA1"}
    assert con.execute("SELECT text FROM documents WHERE id='PostBBBBBBBBBBBBB'").fetchone()[0] == "from contents"
    assert con.execute("SELECT author, score, tags FROM documents WHERE id='PostAAAAAAAAAAAAA'").fetchone() == (
        "User U", 3, '["AI"]')


def test_jsonl_and_bad_lines(con, tmp_path):
    lines = [json.dumps({"id": "j1", "title": "J", "text": "plain text", "published_at": "2024-05-01T00:00:00Z"}),
             "{not json",
             json.dumps({"id": "j2", "parent_id": "j1", "html": "<p>reply</p>"}),
             json.dumps({"title": "no id"})]
    report = ingest_paths(con, [write(tmp_path, "x.jsonl", "\n".join(lines))])
    assert report.totals.new == 2
    assert [w for w, _ in report.files[0].rejected] == [f"{tmp_path}/x.jsonl:2", f"{tmp_path}/x.jsonl:4"]
    assert con.execute("SELECT count(*) FROM _rejects").fetchone()[0] == 2
    assert con.execute("SELECT kind, parent_id FROM documents WHERE id='j2'").fetchone() == ("comment", "j1")


def test_bad_file_changes_nothing_and_others_still_ingest(runner, db_path, tmp_path):
    good = write(tmp_path, "good.xml", RSS)
    truncated = write(tmp_path, "bad.json", '{"data": {"posts": {"results": [{"_id": "x"')
    binary = write(tmp_path, "noise.xml", b"\x00\x01\x02 not a feed \xff\xfe")
    result = runner.invoke(cli, ["ingest", "--db", str(db_path), str(truncated), str(good), str(binary)])
    assert result.exit_code == 1, result.output
    assert "bad.json: invalid JSON at line 1" in result.output
    assert "noise.xml: not an RSS/Atom feed" in result.output
    assert "Traceback" not in result.output
    assert "2 new" in result.output
    from crux.db import connect
    c = connect(db_path)
    assert c.execute("SELECT count(*) FROM documents").fetchone()[0] == 2
    assert c.execute("SELECT count(*) FROM _rejects").fetchone()[0] == 2
    c.close()


def test_failure_mid_file_rolls_back(con, tmp_path, monkeypatch):
    from crux.crawler import ingest as ingest_mod
    ingest_paths(con, [write(tmp_path, "tiny.xml", RSS)])
    before = con.execute("SELECT * FROM documents ORDER BY id").fetchall()

    def boom(*a, **k):
        raise RuntimeError("disk full")
    changed = RSS.replace("Full <b>content</b>", "Edited content")
    monkeypatch.setattr(ingest_mod, "save_documents", boom)
    report = ingest_paths(con, [write(tmp_path, "tiny2.xml", changed)])
    assert report.failed and "disk full" in report.failed[0].error
    assert con.execute("SELECT * FROM documents ORDER BY id").fetchall() == before
    assert con.execute("SELECT count(*) FROM sources").fetchone()[0] == 1


def test_illformed_feed_is_ingested_with_warning(runner, db_path, tmp_path):
    bad = RSS.replace("<title>Second</title>", "<title>Second & broken</title>")
    p = write(tmp_path, "bozo.xml", bad)
    result = runner.invoke(cli, ["ingest", "--db", str(db_path), str(p)])
    assert result.exit_code == 0, result.output
    assert "ill-formed feed, ingested anyway" in result.output


def test_deeply_nested_html_does_not_crash(con, tmp_path):
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000
    p = write(tmp_path, "deep.jsonl", json.dumps({"id": "deep", "title": "D", "html": html}))
    report = ingest_paths(con, [p])
    assert not report.failed
    assert "deep text" in con.execute("SELECT text FROM documents").fetchone()[0]
