"""The segment, claims and embed stages on an ingested corpus, beside their libraries alone.

``run(db_path) -> dict`` (called by :mod:`benchmarks.plugins` on a private copy of the
ingested LessWrong 2020 store) runs, in one process:

1. ``SegmentStage`` on every document, then spaCy alone (``nlp.pipe`` with the same
   pipeline) on the same block texts: the ratio is spaCy's time over the stage's (goal
   >= 0.6). Both sides start alike: the stage's pipeline is loaded (and timed apart) before
   the stage runs, as the embed model is below, and the reference is a new copy of the same
   pipeline (``sentence_pipeline(cached=False)``), so its vocabulary and tokenizer cache are
   as empty as the stage's were, not filled by the stage's pass over the same texts.
2. ``ClaimsStage`` (``claims=True``, the default): its models load first (timed apart); it
   stores the vectors of the claims it keeps, which the embed stage then reuses. Then
   ``ForecastsStage`` (reusing those vectors), and the encoder alone on the claims stage's
   candidate sentences: "claims + forecasts" over that is the stages' cost in encoder units.
3. ``EmbedStage``, then ``SentenceTransformer.encode`` alone on the same texts (the unique
   texts the stage encoded): the ratio is encode's time over the stage's (goal >= 0.9).
   "texts encoded by kind" shows what it still had to encode: documents and quotes, and
   claims only when the claims stage did not store their vectors.
4. All stages again: the no-op re-run as a share of the full run (goal <= 0.05).
5. The encoder's throughput on a sample of ordinary sentences, to price embedding every
   sentence (which the stage does not do by default).

Also by hand: ``python benchmarks/nlp_bench.py [DB | CORPUS_DIR] [--limit N] [--no-claims]``
(a folder is ingested into a temporary store first).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(db_path: str, limit: int | None = None, claims: bool = True) -> dict[str, Any]:
    from crux.db import connect
    from crux.htmltext import content_hash
    from crux.pipeline import embed
    from crux.pipeline.embed import EmbedStage, encode, load_model
    from crux.pipeline.nlp import sentence_pipeline
    from crux.pipeline.segment import NO_SENTENCES, SegmentStage

    con = connect(db_path)
    if limit:  # a fixed subset: the first ``limit`` documents by id (the store is a private copy)
        con.execute("DELETE FROM documents WHERE id NOT IN (SELECT id FROM documents ORDER BY id "
                    "LIMIT ?)", [limit])
    n_docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]

    # 1. segment (its pipeline loaded first), then spaCy alone on the same texts, new pipeline
    t0 = time.perf_counter()
    sentence_pipeline()("Warm up the pipeline once.")
    t_seg_load = time.perf_counter() - t0
    seg = SegmentStage()
    t0 = time.perf_counter()
    seg_result = seg.run(con)
    t_seg = time.perf_counter() - t0
    texts = [t for (t,) in con.execute(
        "SELECT text FROM blocks WHERE kind NOT IN (SELECT unnest(?)) ORDER BY id",
        [list(NO_SENTENCES)]).fetchall()]
    nlp = sentence_pipeline(cached=False)
    nlp("Warm up the pipeline once.")
    t0 = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    t_spacy = time.perf_counter() - t0
    n_sent, n_quote = con.execute(
        "SELECT count(*), count(*) FILTER (in_quote) FROM sentences").fetchone()

    # 2. claims (models loaded first); it stores its claims' vectors for the embed stage
    t_claims = t_claims_load = 0.0
    claims_result = None
    if claims:
        from crux.pipeline.claims import ClaimsStage

        cstage = ClaimsStage()
        t0 = time.perf_counter()
        cstage.setup(con)
        assert cstage.scorer is not None
        cstage.scorer.score(["Warm up the models once: this is a claim."])
        t_claims_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        claims_result = cstage.run(con)
        t_claims = time.perf_counter() - t0
    # 2b. forecasts after claims (it reuses the claims' stored vectors), then the encoder alone
    # on the claims stage's candidate sentences: the reference for "claims + forecasts"
    t_fc = t_cand = 0.0
    fc_result = None
    n_cand = 0
    if claims:
        from crux.pipeline.claims import is_candidate as claim_candidate
        from crux.pipeline.forecasts import ForecastsStage

        fstage = ForecastsStage()
        fstage.setup(con)
        t0 = time.perf_counter()
        fc_result = fstage.run(con)
        t_fc = time.perf_counter() - t0
        cands = [t.strip() for t, k, q in con.execute(
            "SELECT s.text, coalesce(b.kind, 'paragraph'), s.in_quote FROM sentences s "
            "LEFT JOIN blocks b ON b.id = s.block_id ORDER BY s.id").fetchall()
            if claim_candidate(t, k, q)]
        n_cand = len(cands)
        m_ref = load_model()
        t0 = time.perf_counter()
        m_ref.encode(cands, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
        t_cand = time.perf_counter() - t0
    n_claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    stored_by_claims = con.execute(
        "SELECT count(*) FROM embeddings WHERE item_kind = 'claim'").fetchone()[0]

    # 3. embed, then encode alone on the texts it encoded
    load_model()
    encode(["warm up the model once"] * 8)
    stage = EmbedStage()
    encoded: list[str] = []
    real = embed.encode

    def recording(batch: list[str], **kw: Any) -> Any:
        encoded.extend(batch)
        return real(batch, **kw)

    embed.encode = recording  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        emb_result = stage.run(con)
        t_emb = time.perf_counter() - t0
    finally:
        embed.encode = real  # type: ignore[assignment]
    model = load_model()
    t0 = time.perf_counter()
    model.encode(encoded, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    t_ref = time.perf_counter() - t0
    by_kind = dict(con.execute("SELECT item_kind, count(*) FROM embeddings GROUP BY 1").fetchall())
    encoded_hashes = sorted({content_hash(t) for t in encoded})
    encoded_by_kind = dict(con.execute(
        "SELECT item_kind, count(DISTINCT content_hash) FROM embeddings "
        "WHERE content_hash IN (SELECT unnest(?)) GROUP BY 1", [encoded_hashes]).fetchall())

    # 4. the no-op re-run
    t0 = time.perf_counter()
    again = [SegmentStage().run(con)]
    if claims:
        from crux.pipeline.claims import ClaimsStage
        from crux.pipeline.forecasts import ForecastsStage
        again.append(ClaimsStage().run(con))
        again.append(ForecastsStage().run(con))
    again.append(EmbedStage().run(con))
    t_noop = time.perf_counter() - t0
    assert all(r.docs == 0 for r in again), [r.summary() for r in again]

    # 5. what embedding every sentence would cost
    sample = [t for (t,) in con.execute(
        "SELECT text FROM sentences WHERE NOT in_quote ORDER BY hash(id) LIMIT 2000").fetchall()]
    sample = list({content_hash(t): t for t in sample}.values())
    t0 = time.perf_counter()
    model.encode(sample, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    per_s = len(sample) / (time.perf_counter() - t0) if sample else 0.0
    con.close()

    t_full = t_seg + t_claims + t_fc + t_emb
    rows = [
        {"figure": "segment (documents/s)", "value": n_docs / t_seg,
         "reference": "spaCy senter alone, same texts", "reference value": n_docs / t_spacy,
         "ratio": t_spacy / t_seg, "goal": ">= 0.6"},
        {"figure": "embed (texts/s)", "value": len(encoded) / t_emb,
         "reference": "SentenceTransformer.encode alone, same texts",
         "reference value": len(encoded) / t_ref if t_ref else 0.0,
         "ratio": t_ref / t_emb if t_emb else 0.0, "goal": ">= 0.9"},
        *([{"figure": "claims + forecasts (s)", "value": t_claims + t_fc,
             "reference": "encode alone, the claims stage's candidate sentences (s)",
             "reference value": t_cand,
             "ratio": (t_claims + t_fc) / t_cand if t_cand else 0.0,
             "goal": "claims + forecasts <= the claims stage of 2026-11-23 (543 s at 1x)"}]
           if claims else []),
        {"figure": "no-op re-run (s)", "value": t_noop, "reference": "full run (s)",
         "reference value": t_full, "ratio": t_noop / t_full, "goal": "<= 0.05"},
    ]
    out: dict[str, Any] = {
        "rows": rows,
        "stage overhead outside encode (share of embed time)": 1 - stage.stats["encode_seconds"] / t_emb,
        "documents": n_docs,
        "sentences": n_sent,
        "sentences per document": n_sent / max(n_docs, 1),
        "in_quote sentences": n_quote,
        "claims": n_claims,
        "claim vectors stored by the claims stage": stored_by_claims,
        "embedded items": sum(by_kind.values()),
        "embedded per document": sum(by_kind.values()) / max(n_docs, 1),
        "embedded by kind": by_kind,
        "texts encoded": len(encoded),
        "texts encoded by kind": encoded_by_kind,
        "segment model load s (before the stage)": t_seg_load,
        "segment s": t_seg,
        "claims model load s (before the stage)": t_claims_load,
        "claims s": t_claims,
        "forecasts s": t_fc,
        "claim candidates": n_cand,
        "encode alone on the claim candidates s": t_cand,
        "embed s": t_emb,
        "encode s (inside embed)": stage.stats["encode_seconds"],
        "share of time in embed": t_emb / t_full,
        "encoder sentences/s (sample)": per_s,
        "projected s to embed every sentence": n_sent / per_s if per_s else None,
        "segment summary": seg_result.summary(),
        "embed summary": emb_result.summary(),
        "peak RSS MB": _peak_mb(),
    }
    if claims_result is not None:
        out["claims summary"] = claims_result.summary()
    if fc_result is not None:
        out["forecasts summary"] = fc_result.summary()
    return out


def main(argv: list[str]) -> None:  # pragma: no cover
    import json
    import tempfile

    target = Path(argv[0]) if argv and not argv[0].startswith("--") else Path("/work/shared/corpora/lesswrong-2020")
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    claims = "--no-claims" not in argv
    with tempfile.TemporaryDirectory() as tmp:
        db = target
        if target.is_dir():
            from crux.crawler.ingest import ingest_paths
            from crux.db import connect
            db = Path(tmp) / "bench.duckdb"
            con = connect(db)
            ingest_paths(con, [target])
            con.close()
        print(json.dumps(run(str(db), limit, claims), indent=1, default=str))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
