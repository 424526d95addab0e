"""A store whose links an older link extractor made gets them re-extracted, resolved and its
linking stages redone; a current store is left alone; a failure midway keeps the old links."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import pytest

import crux.htmltext as htmltext
from crux.db import Doc, connect, ensure_source, links_version, relink, save_documents
from crux.htmltext import LINKS_VERSION
from tests.pipeline import run_pipeline

STAGES = ["segment", "responses", "claim_links"]
T = "https://forum.example/posts/aaaaaaaaaaaaaaaaa/stop-funding-forecasting"
S = "https://forum.example/posts/bbbbbbbbbbbbbbbbb/survey"
OLD_HOST = "https://www.lessestwrong.com/posts/ccccccccccccccccc/calibration"  # a 2020 alias

DOCS = [
    Doc(id="aaaaaaaaaaaaaaaaa", url=T, title="Stop funding forecasting", author="Orrin Kastelic",
        published_at=datetime(2025, 1, 1), html=(
            "<p>Forecasting grants have absorbed a lot of money and changed very few decisions.</p>"
            "<p>Decision-makers almost never read forecasting platforms, so accurate forecasts "
            "have no path to impact.</p>")),
    Doc(id="bbbbbbbbbbbbbbbbb", url=S, title="Survey results", author="Lena Haverford",
        published_at=datetime(2024, 12, 1),
        html="<p>Only 9% of respondents said a forecast changed a decision at work.</p>"),
    # links its target through lessestwrong.com, and the survey by a URL written out in the text
    Doc(id="r1", url="https://blog.example/p/contra-kastelic", title="Contra Kastelic on forecasting",
        author="Priya Malhotra", published_at=datetime(2025, 2, 1), html=(
            '<p>A response to <a href="https://www.lessestwrong.com/posts/aaaaaaaaaaaaaaaaa/stop">'
            "Stop funding forecasting</a>. I go through it point by point.</p>"
            "<blockquote><p>Decision-makers almost never read forecasting platforms, so accurate "
            "forecasts have no path to impact.</p></blockquote>"
            "<p>I strongly disagree with this. Forecasts reach decision-makers through staff.</p>"
            f"<p>See also {S} for data.</p>")),
    # a post whose own URL is on lessestwrong.com (its url_key changes), and one linking to it
    Doc(id="ccccccccccccccccc", url=OLD_HOST, title="Calibration", author="Ada",
        published_at=datetime(2020, 3, 1), html="<p>Calibration training is cheap and it works.</p>"),
    Doc(id="d1", url="https://blog.example/p/notes", title="Notes", author="Bo",
        published_at=datetime(2021, 1, 1), html=(
            '<p>As <a href="https://www.lesswrong.com/posts/ccccccccccccccccc/calibration">Ada '
            "argued</a>, calibration training works.</p>")),
]
LINKS = ("SELECT source_id, position, target_url, target_key, anchor_text, alt_key, target_id "
         "FROM links ORDER BY ALL")
KEYS = "SELECT key, document_id FROM document_keys ORDER BY ALL"
URL_KEYS = "SELECT id, url_key FROM documents ORDER BY id"
RESPONSES = "SELECT source_id, target_key, target_id, relation FROM responses ORDER BY ALL"


@contextmanager
def old_extractor(monkeypatch):
    """Link extraction as it was before LINKS_VERSION 2: no URLs written out in the text, and
    lessestwrong.com no forum host."""
    with monkeypatch.context() as m:
        m.setattr(htmltext, "_bare_urls", lambda text: [])
        m.setattr(htmltext, "FORUM_HOSTS",
                  tuple(h for h in htmltext.FORUM_HOSTS if h != "lessestwrong.com"))
        yield


def _ingest(con):
    save_documents(con, ensure_source(con, "file", "test"), [Doc(**vars(d)) for d in DOCS])


def _old_store(path, monkeypatch, recorded: str | None = "1", process: bool = True):
    """A store built by a crux whose extractor was the old one: ingested (and processed) with
    it, its record the old version (or none, as before the record existed)."""
    con = connect(path)
    with old_extractor(monkeypatch):
        _ingest(con)
        if process:
            run_pipeline(con, STAGES)
    if recorded is None:
        con.execute("DELETE FROM _store_state WHERE key = 'links_version'")
    else:
        con.execute("UPDATE _store_state SET value = ? WHERE key = 'links_version'", [recorded])
    return con


def _relinks(con) -> list[tuple]:
    return con.execute("SELECT status, rows_in FROM _runs WHERE command = 'relink' ORDER BY id").fetchall()


def test_the_old_extractor_differs(monkeypatch):
    """The simulation is honest: on these documents the old extractor finds 2 links and resolves
    none; today's finds 3 and resolves them all."""
    resolved = "SELECT count(*), count(target_id) FROM links"
    for old, want in ((True, (2, 0)), (False, (3, 3))):
        con = connect(":memory:")
        if old:
            with old_extractor(monkeypatch):
                _ingest(con)
        else:
            _ingest(con)
        assert con.execute(resolved).fetchone() == want
        con.close()


