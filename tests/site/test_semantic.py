"""Semantic search (/semantic): the snapshot's vectors, the query encoded by the site's plugin
with the real model, in a real Datasette (``crux serve``) and a real browser."""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import quote, urlencode

import numpy as np

from .conftest import screenshot

# A demo claim (src/crux/data/demo) and a rewording of it that shares few of its words
EXPECTED = ("For a typical classroom, filtration delivers clean air at less than half the cost of "
            "far-UVC over five years.")
PARAPHRASE = ("In a school room, air purifiers clean the air for under half the price of ultraviolet "
              "lamps, over a five-year span")


def _search(server, q: str) -> dict:
    # the first query loads the model in the server: slow on a loaded machine
    return json.loads(server.get("/semantic.json?" + urlencode({"q": q}), timeout=240))


def test_snapshot_carries_the_claim_and_document_vectors(corpus):
    import duckdb

    db, snap = corpus
    sq = sqlite3.connect(snap)
    meta = dict(sq.execute("SELECT key, value FROM _meta").fetchall())
    from crux.pipeline import embed

    model = embed.model_name()  # the packaged model by the default encoder path
    assert meta["vectors_model"] == model and meta["vectors_dim"] == "384"
    kinds = dict(sq.execute("SELECT item_kind, count(*) FROM vectors GROUP BY 1").fetchall())
    claims = sq.execute("SELECT count(*) FROM claims").fetchone()[0]
    assert set(kinds) == {"claim", "document"} and 0 < kinds["claim"] <= claims
    kind, item, blob = sq.execute("SELECT * FROM vectors WHERE item_kind = 'claim' LIMIT 1").fetchone()
    sq.close()
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT vector FROM embeddings WHERE item_kind = ? AND item_id = ? "
                         "AND model = ?", [kind, item, model]).fetchone()[0]
    con.close()
    assert np.array_equal(np.frombuffer(blob, dtype="<f4"), np.asarray(stored, dtype=np.float32))


def test_a_paraphrase_finds_its_claim(server, corpus):
    sq = sqlite3.connect(corpus[1])
    sid, doc, text, position = sq.execute(
        "SELECT c.sentence_id, c.document_id, c.text, s.position FROM claims c "
        "JOIN sentences s ON s.id = c.sentence_id JOIN vectors v ON v.item_id = c.sentence_id "
        "WHERE length(c.text) > 60 ORDER BY c.sentence_id LIMIT 1").fetchone()
    sq.close()
    got = _search(server, text)
    top = got["claims"][0]
    assert top["sentence_id"] == sid and top["score"] > 0.99, (text, top)
    assert top["url"] == f"/doc/{quote(doc, safe='')}#s-{position}"
    from crux.pipeline import embed
    from crux.site.semantic import query_model

    assert got["model"] == embed.model_name() and got["documents"]
    assert got["query_model"] == query_model(embed.model_name())  # the query_encoder default
    # by meaning, not words: a paraphrase with few shared words
    got = _search(server, PARAPHRASE)
    assert got["claims"][0]["text"] == EXPECTED, [h["text"] for h in got["claims"][:3]]


