"""The search page (/search) in a real browser, Datasette's table pages with crux's nav bar."""

from __future__ import annotations

from urllib.parse import quote

from crux.site.search import readable, snippet_parts, words_query

from .conftest import doc_shot, screenshot


def _open(page, server, path):
    resp = page.goto(server.url + path, wait_until="networkidle")
    assert resp is not None and resp.status == 200, f"{path}: HTTP {resp and resp.status}"
    return resp


def test_query_helpers():
    assert readable("documents_fts", '"prediction markets" OR calibration')
    assert readable("documents_fts", "title:forecasting")
    assert not readable("claims_fts", "title:forecasting")  # claims_fts has no title column
    for bad in ('"unbalanced', "hello AND", "NEAR(", "***", "-x"):
        assert not readable("documents_fts", bad), bad
    assert words_query('hello AND "x') == '"hello" "AND" "x"'
    assert words_query("*** ()") == ""
    assert snippet_parts("a \x02b\x03 c") == [("a ", False), ("b", True), (" c", False)]


def test_empty_search_shows_the_form(server, page):
    _open(page, server, "/search")
    assert page.locator("form.crux-search input[name=q]").count() == 1
    assert page.locator(".crux-hit").count() == 0
    assert "error" not in page.locator("body").inner_text().lower()
    doc_shot(page, "search-empty")
    assert page.errors == []


def test_home_box_goes_to_results_with_snippets_and_anchors(server, page):
    _open(page, server, "/")
    page.fill(".crux-search input[type=search]", "overrated funding")
    page.click(".crux-search input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/search?q=overrated+funding" in page.url
    posts = page.locator("#posts .crux-hit-title").all_inner_texts()
    assert "Forecasting Is Overrated; Stop Funding It" in posts
    assert page.locator("#posts .crux-snippet mark").count() >= 2
    doc_shot(page, "search-results")
    # a claim hit opens its document on the sentence
    claim = page.locator("#claims .crux-hit-title").first
    href = claim.get_attribute("href")
    assert href.startswith("/doc/") and "#s-" in href, href
    claim.click()
    page.wait_for_load_state("networkidle")
    anchor = href.split("#", 1)[1]
    assert page.locator(f"[id='{anchor}']").count() == 1
    assert page.errors == []


def test_every_kind_is_searched(server, page):
    _open(page, server, "/search?q=forecast")
    for kind in ("posts", "claims", "forecasts", "sentences"):
        assert page.locator(f"#{kind} .crux-hit").count() >= 1, kind
    # a sentence hit opens its document on that sentence
    href = page.locator("#sentences .crux-hit-title").first.get_attribute("href")
    assert href.startswith("/doc/") and "#s-" in href, href
    assert page.errors == []
    _open(page, server, "/search?q=forecast&in=claims")
    assert page.locator("section.crux-results").count() == 1
    assert page.locator("#claims .crux-hit").count() > 10  # more than the all-kinds page shows


def test_hostile_search_syntax_gets_a_friendly_page(server, page):
    for q in ('"unbalanced', "hello AND", "NEAR(", "***", "-x", "title:x OR", "a" * 2000):
        resp = page.goto(server.url + "/search?q=" + quote(q), wait_until="load")
        assert resp.status == 200, (q, resp.status)
        body = page.locator("body").inner_text()
        assert "fts5" not in body and "syntax error" not in body.lower(), q
        if q != "a" * 2000:  # that one is a valid (long) word
            assert page.locator(".crux-note").count() == 1, q
    resp = page.goto(server.url + "/search?q=" + quote("***"), wait_until="load")
    assert "Nothing to search for" in page.locator(".crux-note").inner_text()
    doc_shot(page, "search-hostile")
    assert page.errors == []


def test_canned_search_query_without_q_is_not_an_error(server, page, corpus):
    db = corpus[1].stem
    resp = page.goto(server.url + f"/{db}/search_everywhere", wait_until="load")
    assert resp.status == 200
    assert "fts5" not in page.locator("body").inner_text()


def test_table_pages_keep_the_nav_and_hide_long_columns(server, page, corpus):
    db = corpus[1].stem
    _open(page, server, f"/{db}/documents")
    nav = page.locator(".crux-nav")
    assert nav.count() == 1 and "debates" in nav.inner_text()
    heads = page.locator("table.rows-and-columns th").all_inner_texts()
    assert not {"text", "html_safe"} & {h.strip() for h in heads}, heads
    assert "title" in {h.strip() for h in heads}
    doc_shot(page, "table-documents", "table.rows-and-columns")
    _open(page, server, f"/{db}/documents?_crux_all=1")
    heads = {h.strip() for h in page.locator("table.rows-and-columns th").all_inner_texts()}
    assert {"text", "html_safe"} <= heads
    _open(page, server, f"/{db}/claims")
    assert page.locator(".crux-nav").count() == 1
    screenshot(page, "table-claims")
    assert page.errors == []


def test_a_group_runs_as_one_trip_and_stops_at_its_time_limit(corpus, monkeypatch):
    """Each kind's hits, count and sentence anchors run on one connection (one trip to a SQL
    thread); past the search's time limit it is interrupted, and the page says so."""
    import sqlite3

    import pytest
    from datasette.database import QueryInterrupted

    from crux.site import search

    con = sqlite3.connect(corpus[1])
    con.row_factory = sqlite3.Row
    have = {r[0] for r in con.execute("select name from sqlite_master")}
    posts = search.GROUPS[0]
    got = search._group_hits_in(con, posts, have, "forecasting", 10)
    assert got["hits"] and got["total"] >= len(got["hits"])
    assert all(h["position"] is not None for h in got["hits"])  # each post hit has its sentence
    monkeypatch.setattr(search, "TIME_LIMIT_MS", 0)
    with pytest.raises(QueryInterrupted):
        search._group_hits_in(con, posts, have, "forecasting", 10)


def test_counts_stop_at_the_cap(corpus, monkeypatch):
    """A group counts its matches up to COUNT_CAP and says "N+" past it."""
    import sqlite3

    from crux.site import search

    con = sqlite3.connect(corpus[1])
    con.row_factory = sqlite3.Row
    have = {r[0] for r in con.execute("select name from sqlite_master")}
    sents = next(g for g in search.GROUPS if g.key == "sentences")
    full = con.execute("select count(*) from sentences_fts where sentences_fts match 'forecast'").fetchone()[0]
    got = search._group_hits_in(con, sents, have, "forecast", 10)
    assert got["total"] == full > 10 and got["shown"] == f"{full:,}"
    monkeypatch.setattr(search, "COUNT_CAP", 10)
    got = search._group_hits_in(con, sents, have, "forecast", 10)
    assert got["total"] == 11 and got["shown"] == "10+"
    # every hit is a sentence of its document, at its position, with the word in it
    for h in got["hits"]:
        text = con.execute("select text from sentences where document_id = ? and position = ?",
                           [h["document_id"], h["position"]]).fetchone()[0]
        assert "forecast" in text.lower()
