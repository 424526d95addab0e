"""The site in a real browser (chromium through Playwright) against a running ``crux serve``.

Each page: renders, draws its chart, logs no console error; a screenshot of each is saved
under tests/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import quote

import pytest

from .conftest import doc_shot, screenshot

REBUTTAL_POST = "https://forum.crux-demo.example/posts/mBcXb5pm8pseZX0CE/forecasting-is-not-overrated"


@pytest.fixture(scope="module")
def ids(corpus):
    con = sqlite3.connect(corpus[1])
    doc = con.execute("SELECT id FROM documents WHERE url = ? AND kind = 'post'",
                      [REBUTTAL_POST]).fetchone()[0]
    topic = con.execute("""SELECT t.run_id, t.topic_id FROM topics t WHERE t.topic_id >= 0
                           ORDER BY t.size DESC LIMIT 1""").fetchone()
    con.close()
    return {"doc": doc, "topic": f"{quote(topic[0])}/{topic[1]}"}


def _open(page, server, path):
    resp = page.goto(server.url + path, wait_until="networkidle")
    assert resp is not None and resp.status == 200, f"{path}: HTTP {resp and resp.status}"
    return resp


def test_home_page_says_when_refreshed_and_links_pages(server, page):
    _open(page, server, "/")
    refreshed = page.locator(".crux-refreshed").inner_text()
    assert "last refreshed" in refreshed and "20" in refreshed
    for href in ("/debates", "/forecasts", "/topics"):
        assert page.locator(f".crux-pages a[href='{href}']").count() == 1
    screenshot(page, "home")
    assert page.errors == []


def test_full_text_search_finds_a_demo_post(server, page):
    _open(page, server, "/")
    page.fill(".crux-search input[type=search]", "overrated funding")
    page.click(".crux-search input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/search?q=overrated+funding" in page.url
    titles = page.locator(".crux-hit-title").all_inner_texts()
    assert "Forecasting Is Overrated; Stop Funding It" in titles
    screenshot(page, "search")
    assert page.errors == []


def test_document_page_highlights_claims_and_shows_rebuttal_pairs(server, page, ids):
    _open(page, server, f"/doc/{ids['doc']}")
    assert page.locator("h1").inner_text() == "Forecasting Is Not Overrated"
    assert page.locator(".crux-body .claim").count() >= 5
    assert page.locator(".crux-body .claim-high").count() >= 1
    # a claim-level rebuttal beside its target: the note quotes the sentence it attacks
    notes = page.locator(".crux-notes .note-out.rel-attacks")
    assert notes.count() >= 2
    first = notes.first.inner_text()
    assert "Forecasting Is Overrated" in first
    # the quoted sentence of the other post is shown as a quote
    assert page.locator(".crux-block blockquote .in-quote").count() >= 1
    # both directions of document-level responses
    assert "Forecasting Is Overrated" in page.locator(".responds-to").inner_text()
    assert page.locator(".responded-by li").count() >= 1
    assert page.locator(".forecast-badge").count() >= 1
    screenshot(page, "document")
    assert page.errors == []


def test_document_page_applies_the_link_cut_off_and_quotes_a_passage_once(server, page, ids,
                                                                           corpus):
    """Claim links scored below the debate cut-off are hidden by default (and counted, with a
    "show all" link); a passage that several sentences answer is quoted in full only once."""
    from crux.analysis.debates import MIN_CLAIM_LINK_SCORE

    con = sqlite3.connect(corpus[1])
    scores = [r[0] or 0 for r in con.execute(
        "SELECT score FROM claim_links WHERE source_document_id = ?", [ids["doc"]])]
    incoming = [r[0] or 0 for r in con.execute(
        "SELECT score FROM claim_links WHERE target_document_id = ?", [ids["doc"]])]
    con.close()
    low = sum(s < MIN_CLAIM_LINK_SCORE for s in scores + incoming)  # both directions
    _open(page, server, f"/doc/{ids['doc']}")
    shown = page.locator(".crux-notes .note-out").count()
    assert shown == sum(s >= MIN_CLAIM_LINK_SCORE for s in scores)
    if low:
        assert f"{low} claim link" in page.locator(".crux-link-count").inner_text()
    quoted = page.locator(".crux-notes .note-out blockquote.target").all_inner_texts()
    assert len(quoted) == len({" ".join(q.split()) for q in quoted})  # each passage once
    assert page.locator(".note-out .same-passage").count() == shown - len(quoted)
    _open(page, server, f"/doc/{ids['doc']}?all=1")
    assert page.locator(".crux-notes .note-out").count() == len(scores)
    assert page.errors == []


def test_document_page_of_the_attacked_post_shows_incoming_rebuttals(server, page, corpus):
    con = sqlite3.connect(corpus[1])
    target = con.execute("SELECT target_document_id FROM claim_links WHERE relation = 'attacks' "
                         "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    _open(page, server, f"/doc/{target}")
    assert page.locator(".crux-notes .note-in").count() >= 1
    screenshot(page, "document-attacked")
    assert page.errors == []


def test_debate_pages_render_with_chart(server, page, ids):
    _open(page, server, "/debates")
    assert page.locator(".crux-debates li").count() >= 2
    screenshot(page, "debates")
    _open(page, server, f"/debate/{ids['doc']}")
    chart = page.locator(".chart-debate[data-drawn='1'] svg")
    assert chart.count() == 1
    assert page.locator(".chart-debate circle.node").count() >= 3
    assert page.locator(".chart-debate path.edge").count() >= 2
    assert page.locator(".crux-passage li.answer").count() >= 2
    screenshot(page, "debate")
    assert page.errors == []


def test_forecasts_page_renders_table_and_chart(server, page):
    _open(page, server, "/forecasts")
    assert page.locator(".chart-forecasts[data-drawn='1'] svg").count() == 1
    assert page.locator(".chart-forecasts circle.forecast-point").count() >= 5
    assert page.locator("table.crux-table tbody tr").count() >= 5
    screenshot(page, "forecasts")
    assert page.errors == []
    # the form filter: every row of /forecasts?form=F has that form, and the count says how many
    forms = page.locator("table.crux-table tbody tr td:nth-child(2)").all_inner_texts()
    form = max(set(forms), key=forms.count)
    assert form in ("numeric", "hedged", "unhedged")
    _open(page, server, f"/forecasts?form={form}")
    shown = page.locator("table.crux-table tbody tr td:nth-child(2)").all_inner_texts()
    assert shown and set(shown) == {form}
    assert page.locator(".crux-filter strong").inner_text() == form
    doc_shot(page, "forecasts-filtered")
    assert page.errors == []


def test_topic_pages_render_words_items_and_timeline(server, page, ids):
    _open(page, server, "/topics")
    assert page.locator("table.crux-table tbody tr").count() >= 2
    screenshot(page, "topics")
    _open(page, server, f"/topic/{ids['topic']}")
    assert page.locator(".chart-words rect.bar").count() >= 3
    assert page.locator(".chart-timeline rect.bar").count() >= 1
    assert page.locator("table.crux-table tbody tr").count() >= 1
    screenshot(page, "topic")
    assert page.errors == []


def test_search_all_plugin_page(server, page):
    _open(page, server, "/-/search?q=calibration")
    page.wait_for_selector("#search-all-results table", timeout=10000)
    screenshot(page, "search-all")
    assert page.errors == []


def test_pages_say_empty_instead_of_failing(tmp_path, page):
    """A snapshot with no NLP rows at all: every page answers 200 with its 'empty' message."""
    from .conftest import Server, ingest_demo
    ingest_demo(tmp_path / "bare.duckdb")
    srv = Server(tmp_path / "bare.duckdb")
    try:
        doc = json.loads(srv.get("/bare/posts.json?_shape=array&_size=1"))[0]["id"]
        for path in ("/", "/debates", "/forecasts", "/topics", f"/doc/{doc}", f"/debate/{doc}"):
            _open(page, srv, path)
            if path != "/":
                assert page.locator(".empty").count() >= 1, path
        screenshot(page, "debate-empty")
        assert page.errors == []
    finally:
        srv.stop()
