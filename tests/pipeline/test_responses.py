"""The responses stage on small hand-built documents, run through the real segment stage."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from crux.db import Doc, ensure_source, save_documents
from crux.pipeline._segment_lite import run_pipeline
from crux.pipeline.stance import link_relation, sentence_stance, title_response

STAGES = ["segment", "responses", "claim_links"]
T = "https://forum.example/posts/aaaaaaaaaaaaaaaaa/stop-funding-forecasting"
R = "https://blog.example/p/contra-kastelic"

TARGET = Doc(id="aaaaaaaaaaaaaaaaa", url=T, title="Stop funding forecasting", author="Orrin Kastelic",
             published_at=datetime(2025, 1, 1), html=(
                 "<p>Forecasting grants have absorbed a lot of money and changed very few decisions.</p>"
                 "<p>Decision-makers almost never read forecasting platforms, so accurate forecasts "
                 "have no path to impact.</p><p>Calibration training is cheap and it works.</p>"))
RESPONSE = Doc(id="r1", url=R, title="Contra Kastelic on forecasting", author="Priya Malhotra",
               published_at=datetime(2025, 2, 1), html=(
                   f'<p>A response to @orrin\'s post <a href="{T}">Stop funding forecasting</a>. '
                   "I go through it point by point.</p>"
                   "<blockquote><p>Decision-makers almost never read forecasting platforms, so accurate "
                   "forecasts have no path to impact.</p></blockquote>"
                   "<p>I strongly disagree with this. Forecasts reach decision-makers through staff "
                   "and briefings.</p>"
                   '<p>See also <a href="https://forum.example/posts/bbbbbbbbbbbbbbbbb/survey">the survey '
                   "results</a> for data.</p>"))
SURVEY = Doc(id="bbbbbbbbbbbbbbbbb", url="https://forum.example/posts/bbbbbbbbbbbbbbbbb/survey",
             title="Survey results", author="Lena Haverford", published_at=datetime(2024, 12, 1),
             html="<p>Only 9% of respondents said a forecast changed a decision at work.</p>")


def add(con, *docs):
    sid = ensure_source(con, "file", "test")
    save_documents(con, sid, list(docs))


def rows(con):
    return con.execute("SELECT source_id, target_key, target_id, target_url, relation, score, evidence "
                       "FROM responses ORDER BY ALL").fetchall()


def test_title_cues():
    assert title_response("Contra Binder on far-UVC and filtration") == ("contra", "Binder on far-UVC and filtration")
    assert title_response("Re: How accurate are markets?")[0] == "re:"
    assert title_response("In defense of forecasting grants")[0] == "in defense of"
    assert title_response("On the political feasibility of stopping AI") is None
    assert title_response("Sleeper agent results") is None


def test_stance_cues():
    assert sentence_stance("I strongly disagree with this.")[0] == "attacks"
    assert sentence_stance("Garnett is right that the list price overstates what a school pays.")[0] == "supports"
    assert sentence_stance("Fair point about the track records, but young records argue for waiting.")[0] == "attacks"
    assert sentence_stance("While Ostrander is right that HEPA is cheap, the lamp figure is not.")[0] == "attacks"
    assert link_relation("This builds on Raue's defence and disagrees with parts of it.")[0] == "extends"
    assert link_relation("I mostly agree with Priya.")[0] == "supports"


def test_link_title_quote_and_cite(con):
    add(con, TARGET, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    got = {r[1]: r for r in rows(con) if r[0] == "r1"}
    resp = got["aaaaaaaaaaaaaaaaa"]
    ev = json.loads(resp[6])
    assert resp[4] == "rebuts" and resp[5] >= 0.9
    assert {"title", "opening", "cue", "quotes"} <= set(ev["signals"])
    assert any("path to impact" in q for q in ev["quote"])
    cite = got["bbbbbbbbbbbbbbbbb"]
    assert cite[4] == "cites" and json.loads(cite[6])["signals"]["cite"].lower() == "see also"


def test_comment_replies_to_parent_with_stance(con):
    c1 = Doc(id="c1", kind="comment", parent_id="aaaaaaaaaaaaaaaaa", post_id="aaaaaaaaaaaaaaaaa",
             author="Jack", html="<p>I don't think that's right: decision-makers do read forecasts, "
             "in briefing papers.</p>")
    c2 = Doc(id="c2", kind="comment", parent_id="c1", post_id="aaaaaaaaaaaaaaaaa", author="Orrin Kastelic",
             html="<p>Agreed, briefings are the real channel; I should have said so.</p>")
    add(con, TARGET, c1, c2)
    run_pipeline(con, STAGES)
    got = {(r[0], r[2]): r[4] for r in rows(con)}
    assert got[("c1", "aaaaaaaaaaaaaaaaa")] == "rebuts"
    assert got[("c2", "c1")] == "supports"


def test_target_ingested_later_fills_target_id(con):
    add(con, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    before = {r[1]: r for r in rows(con) if r[0] == "r1"}
    key = "fm:aaaaaaaaaaaaaaaaa"
    assert before[key][2] is None and before[key][3] == T and before[key][4] != "cites"
    assert json.loads(before[key][6])["quote"]
    n_links = con.execute("SELECT count(*) FROM claim_links WHERE target_document_id IS NULL").fetchone()[0]
    assert n_links >= 1  # the quoted passage answered, target outside the corpus
    add(con, TARGET)
    run_pipeline(con, STAGES)
    after = {r[1]: r for r in rows(con) if r[0] == "r1"}
    assert key not in after
    assert after["aaaaaaaaaaaaaaaaa"][2] == "aaaaaaaaaaaaaaaaa"
    assert after["aaaaaaaaaaaaaaaaa"][4] == "rebuts"
    linked = con.execute("SELECT count(*) FROM claim_links WHERE source_document_id = 'r1' "
                         "AND target_document_id = 'aaaaaaaaaaaaaaaaa' AND target_sentence_id IS NOT NULL").fetchone()[0]
    assert linked >= 1


def test_run_twice_same_rows(con):
    add(con, TARGET, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    first = (rows(con), con.execute("SELECT * FROM claim_links ORDER BY id").fetchall())
    results = run_pipeline(con, STAGES)
    assert all(r.docs == 0 for r in results)
    from crux.pipeline import available_stages
    for name in ("responses", "claim_links"):
        available_stages()[name]().run(con, force=True)
    assert (rows(con), con.execute("SELECT * FROM claim_links ORDER BY id").fetchall()) == first


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory):
    import os
    from pathlib import Path

    from crux.crawler.ingest import ingest_file
    from crux.db import connect
    base = os.environ.get("CRUX_SHARED")
    if not base:
        pytest.skip("CRUX_SHARED is not set (the shared corpora live beside the checkout)")
    path = Path(base) / ("corpora/seed-feeds/lesswrong-2026-04-28.rss.xml")
    assert path.exists(), f"CRUX_SHARED={base} is set but {path} is missing"
    con = connect(str(tmp_path_factory.mktemp("seed") / "seed.duckdb"))
    ingest_file(con, Path(path))
    run_pipeline(con, STAGES)
    yield con
    con.close()


def test_seed_debates(seed_db):
    got = {r[0]: r[1:] for r in seed_db.execute(
        "SELECT d.title, r.target_url, r.target_key, r.relation, r.evidence FROM responses r "
        "JOIN documents d ON d.id = r.source_id WHERE r.relation <> 'cites'").fetchall()}
    fc = got["Forecasting is Not Overrated and It's Probably Funded Appropriately"]
    assert fc[0] == ("https://www.lesswrong.com/posts/WCutvyr9rr3cpF6hx/"
                     "forecasting-is-way-overrated-and-we-should-stop-funding-it")
    uvc = got["Contra Binder on far-UVC and filtration"]
    assert "far-uvc-and-air-filtration" in uvc[0] and uvc[2] == "rebuts"
    scai = got['Microsoft AI CEO\'s "Seemingly Conscious AI Risk"']
    assert scai[2] == "rebuts" and len(json.loads(scai[3])["quote"]) >= 2
    attacked = seed_db.execute(
        "SELECT count(*) FROM claim_links l JOIN documents d ON d.id = l.source_document_id "
        "WHERE d.title LIKE 'Microsoft AI%' AND l.target_sentence_id IS NULL AND l.relation = 'attacks' "
        "AND l.method = 'quote-reply'").fetchone()[0]
    assert attacked >= 2


def test_link_lists_and_crowded_sentences_are_citations(con):
    """Links in a list item, or three in one sentence, are citations."""
    others = [Doc(id=c * 17, url=f"https://forum.example/posts/{c * 17}/p", title=f"Post {c}", author="Someone",
                  published_at=datetime(2024, 6, 1), html=f"<p>Post {c} says something about forecasting.</p>")
              for c in "cde"]
    roundup = Doc(id="ru", url="https://blog.example/p/roundup", title="Weekly links", author="Priya Malhotra",
                  published_at=datetime(2025, 2, 1), html=(
                      "<p>Here is what I read on forecasting this week: "
                      + ", ".join(f'<a href="{d.url}">{d.title}</a>' for d in others) + ".</p>"
                      f'<ul><li><a href="{T}">Stop funding forecasting</a></li></ul>'))
    add(con, TARGET, *others, roundup)
    run_pipeline(con, STAGES)
    got = {r[1]: (r[4], json.loads(r[6])["signals"]) for r in rows(con) if r[0] == "ru"}
    assert len(got) == 4 and all(rel == "cites" for rel, _ in got.values())
    assert all("crowded" in sig for k, (_, sig) in got.items() if k != "aaaaaaaaaaaaaaaaa")
    assert "list" in got["aaaaaaaaaaaaaaaaa"][1]
