"""The responses stage on small hand-built documents, run through the real segment stage."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from crux.db import Doc, ensure_source, save_documents
from crux.pipeline.responses import ResponsesStage
from tests.pipeline import run_pipeline

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


def test_link_title_quote_and_cite(con):
    add(con, TARGET, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    got = {r[1]: r for r in rows(con) if r[0] == "r1"}
    resp = got["aaaaaaaaaaaaaaaaa"]
    ev = json.loads(resp[6])
    from crux.pipeline.response_model import FEATURES, load_model

    # the learned probability decides and is the score; the hand-set rule is one of its features
    assert resp[4] == "rebuts" and load_model().threshold <= resp[5] <= 1
    assert len(ev["features"]) == len(FEATURES) and ev["features"][FEATURES.index("rule_response")] == 1
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


def test_a_changed_parameter_or_cue_redoes_the_linking_stages(con, monkeypatch):
    """Every number is in the stages' parameter objects, whose digest is in the version: a changed
    weight redoes the stage (and changes its rows), an unchanged one does no work; so does a
    changed cue phrase."""
    import dataclasses
    import re

    from crux.pipeline import stance
    from crux.pipeline.claim_links import ClaimLinksStage
    from crux.pipeline.link_params import ClaimLinkParams, PairParams, ResponseParams
    from crux.pipeline.responses import ResponsesStage

    add(con, TARGET, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    assert ResponsesStage().run(con).docs == 0 and ClaimLinksStage().run(con).docs == 0
    strict = ResponseParams(response_min=1.01)  # the rule: every link is a citation
    assert ResponsesStage(strict).version != ResponsesStage().version
    assert ResponsesStage(strict, model_path=None).run(con).docs == 3
    assert {r[4] for r in rows(con)} == {"cites"}
    assert ResponsesStage(strict, model_path=None).run(con).docs == 0  # unchanged: no work
    assert ResponsesStage().run(con).docs == 3  # back to the defaults (the learned model)
    assert "rebuts" in {r[4] for r in rows(con)}
    pairs = ClaimLinkParams(pairs=dataclasses.replace(PairParams(), quote_min=0.99))
    assert ClaimLinksStage(params=pairs).version != ClaimLinksStage().version
    monkeypatch.setattr(stance, "_AGREE", re.compile(r"\bI agree\b"))
    changed = ResponsesStage()
    monkeypatch.undo()
    assert changed.version != ResponsesStage().version  # a cue phrase is part of the digest


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


PHYS = Doc(id="pppppppppppppppp1", url="https://forum.example/posts/pppppppppppppppp1/puzzles",
           title="Puzzles for physicalists", author="jessicata", published_at=datetime(2025, 1, 1),
           html="<p>Physicalism cannot explain indexical facts.</p><p>Reference needs a standpoint.</p>")


def test_reporting_in_the_opening_is_a_citation(con):
    """"Jessica recently wrote about X", then a question of one's own: X is background, not answered."""
    q = Doc(id="qq", url="https://forum.example/posts/qq/free-will", title="What is free will like for agents?",
            author="Gordon", published_at=datetime(2025, 2, 1), html=(
                f'<p>Jessica recently wrote about <a href="{PHYS.url}">difficulties with physicalist accounts</a> '
                "of the world. I have a strong belief that the world is subjectively deterministic.</p>"
                "<p>What are some ways of reconciling determinism and the experience of choice?</p>"))
    add(con, PHYS, q)
    run_pipeline(con, STAGES)
    # the hand-set rule (a feature of the learned decision, which calls this one `extends`:
    # EVALUATION.md, "Response model")
    ResponsesStage(model_path=None).run(con)
    got = {r[1]: (r[4], json.loads(r[6])["signals"]) for r in rows(con) if r[0] == "qq"}
    assert got[PHYS.id][0] == "cites" and "reported" in got[PHYS.id][1]


