"""Claim links: quote-reply, concession, paraphrase and replies, and the demo corpus's debates.

Unit cases use small hand-built documents; the demo corpus is run once for the module.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from crux.db import Doc, ensure_source, save_documents
from crux.pipeline.quotes import quote_groups
from tests.pipeline import run_pipeline

STAGES = ["segment", "responses", "claim_links"]
T = "https://blog.example/p/far-uvc-costs"
TARGET = Doc(id="t", url=T, title="Far-UVC versus filtration", author="Hal Ostrander",
             published_at=datetime(2025, 1, 1), html=(
                 "<p>Ostrander priced far-UVC based on the K-222 lamp at $1,900 per fixture.</p>"
                 "<p>Far-UVC only makes sense in crowded rooms with low ceilings.</p>"
                 "<p>Schools should buy filters first and consider far-UVC later.</p>"))
RESP = Doc(id="r", url="https://forum.example/p/contra", title="Contra Ostrander on far-UVC",
           author="Dana Garnett", published_at=datetime(2025, 2, 1), html=(
               f'<p>Ostrander recently wrote up an argument (<a href="{T}">his post</a>) that far-UVC is '
               "expensive.</p>"
               "<p>The cheaper Beacon B-30 lamp costs $450, a quarter of the K-222 price per fixture.</p>"
               "<p>While Ostrander is right that far-UVC shines in crowded rooms with low ceilings, "
               "classrooms are not a bad fit either.</p>"))


def add(con, *docs):
    save_documents(con, ensure_source(con, "file", "test"), list(docs))


def links(con, doc):
    return con.execute("SELECT s.text, coalesce(t.text, l.target_text), l.relation, l.method FROM claim_links l "
                       "JOIN sentences s ON s.id = l.source_sentence_id LEFT JOIN sentences t ON "
                       "t.id = l.target_sentence_id WHERE l.source_document_id = ?", [doc]).fetchall()


def test_paraphrase_and_concession(con):
    add(con, TARGET, RESP)
    run_pipeline(con, STAGES)
    got = links(con, "r")
    conc = [g for g in got if g[3] == "concession"]
    assert conc and conc[0][2] == "attacks" and "low ceilings" in conc[0][1]


def test_paraphrase_repricing(con):
    # The repricing sentence is the K-222 claim's second-best match (the opening sentence is the
    # best): near-mutual paraphrases with figures count.
    add(con, TARGET, RESP)
    run_pipeline(con, STAGES)
    got = links(con, "r")
    para = [g for g in got if "B-30" in g[0]]
    assert para and "K-222" in para[0][1] and para[0][3] == "paraphrase"


def test_quote_groups_pair_quote_with_answer(con):
    doc = Doc(id="q", title="Re: x", html="<p>Intro.</p><blockquote><p>A claim to answer.</p></blockquote>"
              "<p>I strongly disagree with this. Here is why.</p><blockquote><p>Second.</p></blockquote>"
              "<p>Agreed.</p>")
    add(con, doc)
    run_pipeline(con, ["segment"])
    from crux.pipeline.docview import load_docs
    groups = quote_groups(load_docs(con, ["q"])["q"])
    assert [[s.text for s in q] for q, _ in groups] == [["A claim to answer."], ["Second."]]
    assert groups[0][1][0].text == "I strongly disagree with this."


def test_comment_answers_parent_claim(con):
    c = Doc(id="c", kind="comment", parent_id="t", post_id="t", author="Jack", html=(
        "<p>I don't think that's right: schools should price both options for each room before "
        "buying filters first.</p>"))
    add(con, TARGET, c)
    run_pipeline(con, STAGES)
    got = links(con, "c")
    assert got and got[0][2] == "attacks" and "filters first" in got[0][1] and got[0][3] == "reply"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect
    from crux.demo import DEMO_DIR, DEMO_SOURCES
    con = connect(str(tmp_path_factory.mktemp("demo") / "demo.duckdb"))
    for path in iter_files([DEMO_DIR]):
        ingest_file(con, path, source=DEMO_SOURCES.get(path.name))
    run_pipeline(con, STAGES)
    yield con
    con.close()


def test_demo_debates_linked_at_both_levels(demo_db):
    from pathlib import Path

    from crux.htmltext import url_key
    expected = json.loads((Path(__file__).parents[2] / "eval" / "demo-expected.json").read_text())
    ids = dict(demo_db.execute("SELECT url_key, id FROM documents").fetchall())
    pred = {(r[0], r[1]): r[2] for r in demo_db.execute(
        "SELECT source_id, coalesce(target_id, target_key), relation FROM responses").fetchall()}
    gold = {(ids.get(url_key(r["source"])), ids.get(url_key(r["target"]), url_key(r["target"]))): r["relation"]
            for r in expected["responses"]}
    gpos = {k for k, v in gold.items() if v != "cites"}
    found = {k for k in gpos if pred.get(k, "cites") != "cites"}
    assert len(found) / len(gpos) >= 0.85
    judged = {s for s, _ in gold}
    ppos = {k for k, v in pred.items() if v != "cites" and k[0] in judged}
    assert len(ppos & gpos) / len(ppos) >= 0.85
    # the quoted passages of the outside paper are answered, target_sentence_id null
    assert demo_db.execute("SELECT count(*) FROM claim_links WHERE target_document_id IS NULL "
                           "AND method = 'quote-reply'").fetchone()[0] >= 3
    n = demo_db.execute("SELECT count(DISTINCT source_document_id) FROM claim_links").fetchone()[0]
    assert n >= 25


def test_demo_claim_links_recall(demo_db):
    """Claim links of the demo corpus against its labels (the eval's matching; segment +
    responses + claim_links only, so the claims stage does not help here)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parents[2]))
    from eval.links_eval import score_claims
    expected = json.loads((Path(__file__).parents[2] / "eval" / "demo-expected.json").read_text())
    got = score_claims(demo_db, expected["claim_links"])
    assert got["recall"] >= 0.6 and got["precision"] >= 0.4, (got["recall"], got["precision"])
    assert got["found_by_method"].get("quote-reply", 0) >= 10 and got["found_by_method"].get("reply", 0) >= 5


