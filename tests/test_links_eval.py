"""The debate-link label files: the real dev set is disjoint from the held-out set it is tuned beside."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT

EVAL = ROOT / "eval"
RELATIONS = {"rebuts", "supports", "extends", "cites"}


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVAL / name).read_text().splitlines() if line.strip()]


def _key(url: str | None) -> str | None:
    from crux.htmltext import url_key
    return url_key(url) if url else None


def test_dev_labels_are_well_formed():
    docs, claims = _jsonl("links_dev_documents.jsonl"), _jsonl("links_dev_claims.jsonl")
    assert len(docs) >= 30 and len(claims) >= 60
    assert all(d["relation"] in RELATIONS and d["source_url"] and d["target_url"] for d in docs)
    assert all(c["relation"] in ("attacks", "supports") and c["source_sentence"] and c["target_sentence"]
               for c in claims)
    sources = {_key(d["source_url"]) for d in docs}
    assert {_key(c["source_url"]) for c in claims} <= sources
    assert len({(_key(d["source_url"]), _key(d["target_url"])) for d in docs}) == len(docs)


def test_dev_set_is_disjoint_from_the_held_out_set():
    held = _jsonl("links_documents.jsonl") + _jsonl("links_claims.jsonl")
    held_docs = {_key(r["source_url"]) for r in held} | {_key(r.get("target_url")) for r in held} - {None}
    held_pairs = {(_key(r["source_url"]), _key(r.get("target_url"))) for r in held}
    dev = _jsonl("links_dev_documents.jsonl") + _jsonl("links_dev_claims.jsonl")
    assert not {_key(r["source_url"]) for r in dev} & held_docs
    assert not {(_key(r["source_url"]), _key(r.get("target_url"))) for r in dev} & held_pairs


_BLIND = {"dev2": ("links_documents.jsonl", "links_claims.jsonl", "links_dev_documents.jsonl",
                   "links_dev_claims.jsonl"),
          "dev3": ("links_documents.jsonl", "links_claims.jsonl", "links_dev_documents.jsonl",
                   "links_dev_claims.jsonl", "links_dev2_documents.jsonl", "links_dev2_claims.jsonl")}


@pytest.mark.parametrize("name", [f"links_{s}_{k}.jsonl" for s in _BLIND for k in ("documents", "claims")])
def test_blind_dev_sets_are_disjoint_from_the_sets_before_them(name):
    """dev 2 and dev 3 were labelled blind to the system; their sources are in no earlier set's pairs."""
    rows = _jsonl(name)
    assert rows
    others = [r for f in _BLIND[name.split("_")[1]] for r in _jsonl(f)]
    other_docs = {_key(r["source_url"]) for r in others} | {_key(r.get("target_url")) for r in others} - {None}
    assert not {_key(r["source_url"]) for r in rows} & other_docs
    if "documents" in name:
        assert all(r["relation"] in RELATIONS and r["source_url"] and r["target_url"] for r in rows)
        assert len({(_key(r["source_url"]), _key(r["target_url"])) for r in rows}) == len(rows)
    else:
        assert all(r["relation"] in ("attacks", "supports") and r["source_sentence"] and r["target_sentence"]
                   for r in rows)
        docs = {_key(r["source_url"]) for r in _jsonl(name.replace("claims", "documents"))}
        assert {_key(r["source_url"]) for r in rows} <= docs