def test_follow_ups_extend(con):
    """"My last post analyzed…" and "<title> Retrospective" continue the earlier post: extends."""
    first = Doc(id="fffffffffffffffff", url="https://forum.example/posts/fffffffffffffffff/growth",
                title="Growth rate of outbreaks", author="Bucky", published_at=datetime(2025, 1, 1),
                html="<p>Case counts double every three days in most countries.</p>")
    later = Doc(id="ff2", url="https://forum.example/posts/ff2/growth-vs-interventions",
                title="Growth rates versus interventions", author="Bucky", published_at=datetime(2025, 2, 1),
                html=(f'<p>My last post analyzed <a href="{first.url}">the growth rates</a> of ten countries. '
                      "Now that they have locked down, the effect of each measure is clearer.</p>"
                      "<p>Death growth rates roughly match case growth rates.</p>"))
    event = Doc(id="eeeeeeeeeeeeeeeee", url="https://forum.example/posts/eeeeeeeeeeeeeeeee/blog-post-day",
                title="Blog Post Day II", author="Daniel", published_at=datetime(2025, 1, 1),
                html="<p>Join us online on Saturday to write that post.</p>")
    retro = Doc(id="ee2", url="https://forum.example/posts/ee2/retro", title="Blog Post Day II Retrospective",
                author="Daniel", published_at=datetime(2025, 2, 1),
                html=f'<p>Saturday was <a href="{event.url}">Blog Post Day II</a>. Six people wrote posts.</p>')
    add(con, first, later, event, retro)
    run_pipeline(con, STAGES)
    got = {(r[0], r[1]): r[4] for r in rows(con)}
    assert got[("ff2", first.id)] == "extends"
    assert got[("ee2", event.id)] == "extends"


def test_quotes_belong_to_the_link_that_introduces_them(con):
    """An outside paper quoted and argued with: its quotes are answered (claim links, and
    ``quote_relation`` rebuts), but with nothing else saying the post answers the paper (a title,
    a cue) the document only cites it (quoting an outside work is mostly exposition); the other
    links of the opening are citations."""
    post = Doc(id="zz", url="https://forum.example/posts/zz/model-nonsense", title="A popular model is nonsense",
               author="Zvi", published_at=datetime(2025, 4, 1), html=(
                   '<p>Epistemic status: <a href="https://xkcd.com/386/">Something is wrong on the internet</a>.'
                   ' Previous thoughts: <a href="https://blog.example/on-r0">On R0</a>.</p>'
                   "<p>People are taking the projection of 60,000 deaths as a real prediction.</p>"
                   '<p>Time to look at <a href="https://medrxiv.example/model.pdf">the pdf</a>. '
                   "Here is the money quote:</p>"
                   "<blockquote><p>Days with three or four measures were counted as zero growth.</p></blockquote>"
                   "<p>In other words, the model assumes that distancing works absurdly well.</p>"
                   "<p>That is not how any of this works.</p>"))
    add(con, post)
    run_pipeline(con, STAGES)
    got = {r[1]: (r[4], json.loads(r[6])) for r in rows(con) if r[0] == "zz"}
    pdf = next(v for k, v in got.items() if "model.pdf" in k)
    assert pdf[0] == "cites" and pdf[1]["quote_relation"] == "rebuts" and pdf[1]["quote_groups"]
    others = [v[0] for k, v in got.items() if "model.pdf" not in k]
    assert others and all(rel == "cites" and "quote_relation" not in v[1] for k, v in got.items()
                          if "model.pdf" not in k for rel in [v[0]])
    answered = con.execute("SELECT target_text, relation FROM claim_links WHERE source_document_id = 'zz'").fetchall()
    assert ("Days with three or four measures were counted as zero growth.", "attacks") in answered
    # the same post announcing its answer in the opening rebuts the paper
    con.execute("DELETE FROM documents WHERE id = 'zz'")
    cued = Doc(id="zy", url="https://forum.example/posts/zy/model-nonsense", title=post.title, author="Zvi",
               published_at=post.published_at,
               html=post.html.replace("Time to look at", "I strongly disagree with"))
    add(con, cued)
    run_pipeline(con, STAGES)
    assert next(r[4] for r in rows(con) if r[0] == "zy" and "model.pdf" in r[1]) == "rebuts"


