"""Claim features, kinds, the shipped classifier with the real embedding model, and ClaimsStage."""

from __future__ import annotations

import pytest

from crux.pipeline.claims import ClaimModel, ClaimsStage, claim_kind, is_candidate
from crux.pipeline.features import FEATURE_NAMES, baseline_is_claim, claim_features


@pytest.fixture(scope="module")
def nlp():
    from crux.pipeline.features import load_nlp
    return load_nlp()


def _f(nlp, text: str, block: str = "paragraph") -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, claim_features(nlp(text), block), strict=True))


def test_features_of_typical_sentences(nlp):
    f = _f(nlp, "I think we should stop funding this program.")
    assert f["stance_verb"] and f["first_sg_stance"] and f["should_must"] and f["modal"]
    f = _f(nlp, "Filtration is cheaper than far-UVC in small rooms.")
    assert f["comparative"] and f["evaluative_adj"] and f["copula_root"] and not f["first_sg"]
    f = _f(nlp, "What are you putting off?")
    assert f["question"] and f["second_person"]
    f = _f(nlp, "In this post I will describe two examples.")
    assert f["meta"]
    f = _f(nlp, "Get rapid feedback on your decisions.")
    assert f["imperative"]
    f = _f(nlp, "I tested a few microphones last week.")
    assert f["past_first_person"] and not f["modal"]
    assert len(claim_features(nlp("Short."))) == len(FEATURE_NAMES)


@pytest.mark.parametrize(("text", "kind"), [
    ("We should stop funding forecasting platforms.", "recommendation"),
    ("Prices will keep falling through 2030.", "prediction"),
    ("I think most people never read the sequences.", "stance"),
    ("Dehumanisation leads to errors of interpretation.", "causal"),
    ("Filtration is cheaper than far-UVC.", "evaluation"),
    ("Mustafa Suleyman is the CEO of Microsoft AI.", "factual"),
])
def test_kinds(nlp, text, kind):
    assert claim_kind(nlp(text)) == kind


def test_candidates_and_baseline(nlp):
    assert not is_candidate("Filtration is cheaper.", in_quote=True)
    assert not is_candidate("Why filtration is cheaper", "heading")
    assert not is_candidate("Is filtration cheaper?")
    assert is_candidate("Filtration is cheaper.")
    assert baseline_is_claim(nlp("We tried it."))
    assert not baseline_is_claim(nlp("The cat sat on the mat."))


def test_shipped_model_loads():
    m = ClaimModel.load()
    assert m.name == "claims-lr-2" and 0 < m.threshold < 1
    assert len(m.coef) == len(m.mean) == len(m.scale) == len(FEATURE_NAMES) + 384


SENTS = [
    # (id, block kind, text, in_quote)
    ("d1:s0", "heading", "Why filtration beats far-UVC", False),
    ("d1:s1", "paragraph", "I think filtration is clearly cheaper than far-UVC for small rooms.", False),
    ("d1:s2", "paragraph", "We should stop funding forecasting platforms that nobody uses.", False),
    ("d1:s3", "paragraph", "Forecasting is obviously a waste of money and we should stop funding it.", True),
    ("d1:s4", "paragraph", "What do you think?", False),
    ("d2:s0", "paragraph", "Thanks to Alice and Bob for comments on a draft of this post.", False),
    ("d2:s1", "paragraph", "In this post, I will describe two experiments.", False),
    ("d2:s2", "paragraph", "Most self-help books overpromise, because grand theories sell better than lists of tips.", False),
]


def _seed(con):
    con.execute("INSERT INTO documents (id, kind, content_hash) VALUES ('d1', 'post', 'h1'), "
                "('d2', 'post', 'h2')")
    for pos, (sid, kind, text, quote) in enumerate(SENTS):
        doc = sid.split(":")[0]
        bid = f"{doc}:b{pos}"
        con.execute("INSERT INTO blocks (id, document_id, position, kind, text) VALUES (?, ?, ?, ?, ?)",
                    [bid, doc, pos, kind, text])
        con.execute('INSERT INTO sentences (id, document_id, block_id, position, text, start, "end", '
                    "in_quote) VALUES (?, ?, ?, ?, ?, 0, ?, ?)", [sid, doc, bid, pos, text, len(text), quote])
    con.execute("INSERT INTO _stage_state VALUES ('segment', 'd1', 'h1', '1', now()), "
                "('segment', 'd2', 'h2', '1', now())")


