"""Train the claim classifier shipped in src/crux/pipeline/models/claims-lr-1.json.

    .venv/bin/python scripts/train_claims.py [--data eval/claims.jsonl] [--out PATH]

Reads only the ``train`` split of the labelled sentences (the ``test`` split is for
``python -m eval``). Sentences the stage never classifies (quoted, headings, questions: see
``crux.pipeline.claims.is_candidate``) are left out. Features: the hand-made spaCy features
plus the all-MiniLM-L6-v2 embedding, standardised. The regularisation strength C and the
decision threshold are chosen by 5-fold cross-validation grouped by document (fixed seed):
the C with the best mean out-of-fold F1, then the threshold that maximises the F1 of the
pooled out-of-fold probabilities. The final model is fit on the whole train split.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261122
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
THRESHOLDS = tuple(round(0.2 + 0.025 * i, 3) for i in range(25))  # 0.2 .. 0.8


def _f1(y, pred) -> float:
    tp = sum(1 for a, b in zip(y, pred, strict=True) if a and b)
    fp = sum(1 for a, b in zip(y, pred, strict=True) if not a and b)
    fn = sum(1 for a, b in zip(y, pred, strict=True) if a and not b)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "eval" / "claims.jsonl")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "src" / "crux" / "pipeline" / "models" / "claims-lr-1.json")
    args = ap.parse_args(argv)

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    from crux.pipeline.claims import feature_matrix, is_candidate
    from crux.pipeline.features import ENCODER_NAME, FEATURE_NAMES, load_nlp

    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["split"] == "train"
             and is_candidate(r["text"], r.get("block", "paragraph"), r.get("in_quote", False))]
    nlp = load_nlp()
    docs = list(nlp.pipe([r["text"] for r in train], batch_size=64))
    X = feature_matrix(docs, [r.get("block", "paragraph") for r in train])
    y = np.asarray([r["label"] for r in train])
    groups = np.asarray([r["doc"] for r in train])
    print(f"train: {len(train)} candidate sentences, {int(y.sum())} claims, "
          f"{len(set(groups))} documents", file=sys.stderr)

    # shuffle the documents with a fixed seed, then GroupKFold (deterministic)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(y))
    Xs, ys, gs = X[order], y[order], groups[order]
    folds = list(GroupKFold(n_splits=5).split(Xs, ys, gs))

    def oof(c: float) -> np.ndarray:
        p = np.zeros(len(ys))
        for tr, te in folds:
            sc = StandardScaler().fit(Xs[tr])
            clf = LogisticRegression(C=c, max_iter=2000).fit(sc.transform(Xs[tr]), ys[tr])
            p[te] = clf.predict_proba(sc.transform(Xs[te]))[:, 1]
        return p

    results = {}
    for c in C_GRID:
        p = oof(c)
        best = max(THRESHOLDS, key=lambda t: (_f1(ys, p >= t), -abs(t - 0.5)))
        results[c] = (best, _f1(ys, p >= best), p)
        print(f"C={c}: best threshold {best}, out-of-fold F1 {results[c][1]:.3f}", file=sys.stderr)
    c_best = max(C_GRID, key=lambda c: results[c][1])
    threshold, f1, p = results[c_best]
    pred = p >= threshold
    tp = int((pred & (ys == 1)).sum())
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(ys.sum()), 1)

    scaler = StandardScaler().fit(X)
    scale = np.where(scaler.scale_ > 1e-6, scaler.scale_, 1.0)  # constant columns: leave as is
    clf = LogisticRegression(C=c_best, max_iter=2000).fit((X - scaler.mean_) / scale, y)
    model = {
        "name": "claims-lr-1",
        "encoder": ENCODER_NAME,
        "features": list(FEATURE_NAMES) + [f"emb{i}" for i in range(X.shape[1] - len(FEATURE_NAMES))],
        "threshold": threshold,
        "C": c_best,
        "trained": date.today().isoformat(),
        "train_sentences": len(train),
        "train_claims": int(y.sum()),
        "cv": {"folds": 5, "grouped_by": "document", "seed": SEED, "f1": round(f1, 4),
               "precision": round(precision, 4), "recall": round(recall, 4)},
        "mean": [float(f"{v:.8g}") for v in scaler.mean_],
        "scale": [float(f"{v:.8g}") for v in scale],
        "coef": [float(f"{v:.8g}") for v in clf.coef_[0]],
        "intercept": round(float(clf.intercept_[0]), 6),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, indent=None, separators=(",", ":")) + "\n")
    print(f"C={c_best} threshold={threshold} CV F1={f1:.3f} P={precision:.3f} R={recall:.3f} "
          f"-> {args.out} ({args.out.stat().st_size // 1024} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