def test_bare_stance_then_argument_both_linked(con):
    """Quote, then "I strongly disagree with this." and the argument: both sentences answer it."""
    resp = Doc(id="r2", url="https://forum.example/p/reply2", title="Reply to Ostrander on far-UVC",
               author="Dana Garnett", published_at=datetime(2025, 2, 2), html=(
                   f'<p>A response to <a href="{T}">Ostrander\'s post</a>, point by point.</p>'
                   "<blockquote><p>Schools should buy filters first and consider far-UVC later.</p></blockquote>"
                   "<p>I strongly disagree with this. Classrooms with low ceilings get more clean air per "
                   "dollar from a single lamp than from two purifiers.</p>"
                   "<blockquote><p>Far-UVC only makes sense in crowded rooms with low ceilings.</p></blockquote>"
                   "<p>Agreed. Crowded rooms are where the lamps pay for themselves fastest.</p>"))
    add(con, TARGET, resp)
    run_pipeline(con, STAGES)
    got = {(g[0], g[1]): (g[2], g[3]) for g in links(con, "r2")}
    first = "Schools should buy filters first and consider far-UVC later."
    assert got[("I strongly disagree with this.", first)] == ("attacks", "quote-reply")
    arg = [k for k in got if k[0].startswith("Classrooms with low ceilings")]
    assert arg and arg[0][1] == first and got[arg[0]] == ("attacks", "quote-reply")
    agreed = [k for k in got if k[0].startswith("Crowded rooms are where")]
    assert agreed and "low ceilings" in agreed[0][1] and got[agreed[0]][0] == "supports"


def test_quoted_heading_stands_for_its_section(con):
    tgt = Doc(id="h", url="https://blog.example/p/noise", title="Filters in classrooms", author="Hal Ostrander",
              published_at=datetime(2025, 1, 1), html=(
                  "<h2>Noise</h2><p>Noise is the hidden cost of filtration in every classroom I visited.</p>"
                  "<h2>Price</h2><p>Filters cost less than lamps per unit of clean air.</p>"))
    c = Doc(id="hc", kind="comment", parent_id="h", post_id="h", author="Jack", html=(
        "<blockquote><p>Noise</p></blockquote><p>This matches what I saw: the purifiers were always off.</p>"))
    add(con, tgt, c)
    run_pipeline(con, STAGES)
    got = links(con, "hc")
    assert got and got[0][1].startswith("Noise is the hidden cost") and got[0][3] == "quote-reply"


def test_comment_answers_the_post_its_thread_responds_to(con):
    """A comment on a reply, arguing with the original post: linked to the original (strict)."""
    c = Doc(id="rc", kind="comment", parent_id="r", post_id="r", author="Jack", html=(
        "<p>Nice post.</p><p>Far-UVC really only makes sense in crowded rooms with low ceilings, "
        "as the original post said.</p>"))
    add(con, TARGET, RESP, c)
    run_pipeline(con, STAGES)
    rows = con.execute("SELECT target_document_id, t.text FROM claim_links l JOIN sentences t ON "
                       "t.id = l.target_sentence_id WHERE source_document_id = 'rc'").fetchall()
    assert ("t", "Far-UVC only makes sense in crowded rooms with low ceilings.") in rows


def test_eval_matching_is_tolerant_and_can_fail():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parents[2]))
    from eval.links_eval import covers, same_sentence
    assert same_sentence("Forecasting grants  have absorbed a lot of money.", "forecasting grants have absorbed "
                         "a lot of money")
    assert same_sentence("I strongly disagree with this point entirely.", "I strongly disagree with this point")
    assert not same_sentence("Calibration training works.", "Calibration training does not work.")
    quote = "If forecasting were working you would see money on teams. We have seen very little of this."
    assert covers(quote, "We have seen very little of this.")
    assert not covers("We have seen very little of this.", quote[:40] + " and more")


