from __future__ import annotations

from datetime import datetime

from crux.db import Doc, ensure_source, mark_deleted, save_documents, table_counts


def _doc(i="p1", html="<p>Hello <a href='https://x.example/b'>b</a></p>", **kw):
    return Doc(id=i, url=f"https://x.example/{i}", title=f"T{i}", html=html,
               published_at=datetime(2025, 1, 1), **kw)


def test_same_input_twice_changes_nothing(con):
    sid = ensure_source(con, "file", "src")
    r1 = save_documents(con, sid, [_doc("a"), _doc("b")])
    before = table_counts(con)
    snap = con.execute("SELECT * FROM documents ORDER BY id").fetchall()
    r2 = save_documents(con, sid, [_doc("a"), _doc("b")])
    assert (r1.new, r2.new, r2.changed, r2.unchanged) == (2, 0, 0, 2)
    assert table_counts(con) == before
    assert con.execute("SELECT * FROM documents ORDER BY id").fetchall() == snap


def test_changed_document_keeps_old_version(con):
    sid = ensure_source(con, "file", "src")
    save_documents(con, sid, [_doc("a", html="<p>first</p>")])
    r = save_documents(con, sid, [_doc("a", html="<p>second <a href='https://y.example/'>y</a></p>")])
    assert r.changed == 1
    assert con.execute("SELECT text FROM documents WHERE id='a'").fetchone()[0] == "second y"
    revs = con.execute("SELECT html FROM document_revisions WHERE document_id='a'").fetchall()
    assert revs == [("<p>first</p>",)]
    save_documents(con, sid, [_doc("a", html="<p>third</p>")])
    htmls = sorted(r[0] for r in con.execute(
        "SELECT html FROM document_revisions WHERE document_id='a'").fetchall())
    assert htmls == ["<p>first</p>", "<p>second <a href='https://y.example/'>y</a></p>"]
    # links follow the current version only
    assert con.execute("SELECT count(*) FROM links WHERE source_id='a'").fetchone()[0] == 0


def test_links_resolve_when_target_arrives_later(con):
    sid = ensure_source(con, "file", "src")
    save_documents(con, sid, [_doc("a", html='<p><a href="https://x.example/b/">see b</a></p>')])
    assert con.execute("SELECT target_id FROM links").fetchall() == [(None,)]
    save_documents(con, sid, [_doc("b", html="<p>b</p>")])
    assert con.execute("SELECT target_id, anchor_text FROM links").fetchall() == [("b", "see b")]


def test_forum_urls_resolve_by_post_id_across_hosts(con):
    sid = ensure_source(con, "file", "src")
    target = Doc(id="AbCdEfGhIjKlMnOpQ", url="https://www.lesswrong.com/posts/AbCdEfGhIjKlMnOpQ/old-slug",
                 title="t", html="<p>x</p>")
    src = Doc(id="s", url="https://blog.example/s", title="s",
              html='<a href="https://www.alignmentforum.org/posts/AbCdEfGhIjKlMnOpQ/new-slug#c">x</a>')
    save_documents(con, sid, [src, target])
    assert con.execute("SELECT target_id FROM links").fetchone()[0] == "AbCdEfGhIjKlMnOpQ"


def test_deleted_documents_are_marked_not_dropped(con):
    sid = ensure_source(con, "file", "src")
    save_documents(con, sid, [_doc("a"), _doc("b")])
    assert mark_deleted(con, ["a"]) == 1
    assert mark_deleted(con, ["a"]) == 0
    assert con.execute("SELECT id, deleted FROM documents ORDER BY id").fetchall() == [
        ("a", True), ("b", False)]


def test_score_updates_without_new_revision(con):
    sid = ensure_source(con, "file", "src")
    save_documents(con, sid, [_doc("a", score=1)])
    r = save_documents(con, sid, [_doc("a", score=5)])
    assert r.unchanged == 1
    assert con.execute("SELECT score FROM documents").fetchone()[0] == 5
    assert con.execute("SELECT count(*) FROM document_revisions").fetchone()[0] == 0


def test_a_file_saved_in_parts_stores_what_one_part_stores(monkeypatch):
    """save_documents sends big inputs to DuckDB in parts (memory follows the part): the rows,
    the counts and the resolved links are those of one part, links between parts included."""
    import crux.db.store as store
    from crux.db import connect

    def docs():
        out = [_doc(f"d{i}", html=f'<p>see <a href="https://x.example/d{(i + 3) % 7}">it</a></p>')
               for i in range(7)]
        forum = Doc(id="AbCdEfGhIjKlMnOpQ", url="https://www.lesswrong.com/posts/AbCdEfGhIjKlMnOpQ/s",
                    title="post", html="<p>x</p>")
        copy = Doc(id="copy", url="https://blog.example/c", title="copy", html="<p>x</p>",
                   keys=["fm:AbCdEfGhIjKlMnOpQ"])
        src = _doc("s", html='<a href="https://www.lesswrong.com/posts/AbCdEfGhIjKlMnOpQ/s">x</a>')
        return [src, copy, *out, forum]  # the post itself comes in the last part

    def stored(parts: int) -> tuple:
        monkeypatch.setattr(store, "SAVE_CHUNK_DOCS", parts)
        c = connect(":memory:")
        try:
            sid = ensure_source(c, "file", "src")
            r = save_documents(c, sid, docs())
            again = save_documents(c, sid, docs())
            return ((r.new, r.changed, r.unchanged, r.links), (again.new, again.unchanged),
                    c.execute("SELECT id, text, content_hash FROM documents ORDER BY id").fetchall(),
                    c.execute("SELECT source_id, position, target_id FROM links ORDER BY ALL").fetchall(),
                    c.execute("SELECT * FROM document_keys ORDER BY ALL").fetchall())
        finally:
            c.close()

    whole = stored(10_000)
    assert whole[0][0] == 10 and whole[1] == (0, 10)
    assert ("s", 0, "AbCdEfGhIjKlMnOpQ") in whole[3]  # the post itself, not the copy
    assert stored(2) == whole
    monkeypatch.setattr(store, "SAVE_CHUNK_CHARS", 1)  # a part per document
    assert stored(10_000) == whole
