"""A learned response decision over the responses stage's signals: train, cross-validate, test.

    .venv/bin/python scripts/train_responses.py STORE.duckdb [--out PATH]

``STORE`` is a store of LessWrong 2020 and the seed feeds processed through ``responses``
(``eval.links_eval.build``). Each ``responses`` row is a candidate pair; its features are the
stage's signals (``evidence.signals``: reply, title, follow-up, opening, cue, review, reported,
stance, quotes, quoted, mentions, claim pairs, cite, list, crowded), whether the target is in
the corpus, and the stage's hand-set score. Labels: the labelled document pairs
(``eval/pairs_documents.jsonl`` and the three real dev sets), a pair being a response when its
relation is rebuts, supports or extends. Train on ``pairs_documents`` train + dev and the dev
sets; 5-fold cross-validation grouped by source document picks C and the threshold, beside the
stage's own decision; then one score on the test split of ``pairs_documents`` and on the
held-out ``links_documents.jsonl`` (never used to pick anything).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
SIGNALS = ("reply", "title", "followup", "opening", "cue", "review", "reported", "stance",
           "quotes", "quoted", "mentions", "claims", "cite", "list", "crowded", "named")
COUNTS = ("quotes", "quoted", "mentions", "claims")
FEATURES = (*SIGNALS, *(f"n_{c}" for c in COUNTS), "in_corpus", "hand_score")


def features(evidence: str | None, target_id: str | None, score: float) -> list[float]:
    sig = (json.loads(evidence) if evidence else {}).get("signals", {})
    out = [float(k in sig) for k in SIGNALS]
    for c in COUNTS:
        v = sig.get(c)
        out.append(min(float(v), 5.0) / 5.0 if isinstance(v, int | float) and not
                   isinstance(v, bool) else float(bool(v)))
    out += [float(target_id is not None), float(score)]
    return out


def _rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (ROOT / "eval" / name).read_text().splitlines() if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--out", type=Path,
                    default=ROOT / "src" / "crux" / "pipeline" / "models" / "responses-lr-1.json")
    args = ap.parse_args(argv)

    import numpy as np
    from lr_trainer import f1_at, fit, select

    from crux.db import connect
    from crux.htmltext import url_key

    con = connect(str(args.store), read_only=True)
    keys = dict(con.execute("SELECT key, document_id FROM document_keys").fetchall())
    cand = {(s, k): (tid, ev, sc, rel) for s, k, tid, ev, sc, rel in con.execute(
        "SELECT source_id, target_key, target_id, evidence, score, relation FROM responses"
    ).fetchall()}
    con.close()

    def lookup(r: dict):
        sid = keys.get(url_key(r["source_url"]))
        if sid is None:
            return None
        tkey = url_key(r["target_url"])
        tid = keys.get(tkey)
        for k in ([tid] if tid else []) + [tkey]:
            if (sid, k) in cand:
                return sid, cand[(sid, k)]
        return sid, None

    sets = {"pairs": _rows("pairs_documents.jsonl"),
            "dev": _rows("links_dev_documents.jsonl"), "dev2": _rows("links_dev2_documents.jsonl"),
            "dev3": _rows("links_dev3_documents.jsonl"), "held-out": _rows("links_documents.jsonl")}
    data: dict[str, list] = {"train": [], "test": [], "held-out": []}
    missing = {"train": 0, "test": 0, "held-out": 0}
    for name, rows in sets.items():
        for r in rows:
            part = ("held-out" if name == "held-out" else
                    "test" if name == "pairs" and r.get("split") == "test" else "train")
            got = lookup(r)
            y = int(r["relation"] != "cites")
            if got is None or got[1] is None:
                missing[part] += y  # a labelled response the stage never made a candidate
                if got is not None:
                    data[part].append((got[0], None, y))
                continue
            sid, (tid, ev, sc, rel) = got
            data[part].append((sid, (features(ev, tid, sc), rel), y))
    train = [d for d in data["train"] if d[1] is not None]
    X = np.asarray([d[1][0] for d in train])
    y = np.asarray([d[2] for d in train])
    groups = np.asarray([d[0] for d in train])
    print(f"train: {len(train)} candidate pairs, {int(y.sum())} responses, "
          f"{len(set(groups))} sources; labelled responses with no candidate: {missing}",
          file=sys.stderr)
    results, best = select(X, y, groups, {"signals": np.arange(X.shape[1])})
    stage_pred = np.asarray([d[1][1] != "cites" for d in train])
    sf, sp, sr = f1_at(y, stage_pred)
    model = {"name": "responses-lr-1", "features": list(FEATURES), "threshold": best.threshold,
             "C": best.C, "candidate": best.name,
             "cv": {"folds": 5, "grouped_by": "source document", "f1": round(best.f1, 4),
                    "precision": round(best.precision, 4), "recall": round(best.recall, 4)},
             "stage_on_train": {"f1": round(sf, 4), "precision": round(sp, 4),
                                "recall": round(sr, 4)},
             "train_pairs": len(train), "train_responses": int(y.sum()),
             **fit(X, y, np.arange(X.shape[1]), best.C)}

    def score_part(part: str) -> dict:
        rows = data[part]
        have = [d for d in rows if d[1] is not None]
        Xp = np.asarray([d[1][0] for d in have]) if have else np.zeros((0, X.shape[1]))
        mean, scale = np.asarray(model["mean"]), np.asarray(model["scale"])
        z = ((Xp - mean) / scale) @ np.asarray(model["coef"]) + model["intercept"]
        p = 1 / (1 + np.exp(-z))
        gold = np.asarray([d[2] for d in have])
        lr = p >= model["threshold"]
        st = np.asarray([d[1][1] != "cites" for d in have])
        extra_fn = sum(d[2] for d in rows if d[1] is None)

        def prf(pred):
            tp = int((pred & (gold == 1)).sum())
            fp = int((pred & (gold == 0)).sum())
            fn = int((~pred & (gold == 1)).sum()) + extra_fn
            pr = tp / (tp + fp) if tp + fp else 0.0
            rc = tp / (tp + fn) if tp + fn else 0.0
            return {"precision": round(pr, 3), "recall": round(rc, 3),
                    "f1": round(2 * pr * rc / (pr + rc), 3) if pr + rc else 0.0,
                    "tp": tp, "fp": fp, "fn": fn}
        return {"pairs": len(rows), "responses": int(sum(d[2] for d in rows)),
                "model": prf(lr), "stage": prf(st)}

    model["test"] = {"pairs_documents test split": score_part("test"),
                     "links_documents (held-out)": score_part("held-out")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(json.dumps({k: model[k] for k in ("cv", "stage_on_train", "test")}, indent=1),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