PAPER = "https://northwind-ai.example/papers/model"
MODEL_POST = Doc(id="mp", url="https://forum.example/p/model-is-wrong", title="Against the projection model",
                 author="Zvi", published_at=datetime(2025, 4, 1), html=(
                     f'<p>Time to look at <a href="{PAPER}">the paper</a>. Here is how the model works:</p>'
                     "<blockquote><p>Days with three or four distancing measures were counted as zero growth "
                     "in the death rate.</p></blockquote>"
                     "<p>Is it true that the model is wrong about Wuhan?</p>"
                     "<p>The paper was published in March.</p><p>It has been shared widely since then.</p>"
                     "<p>Several governments cite it in their plans.</p><p>The authors work in Seattle.</p>"
                     "<p>Their website shows a chart for every state.</p>"
                     "<p>I don't think three half measures stop all growth in the death rate, and nothing in "
                     "Wuhan shows that they do.</p>"))


def test_answers_further_down_the_post_are_linked(con):
    """A quote of an outside paper is argued with seven sentences later: linked (quote-answer)."""
    add(con, MODEL_POST)
    run_pipeline(con, STAGES)
    got = links(con, "mp")
    far = [g for g in got if g[0].startswith("I don't think three half measures")]
    assert far and far[0][2] == "attacks" and far[0][3] == "quote-answer" and "zero growth" in far[0][1]


def test_a_bare_question_answers_nothing(con):
    """A question right after the quote, even one with a disagreement phrase in it, is not an attack."""
    add(con, MODEL_POST)
    run_pipeline(con, STAGES)
    got = links(con, "mp")
    assert got and not [g for g in got if g[0].startswith("Is it true that")]


def test_shared_text_is_not_a_paraphrase(con):
    """The same bibliography entry in both posts is not one answering the other."""
    ref = "<p>Welch, D., Buonanno, M., Grilj, V. et al. Far-UVC light controls airborne disease (2018).</p>"
    tgt = Doc(id="rt", url="https://blog.example/p/uvc", title="Far-UVC everywhere", author="Roko",
              published_at=datetime(2025, 1, 1), html="<p>Far-UVC lamps should be installed in every shop.</p>" + ref)
    resp = Doc(id="rr", url="https://blog.example/p/uvc-premature", title="Contra Roko on far-UVC", author="Kirby",
               published_at=datetime(2025, 2, 1), html=(
                   f'<p>A response to <a href="{tgt.url}">Roko\'s post</a>.</p>'
                   "<p>I disagree: far-UVC lamps should not be installed in shops before safety trials.</p>" + ref))
    add(con, tgt, resp)
    run_pipeline(con, STAGES)
    got = links(con, "rr")
    assert got and not [g for g in got if g[0].startswith("Welch")]


ARGUED = Doc(id="aq", url="https://forum.example/posts/aq/notes-on-a-talk", title="Notes on a talk about engineering",
             author="Mira", published_at=datetime(2025, 3, 1), html=(
                 "<p>Here is what the speaker said, with my comments.</p>"
                 "<blockquote><p>To find the definition of conceptual engineering, look up the definition "
                 "of engineering.</p></blockquote>"
                 "<p>I strongly disagree with this. Engineering starts from a problem, not from a definition.</p>"
                 "<blockquote><p>Conceptual engineering is the design of concepts.</p></blockquote>"
                 "<p>That is wrong as well, because nobody designs a concept from scratch in any field I know.</p>"
                 "<p>The weather was fine on the day of the talk.</p>"))
QUOTED_ONCE = Doc(id="qo", url="https://forum.example/posts/qo/notes", title="Notes on engineering",
                  author="Mira", published_at=datetime(2025, 3, 1), html=(
                      "<p>A definition I like:</p>"
                      "<blockquote><p>Engineering is the use of science to solve practical problems.</p></blockquote>"
                      "<p>I strongly disagree with this. Many engineers use no science at all.</p>"))


def test_unlinked_quotes_argued_with_are_linked(con):
    """A post that argues with two quotes of an unlinked talk: each answer is linked to its quote,
    with no target document; a post that answers a single quote gets no such links."""
    add(con, ARGUED, QUOTED_ONCE)
    run_pipeline(con, STAGES)
    got = links(con, "aq")
    assert con.execute("SELECT count(*) FROM responses WHERE source_id = 'aq'").fetchone()[0] == 0
    answers = {g[0]: g for g in got}
    first = answers["I strongly disagree with this."]
    assert first[2] == "attacks" and first[3] == "quote-reply" and "look up the definition" in first[1]
    second = answers["That is wrong as well, because nobody designs a concept from scratch in any field I know."]
    assert second[2] == "attacks" and "design of concepts" in second[1]
    assert "The weather was fine on the day of the talk." not in answers
    assert con.execute("SELECT count(*) FROM claim_links WHERE source_document_id = 'aq' "
                       "AND target_document_id IS NOT NULL").fetchone()[0] == 0
    assert links(con, "qo") == []
