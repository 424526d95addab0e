"""Encoder paths (``encoder`` setting): speed and closeness to fp32 on the corpus's own texts.

In one child process: the first posts of LessWrong 2020 are ingested and segmented by crux's
segment stage; a seeded sample of their distinct sentences outside quotes (what the claims
stage classifies) and the documents' embed texts (title + first 1,000 characters, what the
embed stage encodes per document) are encoded by each path (fp32 torch, onnx-fp32, onnx-int8,
model2vec)
at batch 16, 32 and 64 with 2 threads. Each path's vectors are compared with fp32's at batch
64: mean and 5th-percentile cosine. The eval figures of each path (claims, forecasts) come from
``python -m eval`` with ``CRUX_ENCODER`` set, and are in BENCHMARKS.md beside this table.
"""

from __future__ import annotations

import time
from typing import Any

from . import QUICK_POSTS, register
from .harness import Context

BATCHES = (16, 32, 64)


def measure(db_path: str, n_sentences: int, batches: list[int]) -> dict[str, Any]:
    """In a child: the table of :func:`bench_encoders` on the store at ``db_path`` (a copy)."""
    import os
    import random

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np

    from crux import config
    from crux.db import connect
    from crux.pipeline import embed, encoders
    from crux.pipeline.embed import EmbedStage
    from crux.pipeline.segment import SegmentStage

    con = connect(db_path)
    t0 = time.perf_counter()
    SegmentStage().run(con)
    t_segment = time.perf_counter() - t0
    texts = sorted({t for (t,) in con.execute(
        "SELECT text FROM sentences WHERE NOT in_quote AND length(trim(text)) > 0").fetchall()})
    random.Random(0).shuffle(texts)
    sentences = texts[:n_sentences]
    ids = [i for (i,) in con.execute("SELECT id FROM documents ORDER BY id").fetchall()]
    documents = [t for kind, _, t in EmbedStage().items(con, ids) if kind == "document"]

    rows: list[dict[str, Any]] = []
    ref: dict[str, Any] = {}
    with config.using(threads=2):
        for path in encoders.PATHS:
            with config.using(encoder=path):
                t0 = time.perf_counter()
                model = embed.load_model()
                embed.encode_with(model, sentences[:32], batch_size=32)  # warm-up
                t_load = time.perf_counter() - t0
                rates = {}
                vec = None
                for b in batches:
                    t0 = time.perf_counter()
                    v = embed.encode_with(model, sentences, batch_size=b)
                    rates[b] = len(sentences) / (time.perf_counter() - t0)
                    if b == max(batches):
                        vec = v
                t0 = time.perf_counter()
                dvec = embed.encode_with(model, documents, batch_size=max(batches))
                doc_rate = len(documents) / (time.perf_counter() - t0)
                if path == encoders.TORCH:
                    ref = {"s": vec, "d": dvec}
                cs = (vec * ref["s"]).sum(axis=1)
                cd = (dvec * ref["d"]).sum(axis=1)
                # a text's vector alone against in a batch (int8 quantises activations per batch)
                alone = np.stack([embed.encode_with(model, [t], batch_size=1)[0] for t in sentences[:200]])
                drift = (alone * vec[:200]).sum(axis=1)
                row: dict[str, Any] = {"path": path, "model name stored": embed.model_name()}
                for b in batches:
                    row[f"sentences/s, batch {b}"] = rates[b]
                row["documents/s, batch 64"] = doc_rate
                row["× fp32 (batch 64)"] = None
                row["sentences: mean cosine to fp32"] = float(cs.mean())
                row["sentences: p5 cosine"] = float(np.percentile(cs, 5))
                row["documents: mean cosine to fp32"] = float(cd.mean())
                row["documents: p5 cosine"] = float(np.percentile(cd, 5))
                row["alone vs batched: min cosine"] = float(drift.min())
                row["load + build s"] = t_load
                rows.append(row)
    top = f"sentences/s, batch {max(batches)}"
    for r in rows:
        r["× fp32 (batch 64)"] = r[top] / rows[0][top]
    return {"rows": rows, "sentences": len(sentences), "documents": len(documents),
            "posts": len(ids), "segment s": t_segment}


@register("encoders", "Encoder paths: fp32 torch, onnx-fp32, onnx-int8, model2vec (`encoder` setting)", order=76)
def bench_encoders(ctx: Context) -> dict[str, Any]:
    import shutil

    posts = QUICK_POSTS if ctx.quick else 100
    n = 1000 if ctx.quick else 5000
    db = ctx.scratch("encoders") / "store.duckdb"
    shutil.copyfile(ctx.ingested_sample(posts), db)
    m = ctx.probe("benchmarks.encoders:measure", str(db), n, list(BATCHES))
    res = dict(m.result)
    res.pop("inner_s", None)
    res["whole probe: wall s"] = m.wall_s
    res["whole probe: peak RSS MB"] = m.peak_rss_mb
    res["notes"] = [
        f"Texts: a seeded sample of the distinct sentences outside quotes of the first {posts} posts "
        "(crux's segment stage), and each post's embed text (title + first 1,000 characters). "
        "Two threads per path; the machine is shared, so read the × column.",
        "onnx-fp32: `torch.onnx.export` of the packaged weights run by ONNX Runtime in fp32. "
        "onnx-int8: that export through ONNX Runtime's `quantize_dynamic` "
        "(int8 weights per channel, activations quantised per batch), mean pooling and L2 norm as "
        "sentence-transformers does. model2vec: `model2vec.distill` of the packaged model, no PCA. "
        "Each built once into `encoder_cache` (the load + build column is the load when cached).",
        "alone vs batched: a text encoded alone against the same text in a batch of 64 (torch, "
        "onnx-fp32 and model2vec: identical; int8 quantises each batch's activations with one scale).",
        "The default stays fp32 unless a path keeps a mean cosine >= 0.99 and no eval figure drops by "
        "more than 0.01 (see the choice under this table in BENCHMARKS.md).",
    ]
    return res
