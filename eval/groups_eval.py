"""Same-event forecast grouping on eval/forecast_pairs.jsonl: the threshold by 5-fold
cross-validation on the train split, precision and recall on the test split once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent


def _pairs() -> list[dict]:
    return [json.loads(line) for line in (HERE / "forecast_pairs.jsonl").read_text().splitlines() if line.strip()]


def _features(rows: list[dict]) -> list[tuple[float, bool]]:
    """(cosine of the two event texts, horizons compatible) per pair."""
    from crux.analysis.event_groups import event_and_horizon, horizons_compatible
    from crux.pipeline.embed import encode

    ev = [event_and_horizon(r[f"{s}_text"], date.fromisoformat(r[f"{s}_published_at"][:10]))
          for r in rows for s in ("a", "b")]
    vecs = encode([e for e, _ in ev])
    out = []
    for i in range(len(rows)):
        (_, ha), (_, hb) = ev[2 * i], ev[2 * i + 1]
        out.append((float(vecs[2 * i] @ vecs[2 * i + 1]), horizons_compatible(ha, hb)))
    return out


def _prf(gold: list[int], pred: list[bool]) -> tuple[float, float, float]:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if not g and p)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    pr = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    return pr, rc, 2 * pr * rc / (pr + rc) if pr + rc else 0.0


def _best(feats: list[tuple[float, bool]], gold: list[int]) -> float:
    grid = [t / 100 for t in range(30, 96)]
    return max(grid, key=lambda t: _prf(gold, [s >= t and ok for s, ok in feats])[2])


def eval_groups() -> str:
    rows = [r for r in _pairs() if r.get("same_event") in (0, 1)]
    feats = _features(rows)
    train = [i for i, r in enumerate(rows) if r["split"] != "test"]
    test = [i for i, r in enumerate(rows) if r["split"] == "test"]
    folds = [train[k::5] for k in range(5)]
    chosen, cv_f1 = [], []
    for k, held in enumerate(folds):
        fit = [i for j, f in enumerate(folds) if j != k for i in f]
        t = _best([feats[i] for i in fit], [rows[i]["same_event"] for i in fit])
        chosen.append(t)
        cv_f1.append(_prf([rows[i]["same_event"] for i in held], [feats[i][0] >= t and feats[i][1] for i in held])[2])
    t = _best([feats[i] for i in train], [rows[i]["same_event"] for i in train])
    gold = [rows[i]["same_event"] for i in test]
    p, r, f = _prf(gold, [feats[i][0] >= t and feats[i][1] for i in test])
    return (f"## Same-event forecast groups\n\n"
            f"eval/forecast_pairs.jsonl: {len(rows)} labelled pairs ({len(train)} train, {len(test)} test; "
            f"{sum(rr['same_event'] for rr in rows)} same-event). A pair is the same event when the cosine of "
            f"its event texts (all-MiniLM-L6-v2) is at least the threshold and the horizons are compatible "
            f"(unknown, or within {365} days). Threshold by 5-fold cross-validation on train: folds chose "
            f"{', '.join(f'{x:.2f}' for x in chosen)} (held-out F1 {sum(cv_f1) / 5:.2f}); on all of train: "
            f"**{t:.2f}**.\n\n| split | n | same | precision | recall | F1 |\n|---|---|---|---|---|---|\n"
            f"| test | {len(test)} | {sum(gold)} | {p:.2f} | {r:.2f} | {f:.2f} |\n")


if __name__ == "__main__":
    print(eval_groups())