def test_inline_quotation_of_the_target_makes_a_response(con):
    """No block quote, no opening link: quoting the target's sentences inline is the evidence."""
    uvc = Doc(id="uuuuuuuuuuuuuuuuu", url="https://forum.example/posts/uuuuuuuuuuuuuuuuu/far-uvc",
              title="Far-UVC could control the pandemic", author="avturchin", published_at=datetime(2025, 1, 1),
              html=("<p>One of the most promising and neglected ideas for combating the spread of covid-19 is "
                    "far-UVC light.</p><p>Why hasn't this already been considered by relevant authorities?</p>"))
    resp = Doc(id="u2", url="https://blog.example/p/premature", title="Far-UVC is a good idea but premature",
               author="Kirby", published_at=datetime(2025, 2, 1), html=(
                   "<p>Far-UVC has potential, but its safety is not established.</p><h2>Introduction</h2>"
                   "<p>In 2017 a paper looked at far-UVC for a future influenza pandemic.</p>"
                   f'<p>Last month it was the subject of a <a href="{uvc.url}">post</a> by two authors. '
                   "They call it “one of the most promising and neglected ideas for combating the spread "
                   "of covid-19,” and ask “Why hasn't this already been considered by relevant authorities?”</p>"
                   "<p>Using far-UVC in public spaces would be premature.</p>"))
    add(con, uvc, resp)
    run_pipeline(con, STAGES)
    got = {r[1]: (r[4], json.loads(r[6])["signals"]) for r in rows(con) if r[0] == "u2"}
    assert got[uvc.id][0] != "cites" and got[uvc.id][1]["quotes"] == 2


def test_claims_computed_later_redo_the_debate_stages(con):
    """`crux process --stage responses --stage claim_links` before the claims stage: once
    claims exist, both stages redo those documents (they read claims), then rest."""
    add(con, TARGET, SURVEY, RESPONSE)
    run_pipeline(con, STAGES)
    assert all(r.docs == 0 for r in run_pipeline(con, STAGES))
    run_pipeline(con, ["claims"])
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] > 0
    redone = {r.stage: r.docs for r in run_pipeline(con, ["responses", "claim_links"])}
    assert redone == {"responses": 3, "claim_links": 3}
    assert all(r.docs == 0 for r in run_pipeline(con, STAGES))


GARFINKEL = "https://80000hours.org/podcast/episodes/ben-garfinkel-classic-ai-risk-arguments/"


def test_a_title_names_an_outside_work_by_its_url(con):
    """"A long reply to Ben Garfinkel on ...": the link whose URL names him is what it answers;
    the other opening link is not."""
    reply = Doc(id="gg", url="https://forum.example/posts/gg/reply", author="Soren",
                title="A long reply to Ben Garfinkel on Scrutinizing Classic AI Risk Arguments",
                published_at=datetime(2025, 2, 1), html=(
                    f'<p>In July, Ben Garfinkel scrutinized the classic arguments in an <a href="{GARFINKEL}">'
                    'interview</a>, which I recommend. I recorded <a href="https://video.example/196">a '
                    "video</a> with my reply.</p><p>The treacherous turn does not need a discontinuity.</p>"))
    plain = Doc(id="gh", url="https://forum.example/posts/gh/notes", author="Soren",
                title="Notes on AI risk arguments", published_at=datetime(2025, 2, 2), html=(
                    f'<p>In July, Ben Garfinkel scrutinized the classic arguments in an <a href="{GARFINKEL}">'
                    "interview</a>, which I recommend.</p><p>Here are my notes.</p>"))
    add(con, reply, plain)
    run_pipeline(con, STAGES)
    got = {(r[0], r[3]): r[4] for r in rows(con)}
    assert got[("gg", GARFINKEL)] == "rebuts"
    assert got[("gg", "https://video.example/196")] == "cites"
    assert got[("gh", GARFINKEL)] == "cites"


