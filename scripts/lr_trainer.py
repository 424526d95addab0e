"""Model selection shared by ``train_claims.py`` and ``train_forecasts.py``.

Candidates are logistic regressions over column subsets of one feature matrix (hand-made rule
features, the all-MiniLM-L6-v2 vector, or both), each with a grid of C. Every candidate is
scored by 5-fold cross-validation grouped by document (documents shuffled with a fixed seed):
the threshold that maximises the F1 of the pooled out-of-fold probabilities, and that F1. The
best candidate is refit on all the training rows. The test split is never read here.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

SEED = 20261202
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
THRESHOLDS = tuple(round(0.1 + 0.025 * i, 3) for i in range(33))  # 0.1 .. 0.9


def f1_at(y: Any, pred: Any) -> tuple[float, float, float]:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


@dataclass
class Result:
    name: str
    C: float
    threshold: float
    f1: float
    precision: float
    recall: float

    def row(self) -> dict[str, Any]:
        return {"candidate": self.name, "C": self.C, "threshold": self.threshold,
                "f1": round(self.f1, 4), "precision": round(self.precision, 4),
                "recall": round(self.recall, 4)}


def doc_folds(docs: Any) -> dict[str, int]:
    """The fold (0-4) of each document: the documents, sorted, shuffled with a fixed seed,
    dealt round-robin."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    docs = sorted(set(docs))
    return {d: int(i) % 5 for d, i in zip(docs, rng.permutation(len(docs)), strict=True)}


def grouped_folds(groups: Any, fold_of: dict[str, int] | None = None) -> list[tuple[Any, Any]]:
    """5 (train rows, held-out rows) pairs grouped by document (``groups``: a row's document).
    ``fold_of``: a document → fold map drawn over a wider set of documents (by default the
    documents in ``groups``, :func:`doc_folds`)."""
    import numpy as np

    fold_of = fold_of if fold_of is not None else doc_folds(groups)
    k_of = np.asarray([fold_of[g] for g in groups])
    return [(np.where(k_of != k)[0], np.where(k_of == k)[0]) for k in range(5)]


def best_threshold(y: Any, p: Any) -> tuple[float, tuple[float, float, float]]:
    """The threshold of :data:`THRESHOLDS` that maximises the F1 of probabilities ``p`` (ties:
    the nearest to 0.5), and (F1, precision, recall) there."""
    best_t, best = 0.5, (0.0, 0.0, 0.0)
    for t in THRESHOLDS:
        m = f1_at(y, p >= t)
        if (m[0], -abs(t - 0.5)) > (best[0], -abs(best_t - 0.5)):
            best_t, best = t, m
    return best_t, best


def select(X: Any, y: Any, groups: Any, subsets: dict[str, Any], *,
           folds: list[tuple[Any, Any]] | None = None, class_weight: Any = None,
           ) -> tuple[list[Result], Result]:
    """Cross-validate every (subset, C); return all results and the best. ``folds``: by
    default :func:`grouped_folds` of ``groups``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if folds is None:
        folds = grouped_folds(groups)
    results: list[Result] = []
    for name, cols in subsets.items():
        for c in C_GRID:
            t0 = time.perf_counter()
            p = np.zeros(len(y))
            for tr, te in folds:
                sc = StandardScaler().fit(X[tr][:, cols])
                clf = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight).fit(
                    sc.transform(X[tr][:, cols]), y[tr])
                p[te] = clf.predict_proba(sc.transform(X[te][:, cols]))[:, 1]
            best_t, best = best_threshold(y, p)
            results.append(Result(name, c, best_t, *best))
            print(f"  {name:>12} C={c:<5} threshold {best_t:.3f}  CV F1 {best[0]:.3f} "
                  f"(P {best[1]:.3f} R {best[2]:.3f})  {time.perf_counter() - t0:.1f}s",
                  file=sys.stderr)
    return results, max(results, key=lambda r: r.f1)


def fit(X: Any, y: Any, cols: Any, C: float) -> dict[str, Any]:
    """The final model on all rows, as the JSON fields :class:`crux.pipeline.claims.ClaimModel`
    loads. Columns outside ``cols`` get weight 0 (so the stage's matrix stays one shape)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(X)
    scale = np.where(sc.scale_ > 1e-6, sc.scale_, 1.0)
    Z = (X - sc.mean_) / scale
    clf = LogisticRegression(C=C, max_iter=3000).fit(Z[:, cols], y)
    coef = np.zeros(X.shape[1])
    coef[cols] = clf.coef_[0]
    return {"mean": [float(f"{v:.8g}") for v in sc.mean_],
            "scale": [float(f"{v:.8g}") for v in scale],
            "coef": [float(f"{v:.8g}") for v in coef],
            "intercept": round(float(clf.intercept_[0]), 6)}


def train_rows(path: Any) -> list[dict[str, Any]]:
    """The labelled sentences of the train and dev splits (never test)."""
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["split"] in ("train", "dev")]


def train_and_save(X: Any, y: Any, groups: Any, subsets: dict[str, Any], *, name: str,
                   features: list[str], out: Any, extra: dict[str, Any], t0: float) -> None:
    """Pick the candidate (:func:`select`), refit it (:func:`fit`), write the model JSON that
    :class:`crux.pipeline.claims.ClaimModel` loads, and print one summary line."""
    import json
    from datetime import date

    from crux.pipeline.features import ENCODER_NAME

    results, best = select(X, y, groups, subsets)
    model = {
        "name": name, "encoder": ENCODER_NAME, "features": features,
        "threshold": best.threshold, "C": best.C, "candidate": best.name,
        "trained": date.today().isoformat(), **extra,
        "cv": {"folds": 5, "grouped_by": "document", "f1": round(best.f1, 4),
               "precision": round(best.precision, 4), "recall": round(best.recall, 4)},
        "candidates": [r.row() for r in results],
        **fit(X, y, subsets[best.name], best.C),
    }
    model["train_seconds"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"{best.name} C={best.C} threshold={best.threshold} CV F1={best.f1:.3f} "
          f"P={best.precision:.3f} R={best.recall:.3f} -> {out} "
          f"({out.stat().st_size // 1024} KB, {model['train_seconds']} s)", file=sys.stderr)
