"""The learned response decision over the responses stage's features: train, cross-validate, test.

    .venv/bin/python scripts/train_responses.py --build STORE.duckdb   # ingest + process first
    .venv/bin/python scripts/train_responses.py STORE.duckdb           # a store that has them

``--build`` ingests LessWrong 2020 and the seed feeds (``CRUX_SHARED``) into a new store and runs
``segment``, ``claims`` and ``embed``. Either way the script then runs the responses stage with
the hand-set rule deciding (``ResponsesStage(model_path=None)``, forced), so every candidate pair
carries its feature vector (``evidence.features``, :data:`crux.pipeline.response_model.FEATURES`:
every signal, the hand-set score and decision, target in the corpus, the kind of page).

Labels: a pair is a response when its relation is rebuts, supports or extends. Training rows: the
train and dev splits of ``eval/pairs_documents.jsonl`` (drawn blind, unfiltered) and
``eval/pairs_documents3.jsonl`` (the response-enriched draw): their labelled rows; and the three
real dev sets: every candidate of their labelled sources, the unlabelled ones as citations (those
sets label every response of a source, and ``eval.links_eval`` scores them so). 5-fold
cross-validation grouped by source document picks the candidate (logistic regression over every
feature or over the signals only, a grid of C; gradient boosting is scored beside them), and the
threshold; the stage's own rule is scored on the same rows. The chosen model is refit on all the
training rows and written to ``src/crux/pipeline/models/responses-lr-3.json``. Then, once, the
test splits (``pairs_documents`` and ``pairs_documents3``) and the held-out
``links_documents.jsonl`` (every candidate of its sources, like the dev sets): never used to
pick anything. Figures: ``eval/responses_model.json``.
Cost: ``--build`` about 15 minutes on 2 cores; the rest under a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
MODEL = ROOT / "src" / "crux" / "pipeline" / "models" / "responses-lr-3.json"
FIGURES = ROOT / "eval" / "responses_model.json"
TRAIN_SETS = ("pairs_documents.jsonl", "pairs_documents3.jsonl", "links_dev_documents.jsonl",
              "links_dev2_documents.jsonl", "links_dev3_documents.jsonl")
TEST_SETS = {"pairs_documents test split": ("pairs_documents.jsonl", "test"),
             "pairs_documents3 test split (response-enriched)": ("pairs_documents3.jsonl", "test"),
             "links_documents (held-out)": ("links_documents.jsonl", None)}


def _rows(name: str) -> list[dict]:
    path = ROOT / "eval" / name
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def build(store: Path) -> None:
    from eval.links_eval import SHARED

    from crux.crawler.ingest import ingest_paths, iter_files
    from crux.db import connect
    from crux.pipeline import run as run_stages

    con = connect(str(store))
    paths = [SHARED / "lesswrong-2020", SHARED / "seed-feeds"]
    for path in iter_files(paths):
        ingest_paths(con, [path])
    run_stages(con, ["segment", "claims", "embed"], progress=sys.stderr.isatty())
    con.close()


def restage(store: Path) -> None:
    from crux.db import connect
    from crux.pipeline.responses import ResponsesStage

    con = connect(str(store))
    t0 = time.perf_counter()
    r = ResponsesStage(model_path=None).run(con, force=True)
    print(f"responses (rule): {r.summary()} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--build", action="store_true", help="ingest and process a new store first")
    ap.add_argument("--out", type=Path, default=MODEL)
    ap.add_argument("--figures", type=Path, default=FIGURES)
    ap.add_argument("--cv-only", action="store_true",
                    help="cross-validate on the training rows; read no test set, write nothing")
    ap.add_argument("--labelled-only", dest="complete", action="store_false",
                    help="the links_* sets: their labelled rows only, not every candidate of "
                         "their sources (the other candidates are citations by their convention)")
    ap.add_argument("--no-restage", action="store_true",
                    help="the store's responses already carry this code's features")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    import numpy as np
    from lr_trainer import best_threshold, f1_at, fit, grouped_folds, select

    from crux.db import connect
    from crux.htmltext import url_key
    from crux.pipeline.response_model import FEATURES, SIGNALS

    t0 = time.perf_counter()
    if args.build:
        if args.store.exists():
            print(f"{args.store} exists; give a new path to --build", file=sys.stderr)
            return 2
        build(args.store)
    if not args.no_restage:
        restage(args.store)
    con = connect(str(args.store), read_only=True)
    keys = dict(con.execute("SELECT key, document_id FROM document_keys").fetchall())
    # every candidate pair's feature vector, as the stage stored it (parsed once)
    cand = {(s, k): json.loads(ev)["features"] for s, k, ev in con.execute(
        "SELECT source_id, target_key, evidence FROM responses").fetchall()}
    con.close()

    def lookup(r: dict):
        sid = keys.get(url_key(r["source_url"]))
        if sid is None:
            return (None, None), None
        tkey = url_key(r["target_url"])
        tid = keys.get(tkey)
        for k in ([tid] if tid else []) + [tkey]:
            if (sid, k) in cand:
                return (sid, k), cand[(sid, k)]
        return (sid, None), None

    by_source: dict[str, list[tuple[str, list[float]]]] = {}
    reply = FEATURES.index("reply")
    for (s, k), x in cand.items():
        if not x[reply]:  # comment -> parent replies: the rule decides them
            by_source.setdefault(s, []).append((k, x))

    def part(name: str, split: str | None) -> dict:
        """The candidate pairs of a labelled set. The links_* sets label every response of
        their sources, so there (as in ``eval.links_eval``) each other candidate of a labelled
        source is a citation; the pairs_* draws label a sample of links, so only their rows."""
        rows, missing, seen, sources = [], 0, set(), set()
        for r in _rows(name):
            if split is not None and (r.get("split") == "test") != (split == "test"):
                continue
            (sid, k), x = lookup(r)
            y = int(r["relation"] != "cites")
            if sid is not None:
                sources.add(sid)
            if x is None:
                missing += y  # a labelled response the stage never made a candidate
                continue
            if (sid, k) in seen:  # two URLs of one work: one candidate
                continue
            seen.add((sid, k))
            rows.append((sid, x, y))
        if name.startswith("links_") and args.complete:
            for sid in sorted(sources):
                for k, x in by_source.get(sid, []):
                    if (sid, k) not in seen:
                        seen.add((sid, k))
                        rows.append((sid, x, 0))
        return {"rows": rows, "missing": missing}

    train = [p for n in TRAIN_SETS for p in part(n, "train")["rows"]]
    X = np.asarray([d[1] for d in train], dtype=np.float64)
    y = np.asarray([d[2] for d in train])
    groups = np.asarray([d[0] for d in train])
    print(f"train: {len(train)} candidate pairs, {int(y.sum())} responses, "
          f"{len(set(groups))} sources", file=sys.stderr)
    idx = {f: i for i, f in enumerate(FEATURES)}
    subsets = {"all features": np.arange(len(FEATURES)),
               "signals only": np.asarray([idx[s] for s in SIGNALS])}
    results, best = select(X, y, groups, subsets)
    folds = grouped_folds(groups)

    # gradient boosting on the same folds, for comparison (not shippable as JSON weights)
    from sklearn.ensemble import HistGradientBoostingClassifier

    p = np.zeros(len(y))
    for tr, te in folds:
        gb = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200,
                                            random_state=0).fit(X[tr], y[tr])
        p[te] = gb.predict_proba(X[te])[:, 1]
    gb_t, (gb_f1, gb_p, gb_r) = best_threshold(y, p)
    rule = X[:, idx["rule_response"]] > 0.5
    rf1, rp, rr = f1_at(y, rule)
    print(f"  gradient boosting: threshold {gb_t} CV F1 {gb_f1:.3f} (P {gb_p:.3f} R {gb_r:.3f}); "
          f"the rule: F1 {rf1:.3f} (P {rp:.3f} R {rr:.3f})", file=sys.stderr)

    model = {"name": args.out.stem, "features": list(FEATURES), "threshold": best.threshold,
             "C": best.C, "candidate": best.name, "trained": date.today().isoformat(),
             "cv": {"folds": 5, "grouped_by": "source document", "f1": round(best.f1, 4),
                    "precision": round(best.precision, 4), "recall": round(best.recall, 4)},
             "candidates": [r.row() for r in results] + [
                 {"candidate": "gradient boosting (depth 3, 200 rounds)", "threshold": gb_t,
                  "f1": round(gb_f1, 4), "precision": round(gb_p, 4), "recall": round(gb_r, 4)}],
             "rule_cv_rows": {"f1": round(rf1, 4), "precision": round(rp, 4),
                              "recall": round(rr, 4)},
             "train_pairs": len(train), "train_responses": int(y.sum()),
             **fit(X, y, subsets[best.name], best.C)}
    if args.cv_only:
        print(json.dumps({"cv": model["cv"], "rule": model["rule_cv_rows"]}), file=sys.stderr)
        return 0
    mean, scale, coef = (np.asarray(model[k]) for k in ("mean", "scale", "coef"))

    def prf(pred, gold, extra_fn):
        tp = int((pred & (gold == 1)).sum())
        fp = int((pred & (gold == 0)).sum())
        fn = int((~pred & (gold == 1)).sum()) + extra_fn
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        return {"precision": round(pr, 3), "recall": round(rc, 3),
                "f1": round(2 * pr * rc / (pr + rc), 3) if pr + rc else 0.0,
                "tp": tp, "fp": fp, "fn": fn}

    tests = {}
    for label, (name, split) in TEST_SETS.items():
        got = part(name, split)
        rows = got["rows"]
        Xp = np.asarray([d[1] for d in rows], dtype=np.float64).reshape(-1, len(FEATURES))
        gold = np.asarray([d[2] for d in rows])
        prob = 1 / (1 + np.exp(-(((Xp - mean) / scale) @ coef + model["intercept"])))
        tests[label] = {"pairs": len(rows), "responses": int(gold.sum()) + got["missing"],
                        "no candidate": got["missing"],
                        "model": prf(prob >= model["threshold"], gold, got["missing"]),
                        "rule": prf(Xp[:, idx["rule_response"]] > 0.5, gold, got["missing"])}
    model["train_seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({k: v for k, v in model.items()}, separators=(",", ":")) + "\n")
    figures = {k: model[k] for k in ("name", "candidate", "C", "threshold", "cv", "candidates",
                                     "rule_cv_rows", "train_pairs", "train_responses",
                                     "train_seconds")}
    figures["test"] = tests
    args.figures.write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps({"cv": model["cv"], "test": tests}, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
