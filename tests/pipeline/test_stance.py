"""The cue phrases of crux.pipeline.stance, one case per row (no model, no store)."""

from __future__ import annotations

import pytest

from crux.pipeline import stance


@pytest.mark.parametrize(("title", "cue"), [
    ("Contra Binder on far-UVC and filtration", ("contra", "Binder on far-UVC and filtration")),
    ("Re: How accurate are markets?", "re:"),
    ("In defense of forecasting grants", "in defense of"),
    ("A long reply to Ben Garfinkel on AI risk", ("reply to", "Ben Garfinkel on AI risk")),
    ("A Proof Against Oracle AI", ("against", "Oracle AI")),
    ("Brief Response to Suspended Reason", "response to"),
    ("On the political feasibility of stopping AI", None),
    ("Sleeper agent results", None),
    ("Thoughts about forecasting", None),
    ("Ineffective Response to COVID-19 and Risk Compensation", None),
])
def test_title_response(title, cue):
    got = stance.title_response(title)
    if cue is None or isinstance(cue, tuple):
        assert got == cue
    else:
        assert got is not None and got[0] == cue


@pytest.mark.parametrize(("text", "relation"), [
    ("I strongly disagree with this.", "attacks"),
    ("Garnett is right that the list price overstates what a school pays.", "supports"),
    ("Fair point about the track records, but young records argue for waiting.", "attacks"),
    ("While Ostrander is right that HEPA is cheap, the lamp figure is not.", "attacks"),
    ("Isn't that exactly the problem?", "attacks"),
    ("That is not how any of this works.", "attacks"),
    ("Which funders?", None),
    ("Is it impossible for a smart person to make a dent?", None),
    ("The lamps were installed in March.", None),
])
def test_sentence_stance(text, relation):
    assert stance.sentence_stance(text)[0] == relation


@pytest.mark.parametrize(("text", "relation"), [
    ("This builds on Raue's defence and disagrees with parts of it.", "extends"),
    ("I mostly agree with Priya.", "supports"),
])
def test_link_relation(text, relation):
    assert stance.link_relation(text)[0] == relation


@pytest.mark.parametrize(("text", "title", "named", "found"), [
    ("My last post analyzed the growth rates in ten countries.", None, None, True),
    ("This is a follow-up to my post on masks.", None, None, True),
    ("3 weeks ago I asked “What happens during a recession anyway?”", None, None, True),
    ("Saturday was the event.", "Blog Post Day II Retrospective", "Blog Post Day II", True),
    ("This post was inspired by orthonormal's post and the discussion that followed.", None, None, True),
    ("I commented recently that we used to celebrate progress.", None, None, True),
    ("I will use the model I made for my previous question post to explain it.", None, None, True),
    ("As I explained previously, the model doesn't make sense.", None, None, True),
    ("I previously claimed that most apparent dilemmas are stag hunts.", None, None, True),
    ("This post is sort of an elaboration of what Vaniver talked about.", None, None, True),
    ("Saturday was the event.", "Blog Post Day III", "Blog Post Day Retrospective", False),
    ("In my recent post, Charlie left a comment about decisions.", None, None, False),
    ("Previously: Covid-19 thoughts, part one.", None, None, False),
    ("The author previously worked at a bank.", None, None, False),
])
def test_followup_cue(text, title, named, found):
    assert bool(stance.followup_cue(text, title, named)) is found


@pytest.mark.parametrize(("text", "cue"), [
    ("This is a response to Binder's post.", "a response to"),
    ("Hi, I'm working on a response to ML projects on IDA, and a question.", None),
])
def test_response_cue(text, cue):
    assert stance.response_cue(text) == cue


@pytest.mark.parametrize(("text", "title", "found"), [
    ("In this post I review the 2010 book by Ayres.", None, True),
    ("", 'Review of "Lifecycle Investing"', True),
    ("(brief review here)", None, False),
    ("I reviewed the literature.", None, False),
])
def test_review_cue(text, title, found):
    assert bool(stance.review_cue(text, title)) is found


@pytest.mark.parametrize(("text", "found"), [
    ("Orrin writes that decision-makers almost never read forecasting platforms.", True),
    ("He concludes that schools should buy filters first.", True),
    ("Ostrander expects prices to halve within five years, and I think that is too slow.", False),
    ("Classrooms are not a bad fit either.", False),
])
def test_reporting(text, found):
    assert stance.reporting(text) is found


@pytest.mark.parametrize(("text", "meta", "ref"), [
    ("Thanks to Ana for comments on a draft.", True, False),
    ("Epistemic status: exploratory.", True, False),
    ("Smith, J. (2019). Filtration in schools.", False, True),
    ("See https://example.org/report for the data.", False, True),
    ("Filters are cheaper than lamps per classroom.", False, False),
])
def test_meta_text_and_references(text, meta, ref):
    assert stance.meta_text(text) is meta
    assert stance.reference(text) is ref


@pytest.mark.parametrize(("text", "work"), [
    ('In the paper called "Scaling Laws for Lamps" the authors argue for UVC.', "Scaling Laws for Lamps"),
    ("In a post titled “Against Filters” she argued the opposite.", "Against Filters"),
    ("The paper argues for UVC.", None),
])
def test_named_work(text, work):
    assert stance.named_work(text) == work


@pytest.mark.parametrize(("text", "found"), [
    ("Summarized by Rohin in the newsletter.", True),
    ("I summarised the argument above.", False),
])
def test_summary_cue(text, found):
    assert stance.summary_cue(text) is found


@pytest.mark.parametrize(("quote", "sentence", "low", "high"), [
    ("Noise", "Noise is the hidden cost of filtration.", 0.0, 0.75),  # one word is not contained
    ("Noise is the hidden cost of filtration", "Noise is the hidden cost of filtration.", 1.0, 1.0),
])
def test_quote_similarity(quote, sentence, low, high):
    assert low <= stance.quote_similarity(quote, sentence) <= high