@pytest.mark.parametrize("recorded", ["1", None])
def test_an_old_store_is_relinked_on_open_and_its_linking_stages_redo(tmp_path, monkeypatch, recorded):
    con = _old_store(tmp_path / "old.duckdb", monkeypatch, recorded)
    stale = con.execute(LINKS).fetchall()
    assert ("r1", 1) not in {r[:2] for r in stale}  # the written-out URL was no link
    assert all(r[6] is None for r in stale)  # nothing resolved
    assert ("ccccccccccccccccc", "lessestwrong.com/posts/ccccccccccccccccc/calibration") in \
        con.execute(URL_KEYS).fetchall()
    old_responses = con.execute(RESPONSES).fetchall()
    con.close()

    fresh = connect(":memory:")  # what today's crux makes of the same documents
    _ingest(fresh)
    run_pipeline(fresh, STAGES)

    con = connect(tmp_path / "old.duckdb")  # the next writable open relinks
    assert links_version(con) == LINKS_VERSION
    assert _relinks(con) == [("ok", len(DOCS))]
    for sql in (LINKS, KEYS, URL_KEYS):
        assert con.execute(sql).fetchall() == fresh.execute(sql).fetchall(), sql
    assert {r[6] for r in con.execute(LINKS).fetchall()} >= {
        "aaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbb", "ccccccccccccccccc"}

    # the documents whose links changed (r1, d1) are redone by the linking stages, no other
    redone = {r.stage: r.docs for r in run_pipeline(con, STAGES)}
    assert redone == {"segment": 0, "responses": 2, "claim_links": 2}
    assert con.execute(RESPONSES).fetchall() == fresh.execute(RESPONSES).fetchall()
    assert con.execute(RESPONSES).fetchall() != old_responses
    assert ("r1", "aaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaa", "rebuts") in con.execute(RESPONSES).fetchall()

    # a second run does no work: no stage, and no relink at the next open
    assert all(r.docs == 0 for r in run_pipeline(con, STAGES))
    con.close()
    con = connect(tmp_path / "old.duckdb")
    assert relink(con) is None
    assert _relinks(con) == [("ok", len(DOCS))]
    con.close()
    fresh.close()


def test_a_new_store_records_the_current_version_without_relinking(db_path):
    con = connect(db_path)
    assert links_version(con) == LINKS_VERSION
    _ingest(con)
    before = con.execute(LINKS).fetchall()
    con.close()
    con = connect(db_path)
    assert relink(con) is None
    assert _relinks(con) == []
    assert con.execute(LINKS).fetchall() == before
    con.close()


def test_a_failure_midway_keeps_the_old_links_and_version(db_path, monkeypatch):
    con = _old_store(db_path, monkeypatch, process=True)
    queries = (LINKS, KEYS, URL_KEYS, "SELECT * FROM _stage_state ORDER BY ALL",
               "SELECT key, value FROM _store_state")
    before = [con.execute(q).fetchall() for q in queries]
    import crux.db.relinking as mod

    calls = []

    def dies_on_the_third(html, url):
        calls.append(url)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return htmltext.text_and_links(html, url)

    monkeypatch.setattr(mod, "text_and_links", dies_on_the_third)
    with pytest.raises(RuntimeError, match="killed"):
        relink(con, progress=False, chunk_docs=1)  # two parts written before it dies
    assert [con.execute(q).fetchall() for q in queries] == before
    assert links_version(con) == "1"
    # the work's rows went with the rest; a failed run says what happened
    assert con.execute("SELECT command, status, error, rows_out FROM _runs WHERE command = 'relink'"
                       ).fetchall() == [("relink", "failed", "killed", 0)]
    monkeypatch.undo()
    result = relink(con, progress=False, chunk_chars=1)  # one document a part
    assert result is not None and result.documents == len(DOCS) and result.changed == 2
    assert result.rekeyed == 1
    assert links_version(con) == LINKS_VERSION
    con.close()


def test_relink_reads_html_in_parts_with_the_same_result(monkeypatch):
    """Parts of one document and one big part give the same links."""
    got = []
    for chunk_docs in (1, 1000):
        con = connect(":memory:")
        with old_extractor(monkeypatch):
            _ingest(con)
        con.execute("UPDATE _store_state SET value = '1'")
        result = relink(con, progress=False, chunk_docs=chunk_docs)
        assert result is not None and result.links == 3
        got.append(con.execute(LINKS).fetchall())
        con.close()
    assert got[0] == got[1]