def test_stage_with_the_real_models_twice_same_rows(con):
    """The shipped classifier and the real all-MiniLM-L6-v2 model, end to end."""
    _seed(con)
    first = ClaimsStage().run(con)
    rows = con.execute("SELECT sentence_id, score, kind, model FROM claims ORDER BY sentence_id").fetchall()
    ids = {r[0] for r in rows}
    assert {"d1:s1", "d1:s2", "d2:s2"} <= ids
    assert ids.isdisjoint({"d1:s0", "d1:s3", "d1:s4", "d2:s0", "d2:s1"})  # heading, quote, question, meta
    kinds = {r[0]: r[2] for r in rows}
    assert kinds["d1:s2"] == "recommendation"
    assert all(r[3] == "claims-lr-2" and 0 <= r[1] <= 1 for r in rows)
    assert first.rows_out == len(rows) and first.docs == 2
    second = ClaimsStage().run(con)
    assert second.docs == 0 and second.rows_out == 0
    assert con.execute("SELECT sentence_id, score, kind, model FROM claims ORDER BY sentence_id").fetchall() == rows


def test_quoted_sentences_are_never_claims(con):
    _seed(con)
    con.execute("UPDATE sentences SET in_quote = true")
    assert ClaimsStage().run(con).rows_out == 0
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM sentences").fetchone()[0] == len(SENTS)


def test_claim_vectors_are_stored_for_the_embed_stage(con, monkeypatch):
    """The claims stage stores the vectors of the claims it keeps (item_kind 'claim', the embed
    stage's model and content hash); the embed stage reuses them and encodes only the rest."""
    import numpy as np

    from crux.htmltext import content_hash
    from crux.pipeline import embed

    _seed(con)
    result = ClaimsStage().run(con)
    assert f"{result.rows_out} claim vectors stored" in result.note
    claims = [r[0] for r in con.execute("SELECT sentence_id FROM claims ORDER BY 1").fetchall()]
    stored = con.execute("SELECT e.item_id, e.model, e.content_hash, e.vector, s.text FROM embeddings e "
                         "JOIN sentences s ON s.id = e.item_id WHERE e.item_kind = 'claim' "
                         "ORDER BY 1").fetchall()
    assert [r[0] for r in stored] == claims
    assert all(r[1] == embed.model_name() and r[2] == content_hash(r[4]) for r in stored)
    fresh = embed.encode([r[4] for r in stored])
    assert np.abs(np.asarray([r[3] for r in stored], dtype=np.float32) - fresh).max() < 1e-5
    calls: list[str] = []
    real = embed.encode
    monkeypatch.setattr(embed, "encode", lambda texts, **kw: calls.extend(texts) or real(texts, **kw))
    embed.EmbedStage().run(con)
    assert calls == [SENTS[3][2]]  # the quote only: the claims' vectors were reused
    after = con.execute("SELECT item_id, vector FROM embeddings WHERE item_kind = 'claim' "
                        "ORDER BY 1").fetchall()
    assert after == [(r[0], r[3]) for r in stored]
    # a re-run of the claims stage replaces its vectors, not adds to them
    ClaimsStage().run(con, force=True)
    assert con.execute("SELECT count(*) FROM embeddings WHERE item_kind = 'claim'").fetchone()[0] == len(claims)


def test_no_claim_vectors_stored_for_another_embed_model(con, monkeypatch):
    monkeypatch.setenv("CRUX_EMBED_MODEL", "some-other-model")
    _seed(con)
    result = ClaimsStage().run(con)
    assert result.rows_out >= 3 and result.note == ""
    assert con.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_parsing_beside_the_encoder_changes_nothing(monkeypatch):
    """A thread parses the chunks while the encoder embeds them: the scores, kinds and vectors
    are those of one sequential pass."""
    import numpy as np

    import crux.pipeline.claims as claims
    from crux.pipeline.claims import ClaimScorer

    texts = [f"Grant {i} should go to forecasting because decision-makers read the forecasts." if i % 3
             else f"I think policy {i} will fail by 2030." for i in range(22)]
    scorer = ClaimScorer(batch_size=4)
    monkeypatch.setattr(claims, "PARSE_AHEAD_BATCHES", 1)   # six chunks, parsed beside
    ahead, va = scorer.score_with_vectors(texts)
    monkeypatch.setattr(claims, "PARSE_AHEAD_BATCHES", 100)  # one chunk: sequential
    seq, vs = scorer.score_with_vectors(texts)
    assert ahead == seq and sorted(va) == sorted(vs) == list(range(22))
    assert all(np.array_equal(va[i], vs[i]) for i in va)
