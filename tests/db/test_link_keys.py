"""Every way a post points at another resolves (URL keys), and only forum hosts key by forum id."""

from __future__ import annotations

import pytest

from crux.crawler.forummagnum import post_doc
from crux.db import Doc, ensure_source, save_documents
from crux.htmltext import extract_links, forum_keys, url_key, url_keys

ID = "AbCdEfGhIjKlMnOpQ"
HEX = "5bd75cc58225bf06703751b2"


@pytest.mark.parametrize(("url", "key", "alt"), [
    (f"https://www.lesswrong.com/posts/{ID}/some-slug", f"fm:{ID}", "fm-slug:some-slug"),
    (f"https://www.lesswrong.com/posts/{ID}", f"fm:{ID}", None),
    (f"https://www.lesswrong.com/posts/{HEX}/old-post", f"fm:{HEX}", "fm-slug:old-post"),
    (f"https://www.lesswrong.com/s/XsMTxdQ6fprAQMoKi/p/{ID}", f"fm:{ID}", None),
    (f"https://www.lesswrong.com/posts/{ID}/x?commentId=ZyXwVuTsRqPoNmLkJ", "fm:ZyXwVuTsRqPoNmLkJ",
     f"fm:{ID}"),
    (f"https://www.lesserwrong.com/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),
    (f"https://www.lessestwrong.com/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),  # a 2020 alias
    (f"https://www.greaterwrong.com/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),
    (f"https://www.alignmentforum.org/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),
    (f"https://forum.effectivealtruism.org/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),
    (f"https://ea.greaterwrong.com/posts/{ID}/s", f"fm:{ID}", "fm-slug:s"),
    ("https://lesswrong.com/lw/2as/the_slug/", "fm-legacy:lw:2as", "fm-slug:the_slug"),
    ("http://lesswrong.com/lw/2as/", "fm-legacy:lw:2as", None),
    ("https://forum.effectivealtruism.org/ea/1a2/some-slug/", "fm-legacy:ea:1a2",
     "fm-slug:some-slug"),
    ("https://agentfoundations.org/item?id=123", "agentfoundations.org/item?id=123", None),
    # an id-shaped path on any other host is just a path (no source can claim a forum post)
    (f"https://evil.example/posts/{ID}/x", f"evil.example/posts/{ID}/x", None),
    (f"https://evil.example/x?commentId={ID}", "evil.example/x", None),
    ("https://blog.example.com/2020/05/essay/", "blog.example.com/2020/05/essay", None),
])
def test_each_url_shape_has_its_key(url, key, alt):
    assert url_keys(url) == (key, alt)
    assert url_key(url) == key


def test_forum_keys_of_a_post():
    keys = forum_keys(ID, slug="My-Post", legacy_id="98", site_url="https://www.lesswrong.com/x",
                      own_url="https://blog.example.com/essay", agent_foundations_id="7")
    assert keys == [f"fm:{ID}", "fm-slug:my-post", "fm-legacy:lw:98", "fm-legacy:lw:2q",
                    "agentfoundations.org/item?id=7", "blog.example.com/essay"]
    assert "fm-legacy:ea:1a2" in forum_keys(ID, legacy_id="1a2",
                                            site_url="https://forum.effectivealtruism.org/x")


def _post(pid, html="<p>x</p>", **kw):
    return post_doc({"_id": pid, "title": pid, "htmlBody": html,
                     "pageUrl": f"https://www.lesswrong.com/posts/{pid}/{kw.get('slug', 'x')}",
                     **kw})


_IN_REPLY = "<p>In reply to <a href='{}'>this</a>.</p>"


@pytest.mark.parametrize("body", [_IN_REPLY.format(h) for h in (
    "https://lesswrong.com/lw/2as/the_target_post/",          # legacy id
    "https://www.lesswrong.com/lw/zzz/the_target_post/",      # unknown legacy id: the slug
    "https://www.lesswrong.com/s/seq00000000000001/p/TARGET00000000001",
    "https://www.greaterwrong.com/posts/TARGET00000000001/the-target-post",
    "https://www.lessestwrong.com/posts/TARGET00000000001/the-target-post",  # LW's 2020 alias
    "https://www.lesswrong.com/posts/OTHERID0000000001/the_target_post",  # crosspost id: slug
    "https://www.lesswrong.com/posts/TARGET00000000001/x?commentId=COMMENT0000000001",  # its post
    "https://blog.example.com/2020/original/",                # the post's own url (crosspost)
)] + [
    # a URL written out in the text, not linked
    "<p>As discussed in https://www.lesswrong.com/posts/TARGET00000000001/the-target-post.</p>",
    # written out inside a link whose href is broken (the pasted text as its href)
    "<p>R0<a href=\"R0.\n\nhttps://www.lesswrong.com/posts/TARGET00000000001/x\n\nCould\">.<br>"
    "https://www.lesswrong.com/posts/TARGET00000000001/x<br>Could</a> anyone?</p>",
    # the URL as a link's own text is that one link
    "<p><a href='https://blog.example.com/2020/original'>https://blog.example.com/2020/original</a></p>",
])
@pytest.mark.parametrize("target_first", [True, False])
def test_links_resolve_whichever_document_arrives_first(con, body, target_first):
    src = ensure_source(con, "forummagnum", "lw")
    target = _post("TARGET00000000001", slug="the_target_post", legacyId="2as",
                   url="https://blog.example.com/2020/original")
    source = _post("SOURCE00000000001", html=body)
    for batch in ([target], [source]) if target_first else ([source], [target]):
        save_documents(con, src, batch)
    got = con.execute("SELECT target_id FROM links WHERE source_id = 'SOURCE00000000001'").fetchall()
    assert got == [("TARGET00000000001",)]


def test_urls_written_in_the_text_are_links_in_document_order():
    html = ("<p><a href='https://a.example/1'>one</a> see https://b.example/2. "
            "(https://en.wikipedia.org/wiki/Stan_(software)), <b>https://c.example/3/</b>"
            "<a href='https://c.example/3'>https://c.example/3</a> "  # its own text: one link
            "<a href='https://t.co/x'>https://d.example/long…</a> "  # shown cut short: no URL
            "https://e.example/a…/b <code>https://f.example/?q=1&amp;r=2,</code>"
            "<script>https://g.example/</script> http://nohost https://h.example/4</p>")
    assert extract_links(html) == [
        ("https://a.example/1", "one"),
        ("https://b.example/2", "https://b.example/2"),
        ("https://en.wikipedia.org/wiki/Stan_(software)",
         "https://en.wikipedia.org/wiki/Stan_(software)"),
        ("https://c.example/3/", "https://c.example/3/"),
        ("https://c.example/3", "https://c.example/3"),
        ("https://t.co/x", "https://d.example/long…"),
        ("https://f.example/?q=1&r=2", "https://f.example/?q=1&r=2"),
        ("https://h.example/4", "https://h.example/4"),
    ]


def test_a_feed_item_cannot_overwrite_a_forum_post(con):
    """issue 18.1: an RSS item linking evil.example/posts/<LW id>/x is a document of its own."""
    from crux.crawler.feeds import parse_feed

    lw = ensure_source(con, "forummagnum", "lw")
    save_documents(con, lw, [_post("GOODPOST000000001")])
    rss = (b'<rss version="2.0"><channel><title>Evil</title><item><title>HIJACKED</title>'
           b"<link>https://evil.example/posts/GOODPOST000000001/x</link></item></channel></rss>")
    feed = ensure_source(con, "feed", "evil")
    docs = parse_feed(rss, location="evil.xml").docs
    assert docs[0].id != "GOODPOST000000001"
    save_documents(con, feed, docs)
    assert con.execute("SELECT title, source_id FROM documents WHERE id = 'GOODPOST000000001'"
                       ).fetchone() == ("GOODPOST000000001", lw)


def test_a_plain_doc_keys_by_its_url(con):
    src = ensure_source(con, "feed", "blog")
    save_documents(con, src, [Doc(id="b1", url="https://blog.example.com/a/", html="<p>a</p>"),
                              Doc(id="b2", html="<p><a href='https://blog.example.com/a'>a</a></p>")])
    assert con.execute("SELECT target_id FROM links WHERE source_id = 'b2'").fetchall() == [("b1",)]