def test_a_newsletter_summary_is_a_citation(con):
    """"(summarized by Rohin): This post argues ..." under a title that names the post: cites."""
    post = Doc(id="aaaaaaaaaaaaaaaa7", url="https://forum.example/posts/aaaaaaaaaaaaaaaa7/alignment-as-translation",
               title="Alignment as Translation", author="John Wentworth", published_at=datetime(2025, 1, 1),
               html="<p>Powerful AI systems move closer to omniscience.</p><p>Translation is the hard part.</p>")
    news = Doc(id="an94", url="https://forum.example/posts/an94/newsletter", author="Rohin",
               title="[AN #94]: Alignment as Translation between humans and machines",
               published_at=datetime(2025, 2, 1), html=(
                   f'<p><a href="{post.url}">Alignment as Translation</a> (John Wentworth) (summarized by '
                   "Rohin): Powerful AI systems move closer to omniscience, and translation is the hard "
                   "part.</p><p>Rohin's opinion: I disagree that translation is the hard part.</p>"))
    add(con, post, news)
    run_pipeline(con, STAGES)
    ResponsesStage(model_path=None).run(con)  # the hand-set rule (the learned model says rebuts)
    got = {(r[0], r[1]): r[4] for r in rows(con)}
    assert got[("an94", post.id)] == "cites"


def test_a_missing_or_corrupt_response_model_is_one_line(con, tmp_path):
    from crux.errors import StageError
    from crux.pipeline.response_model import TRAIN_COMMAND
    from crux.pipeline.responses import ResponsesStage

    add(con, TARGET, RESPONSE)
    run_pipeline(con, ["segment"])
    bad = tmp_path / "responses-lr-3.json"
    for content in (None, "{not json", '{"name": "x"}'):
        if content is not None:
            bad.write_text(content)
        with pytest.raises(StageError) as e:
            ResponsesStage(model_path=bad).run(con)
        msg = str(e.value)
        assert "\n" not in msg and str(bad) in msg and "scripts/train_responses.py" in msg
    assert "--build" in TRAIN_COMMAND
    assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 0


PROPOSAL = Doc(id="ccccccccccccccccc", url="https://forum.example/posts/ccccccccccccccccc/variolation",
               title="Taking initial viral load seriously", author="Zed Moss", published_at=datetime(2025, 1, 1),
               html="<p>Deliberate low-dose exposure would reduce deaths among the young.</p>"
                    "<p>Viral load at infection drives how severe the illness becomes.</p>")


def _question(title: str) -> Doc:
    return Doc(id="q1", url="https://forum.example/posts/q1/dose", title=title, author="Ana",
               published_at=datetime(2025, 2, 1), html=(
                   '<p><a href="https://forum.example/posts/ccccccccccccccccc/variolation">Zed Moss</a> made a '
                   "provocative proposal around deliberate low-dose exposure.</p>"
                   "<blockquote><p>Viral load at infection drives how severe the illness becomes.</p></blockquote>"
                   "<p>Then low-dose exposure would not be a safe way to reduce deaths among the young.</p>"))


@pytest.mark.parametrize(("title", "relation"), [("What is the impact of a low infectious dose?", "extends"),
                                                 ("Notes on the impact of a low infectious dose", "rebuts")])
def test_a_question_post_takes_its_target_up(con, title, relation):
    """A question post quoting a proposal and arguing with it, without a cue or a response title,
    takes the proposal up (extends); the same text under a plain title rebuts it."""
    add(con, PROPOSAL, _question(title))
    run_pipeline(con, STAGES)
    got = {r[2]: (r[4], json.loads(r[6]).get("relation_from")) for r in rows(con) if r[0] == "q1"}
    assert got["ccccccccccccccccc"][0] == relation, got


def test_a_followup_cue_in_the_paragraph_before_does_not_count(con):
    """ "As I explained previously, ..." ends one paragraph; a news link opens the next: only the
    author's own earlier post is followed up."""
    own = "https://myblog.example/2020/04/11/model-is-nonsense"
    news = "https://news.example/2020/04/17/model-critics"
    doc = Doc(id="z1", url="https://forum.example/posts/z1/thinking", title="My Covid thinking", author="Zvi",
              published_at=datetime(2025, 2, 1), html=(
                  f'<p>As I explained previously in <a href="{own}">my post on the model</a>, the model '
                  "does not make sense.</p>"
                  f'<p><a href="{news}">A takedown</a> has now been written of the same model.</p>'))
    add(con, doc)
    run_pipeline(con, STAGES)
    got = {r[3]: r[4] for r in rows(con) if r[0] == "z1"}
    assert got[own] == "extends" and got[news] == "cites", got
