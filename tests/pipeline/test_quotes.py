"""Quoted passages: which link introduces each quote (crux.pipeline.quotes)."""

from __future__ import annotations

from crux.db import Doc, ensure_source, save_documents
from crux.pipeline.docview import load_docs
from crux.pipeline.quotes import LinkSite, attribute_quotes, inline_quotes, quote_blocks
from crux.pipeline.stance import normalise
from tests.pipeline import run_pipeline


def view(con, html: str):
    save_documents(con, ensure_source(con, "file", "test"), [Doc(id="q", title="Notes", html=html)])
    run_pipeline(con, ["segment"])
    return load_docs(con, ["q"])["q"]


def sites(doc, anchors: dict[str, str]) -> list[LinkSite]:
    """A LinkSite per anchor text, in the sentence that holds it."""
    out = []
    for key, anchor in anchors.items():
        i = next(k for k, s in enumerate(doc.sents) if normalise(anchor) in normalise(s.text))
        out.append(LinkSite(key, i, anchor))
    return sorted(out, key=lambda x: x.index)


def owners(doc, anchors: dict[str, str]) -> list[str | None]:
    got = attribute_quotes(doc, sites(doc, anchors))
    return [got.get(k, (None, False))[0] for k in range(len(quote_blocks(doc)))]


def test_the_link_in_the_lead_in_sentence_owns_the_quote(con):
    doc = view(con, "<p>Politics is seen as the mindkiller.</p><p>Alyssa Vance from rationalconspiracy argues:</p>"
                    "<blockquote><p>Yours probably won't make a dent.</p></blockquote><p>Is that true?</p>")
    assert owners(doc, {"wiki": "mindkiller", "vance": "rationalconspiracy"}) == ["vance"]


def test_a_name_in_the_lead_in_points_back_to_its_link(con):
    doc = view(con, "<p>I consulted the paper by Nick Bostrom and Anders Sandberg in which the term was coined.</p>"
                    "<p>The main argument is an application of regression to the mean.</p>"
                    "<p>Crucially, Bostrom et al. note:</p>"
                    "<blockquote><p>A similar problem arises when any one agent can spoil an initiative.</p></blockquote>")
    assert owners(doc, {"paper": "the paper by Nick Bostrom and Anders Sandberg",
                        "wiki": "regression to the mean"}) == ["paper"]


def test_an_unlinked_source_owns_its_quote_and_later_quotes_inherit(con):
    doc = view(con, "<p>Greatly inspired by Kaj's sequence on the mind.</p>"
                    "<p>This first paragraph of a recent SlateStarCodex post:</p>"
                    "<blockquote><p>Jaynes wrote a brilliant book with two minor flaws.</p></blockquote>"
                    "<p>Nice job capturing it. Time to look at the pdf of the study.</p>"
                    "<blockquote><p>The model assumes three measures stop the spread.</p></blockquote>"
                    "<p>That is absurd.</p><blockquote><p>The range is from 38,242 to 162,106.</p></blockquote>"
                    "<p>That is not how this works.</p>")
    assert owners(doc, {"kaj": "Kaj's sequence", "pdf": "the pdf"}) == [None, "pdf", "pdf"]


def test_inline_quotes_are_long_quotations_not_terms():
    text = ("They call it “one of the most promising and neglected ideas for combating covid-19,” "
            "unlike the “hard problem of consciousness”.")
    assert inline_quotes(text) == ["one of the most promising and neglected ideas for combating covid-19"]
