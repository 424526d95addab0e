"""The labelled files under eval/: well formed, split by document, and the sizes the notes claim."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[1] / "eval"


def _rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (EVAL / name).read_text().splitlines() if x.strip()]


@pytest.mark.parametrize(("name", "doc"), [("sentences.jsonl", "doc"),
                                           ("forecast_sentences.jsonl", "doc"),
                                           ("pairs_sentences.jsonl", "doc"),
                                           ("pairs_sentences2.jsonl", "doc"),
                                           ("pairs_documents.jsonl", "source")])
def test_every_document_is_in_one_split(name, doc):
    splits: dict[str, set[str]] = {}
    for r in _rows(name):
        splits.setdefault(r[doc], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert set().union(*splits.values()) == {"train", "dev", "test"}


def test_sentence_labels_are_complete():
    rows = _rows("sentences.jsonl")
    assert len(rows) >= 2500 and len({r["doc"] for r in rows}) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["claim"] in (0, 1) and r["forecast"] in (0, 1) and r["text"]
        if r["forecast"]:
            assert r["form"] in ("numeric", "hedged", "unhedged"), r["id"]
            assert r["probability"] is None or 0 <= r["probability"] <= 1, r["id"]
        if r["in_quote"]:
            assert r["claim"] == 0, r["id"]  # other people's words are never the author's claims
    forms = Counter(r["form"] for r in rows if r["forecast"])
    assert sum(forms.values()) >= 300 and forms["numeric"] >= 10


def test_third_draw_is_forecast_labels_on_new_sentences_of_the_same_splits():
    """``forecast_sentences.jsonl`` (the ``--third`` draw): forecast labels only, no sentence
    an earlier draw took, and every document in the split ``sentences.jsonl`` gives it."""
    first = _rows("sentences.jsonl")
    third = _rows("forecast_sentences.jsonl")
    assert len(third) >= 1500 and not {r["id"] for r in third} & {r["id"] for r in first}
    assert len({r["id"] for r in third}) == len(third)
    split = {r["doc"]: r["split"] for r in first}
    for r in third:
        assert r["draw"] == "third" and r["claim"] is None and r["forecast"] in (0, 1), r["id"]
        assert split.get(r["doc"], r["split"]) == r["split"], r["id"]
        if r["forecast"]:
            assert r["form"] in ("numeric", "hedged", "unhedged"), r["id"]
            assert r["probability"] is None or 0 <= r["probability"] <= 1, r["id"]
        else:
            assert r["form"] is None and r["event"] is None, r["id"]
    assert sum(r["forecast"] for r in first + third) >= 500


def test_second_passes_cover_labelled_ids():
    for first, second in (("sentences.jsonl", "sentences_agreement.jsonl"),
                          ("forecast_sentences.jsonl", "forecast_sentences_agreement.jsonl"),
                          ("pairs_sentences.jsonl", "pairs_sentences_agreement.jsonl"),
                          ("pairs_sentences2.jsonl", "pairs_sentences2_agreement.jsonl"),
                          ("pairs_documents.jsonl", "pairs_documents_agreement.jsonl")):
        ids = {r["id"] for r in _rows(first)}
        again = [r["id"] for r in _rows(second)]
        assert again and set(again) <= ids and len(set(again)) == len(again)


def test_pair_labels_use_the_guideline_values():
    assert {r["relation"] for r in _rows("pairs_documents.jsonl")} <= {
        "rebuts", "supports", "extends", "cites"}
    assert {r["relation"] for r in _rows("pairs_sentences.jsonl")} == {
        "attacks", "supports", "neither"}
    assert {r["relation"] for r in _rows("pairs_sentences2.jsonl")} == {
        "attacks", "supports", "neither"}


def test_nearest_pairs_are_the_pool_labelled_and_never_held_out():
    """``pairs_sentences2.jsonl`` labels its pool in pool order, each row once, with a bool
    ``unsure``, and no source or target is a post of the held-out link set."""
    pool, rows = _rows("pairs_sentences2_pool.jsonl"), _rows("pairs_sentences2.jsonl")
    assert [r["id"] for r in rows] == [r["id"] for r in pool][: len(rows)]
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(isinstance(r["unsure"], bool) and r["draw"] == "nearest" for r in rows)
    held = {"lw:" + seg for r in _rows("links_documents.jsonl")
            for u in (r["source_url"], r["target_url"]) for seg in u.split("/") if len(seg) == 17}
    assert not held & ({r["doc"] for r in pool} | {r["target_doc"] for r in pool})


def test_forecast_pairs_are_split_by_both_documents_and_complete():
    """Every pair's split follows its two documents' (sha1) splits, mixed pairs are absent,
    ``same_event`` is set exactly when both sentences are forecasts, and the counts are the
    notes' (eval/README.md, "Same-event forecast pairs")."""
    import hashlib

    def split_of(doc: str) -> str:  # eval/sample_sentences.split_of, without importing eval
        h = int(hashlib.sha1(doc.encode()).hexdigest(), 16) % 10
        return "test" if h >= 8 else "train"

    rows = _rows("forecast_pairs.jsonl")
    assert len({r["pair_id"] for r in rows}) == len(rows) == 960
    for r in rows:
        assert r["a_doc"] != r["b_doc"], r["pair_id"]
        assert split_of(r["a_doc"]) == split_of(r["b_doc"]) == r["split"], r["pair_id"]
        both = r["a_forecast"] == r["b_forecast"] == 1
        assert (r["same_event"] in (0, 1)) if both else r["same_event"] is None, r["pair_id"]
    same = Counter(r["split"] for r in rows if r["same_event"] == 1)
    assert same == {"train": 12, "test": 5}
    assert sum(r["a_forecast"] == r["b_forecast"] == 1 for r in rows) == 725