def test_empty_query_shows_the_form_and_a_query_links_to_the_sentence(server, page):
    resp = page.goto(server.url + "/semantic", wait_until="networkidle")
    assert resp.status == 200
    assert page.locator("form.crux-semantic input[name=q]").count() == 1
    assert page.locator(".crux-hit").count() == 0
    assert "semantic" in page.locator(".crux-nav").inner_text()
    empty = json.loads(server.get("/semantic.json"))  # nothing encoded: what a query would search
    from crux.pipeline import embed

    assert empty["claims"] == [] and empty["model"] == embed.model_name()
    assert empty["vectors"] == _search(server, PARAPHRASE)["vectors"] > 0
    page.fill("form.crux-semantic input[name=q]", PARAPHRASE)
    page.click("form.crux-semantic input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/semantic?q=" in page.url
    assert page.locator("#claims .crux-hit").count() == 20
    assert page.locator("#documents .crux-hit").count() >= 1
    scores = [float(s) for s in page.locator("#claims .crux-score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    screenshot(page, "semantic-results")
    hit = page.locator("#claims .crux-hit-title").first
    href = hit.get_attribute("href")
    assert href.startswith("/doc/") and "#s-" in href, href
    hit.click()
    page.wait_for_load_state("networkidle")
    assert page.locator(f"[id='{href.split('#', 1)[1]}']").count() == 1
    assert page.errors == []


def test_index_reads_the_vectors_and_ranks_by_dot_product(corpus, tmp_path):
    from crux.site.semantic import _read_index

    idx = _read_index(sqlite3.connect(corpus[1]))
    assert idx is not None and idx.matrix.shape[1] == 384 and idx.matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(idx.matrix, axis=1), 1, atol=1e-4)
    row = int(np.flatnonzero(idx.kinds == "claim")[3])
    hits = idx.nearest(idx.matrix[row], "claim", 5)
    assert hits[0][0] == idx.ids[row] and len(hits) == 5
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(kind == "document" for kind in idx.kinds[[idx.ids.index(i) for i, _ in
                                                         idx.nearest(idx.matrix[row], "document", 3)]])
    # a snapshot from before the vectors (or without any) has no index: the page says what to run
    bare = sqlite3.connect(tmp_path / "bare.sqlite")
    bare.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)")
    assert _read_index(bare) is None
    bare.execute("CREATE TABLE vectors (item_kind TEXT, item_id TEXT, vector BLOB)")
    assert _read_index(bare) is None


def test_vectors_larger_than_the_sites_row_cap_are_read_whole(corpus):
    """The site caps the bytes of one query's rows (site_max_bytes, 50 MB; LessWrong 2020's
    vectors are 56 MB): the index reads them in pages under the cap, not as one query."""
    from crux import config
    from crux.site.limits import bound_connection
    from crux.site.semantic import _read_index

    whole = _read_index(sqlite3.connect(corpus[1]))
    n = len(whole.ids)
    capped = sqlite3.connect(corpus[1])
    limit = 40 * (384 * 4 + 200)  # a few dozen rows per query
    bound_connection(capped, limit=limit)
    try:
        capped.execute("select vector from vectors").fetchall()  # one query: refused
    except sqlite3.DataError as e:
        assert "query result too large" in str(e)
    else:
        raise AssertionError(f"{n} vectors fit under {limit} bytes: the test proves nothing")
    with config.using(site_max_bytes=limit):
        paged = _read_index(capped)
    assert paged.ids == whole.ids and np.array_equal(paged.matrix, whole.matrix)


def test_queries_waiting_together_are_encoded_in_one_batch_with_the_same_results(corpus):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from crux.site.semantic import _Batcher, _encode, _encode_many, _read_index

    idx = _read_index(sqlite3.connect(corpus[1]))
    texts = [PARAPHRASE, "prediction markets", "far-UVC is too expensive", EXPECTED,
             "A much longer question about whether forecasting tournaments improve the judgement "
             "of the people who take part in them, compared with reading about them"]
    # the encoder gives a text the same vector whatever it is batched with
    batched = _encode_many(idx.model, [t + " ?" for t in texts])
    single = np.stack([_encode(idx.model, t + " ?") for t in texts])  # cache hits: the same arrays
    alone = np.stack([_encode_many(idx.model, [t + " !"])[0] for t in texts])
    assert np.abs(batched - single).max() < 1e-5
    assert np.abs(_encode_many(idx.model, [t + " !" for t in reversed(texts)])[::-1] - alone).max() < 1e-5
    # one matrix product for the batch ranks as one per query
    for kind, k in (("claim", 20), ("document", 10)):
        many = idx.nearest_many(alone, kind, k)
        for q, hits in zip(alone, many, strict=True):
            one = idx.nearest(q, kind, k)
            assert [i for i, _ in hits] == [i for i, _ in one] and len(hits) == k
            assert np.allclose([s for _, s in hits], [s for _, s in one], atol=1e-5)

    # the first query goes at once; the four that arrive while it encodes go together, and
    # their hits' details are read in one pair of queries (a real Datasette database, no server)
    from datasette.app import Datasette

    async def asks(size):
        db = Datasette([str(corpus[1])], immutables=[]).get_database()
        have = set(await db.table_names())
        b = _Batcher(db, idx, size)
        return await asyncio.gather(*(b.search(have, t, 20, 10) for t in texts))

    def run(size):  # a loop of its own (the browser tests leave one running on this thread)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, asks(size)).result()

    together, one_by_one = run(32), run(1)
    assert [r["batch"] for r in together] == [1, 4, 4, 4, 4]
    assert [r["batch"] for r in one_by_one] == [1] * 5
    for a, b in zip(together, one_by_one, strict=True):
        for kind, key in (("claims", "sentence_id"), ("documents", "document_id")):
            assert [h[key] for h in a[kind]] == [h[key] for h in b[kind]] and a[kind]
            assert np.allclose([h["score"] for h in a[kind]], [h["score"] for h in b[kind]], atol=1e-5)
            assert all(h["url"].startswith("/doc/") for h in a[kind])
    assert together[0]["claims"][0]["text"] != together[1]["claims"][0]["text"]


def test_concurrent_requests_get_what_single_requests_get(server):
    from concurrent.futures import ThreadPoolExecutor

    batches: list[int] = []
    # requests that arrive while one encodes share a batch (up to 3 rounds: arrival is the OS's)
    for round_ in range(3):
        qs = [f"{w} forecasts are useful for {x} ({round_})"
              for w in ("calibrated", "crowd", "expert") for x in ("policy", "air quality")]
        with ThreadPoolExecutor(len(qs)) as pool:
            together = list(pool.map(lambda q: _search(server, q), qs))
        for q, got in zip(qs, together, strict=True):
            alone = _search(server, q)  # cached vector, ranked alone
            assert [h["sentence_id"] for h in got["claims"]] == [h["sentence_id"] for h in alone["claims"]]
            assert [h["document_id"] for h in got["documents"]] == [h["document_id"] for h in alone["documents"]]
            assert alone["batch"] == 1 and got["batch"] >= 1
            assert all(got[k] >= 0 for k in ("queue_ms", "encode_ms", "rank_ms", "details_ms"))
        batches += [r["batch"] for r in together]
        if max(batches) > 1:
            break
    assert max(batches) > 1, batches


def test_queries_encoded_by_onnx_fp32_match_the_stored_torch_vectors(corpus):
    """For a snapshot of fp32 torch vectors (``encoder = torch``) the default query encoder
    (onnx-fp32) gives the vectors the embed stage would store within 1e-6, the same nearest
    claims, and the same bits whatever the batch; a snapshot of another path (onnx-int8, say)
    is queried by its own path."""
    from crux import config
    from crux.pipeline import embed
    from crux.site.semantic import _encode_many, _read_index, query_model

    sq = sqlite3.connect(corpus[1])
    rows = sq.execute("SELECT c.text FROM claims c JOIN vectors v "
                      "ON v.item_kind = 'claim' AND v.item_id = c.sentence_id "
                      "ORDER BY c.sentence_id LIMIT 40").fetchall()
    idx = _read_index(sq)
    sq.close()
    assert query_model(idx.model) == (
        "all-MiniLM-L6-v2+onnx-fp32" if idx.model == "all-MiniLM-L6-v2" else idx.model)
    texts = [t for (t,) in rows]
    with config.using(encoder="torch"):
        stored = embed.encode(texts)  # what the embed stage stores with encoder = torch
        assert query_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2+onnx-fp32"
        got = _encode_many("all-MiniLM-L6-v2", texts)
        assert np.abs(got - stored).max() < 1e-6
        for a, b in zip(idx.nearest_many(got, "claim", 10), idx.nearest_many(stored, "claim", 10),
                        strict=True):
            assert [i for i, _ in a] == [i for i, _ in b]
        fresh = [t + " (again)" for t in texts[:8]]
        alone = np.stack([_encode_many("all-MiniLM-L6-v2", [t])[0] for t in fresh])
        assert np.array_equal(
            _encode_many("all-MiniLM-L6-v2", fresh[::-1] + ["x"])[:-1][::-1], alone)


def test_query_encoder_setting_and_its_fallback(corpus, tmp_path, monkeypatch, caplog):
    from crux import config
    from crux.pipeline import encoders
    from crux.site import semantic

    assert semantic.query_model("all-MiniLM-L6-v2+onnx-int8") == "all-MiniLM-L6-v2+onnx-int8"
    assert semantic.query_model("some/other-model") == "some/other-model"
    with config.using(query_encoder="same"):
        assert semantic.query_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    with config.using(query_encoder="fp16"):
        try:
            semantic._load("all-MiniLM-L6-v2")
        except semantic.Unavailable as e:
            assert "query_encoder = 'fp16'" in str(e) and "onnx-fp32, same" in str(e)
        else:
            raise AssertionError("a bad query_encoder was taken")
    # the ONNX file cannot be built (the cache is a file): one warning, and torch encodes
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr(encoders, "_loaded", {})
    monkeypatch.setattr(semantic, "_fallback", set())
    with config.using(encoder_cache=str(blocked / "enc")):
        name, m = semantic._load("all-MiniLM-L6-v2")
    assert name == "all-MiniLM-L6-v2" and not encoders.is_local(m)
    assert "cannot build the onnx-fp32 encoder" in caplog.text
    assert semantic.query_model("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"  # remembered
