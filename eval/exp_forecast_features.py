"""Cross-validated trial of extra features and heads for the forecast detector (not shipped).

    PYTHONPATH=src .venv/bin/python -m eval.exp_forecast_features [--cache DIR] [--only NAME ...]

Reads only the ``train`` and ``dev`` splits of ``eval/sentences.jsonl`` and
``eval/forecast_sentences.jsonl`` (``scripts/lr_trainer.train_rows``; never ``test``), the
candidate sentences exactly as ``scripts/train_forecasts.py`` does, and scores every candidate
with the same 5 folds grouped by document (``lr_trainer.grouped_folds``) and the same
threshold rule (the one that maximises the pooled out-of-fold F1). Candidates:

- ``rules+minilm`` LR over ``lr_trainer.C_GRID``: the shipped recipe, reproduced.
- ``+skeleton``: the MiniLM vector of the sentence's *skeleton* (nouns, proper nouns,
  adjectives and numbers replaced by ``X``, except likelihood, hedge, time and year words)
  concatenated.
- ``+prev``: the MiniLM vector of the preceding sentence and the sentence together (the
  documents re-segmented as the sample was drawn, ``eval.sample_sentences``).
- MLP heads (``sklearn.neural_network.MLPClassifier``) on rules+minilm and on the best set.
- balanced class weights for the LR.

Features are cached under ``--cache`` (default ``/tmp/fcexp-cache``). Prints one line per
(candidate, hyper-parameter) and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

DATA = (ROOT / "eval" / "sentences.jsonl", ROOT / "eval" / "forecast_sentences.jsonl")
CONTENT_POS = frozenset(("NOUN", "PROPN", "ADJ", "NUM"))
# Content-class words that carry the forecast signal: never replaced in the skeleton.
KEEP = re.compile(
    r"^(likely|unlikely|likelihood|probable|improbable|probability|probabilities|possible|"
    r"impossible|possibility|certain|uncertain|certainty|sure|unsure|confident|confidence|"
    r"doubtful|plausible|implausible|chance|chances|odds|risk|risks|credence|credences|"
    r"expectation|expectations|prediction|predictions|forecast|forecasts|guess|bet|estimate|"
    r"future|next|soon|upcoming|eventual|year|years|month|months|week|weeks|day|days|decade|"
    r"decades|century|centuries|time|today|tomorrow|later|end|percent|%|"
    r"(?:19|20|21)\d\d|one|half|few|several|many|most|much|more|less|other|same|new)$",
    re.I,
)


def rows() -> list[dict[str, Any]]:
    from lr_trainer import train_rows

    from crux.pipeline.forecasts import is_candidate

    return [r for path in DATA for r in train_rows(path) if is_candidate(r["text"])]


def skeleton(nlp: Any, texts: list[str]) -> list[str]:
    """Each text with its content words (:data:`CONTENT_POS`, bar :data:`KEEP`) as ``X``, runs
    of ``X`` collapsed to one."""
    out = []
    for doc in nlp.pipe(texts, batch_size=64):
        words: list[str] = []
        for t in doc:
            w = "X" if t.pos_ in CONTENT_POS and not KEEP.match(t.text) else t.text
            if w == "X" and words and words[-1] == "X":
                continue
            words.append(w + t.whitespace_ if w != "X" else "X ")
        out.append("".join(words).strip())
    return out


def previous_sentences(train: list[dict[str, Any]]) -> list[str]:
    """The sentence before each row's, from its document re-segmented as the sample was."""
    from crux.pipeline import nlp as _nlp
    from crux.pipeline.segment import html_blocks, split_sentences
    from eval.sample_sentences import posts

    shared = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"
    want = {r["doc"] for r in train}
    nlp = _nlp.sentence_pipeline()
    sents: dict[str, list[str]] = {}
    for post in posts(shared):
        if post["doc"] in want:
            sents[post["doc"]] = [s.text for s in
                                  split_sentences(nlp, [html_blocks(post["html"])])[0]]
    prev, bad = [], 0
    for r in train:
        doc = sents.get(r["doc"], [])
        i = int(r["id"].rsplit(":s", 1)[1])
        if i >= len(doc) or doc[i].strip() != r["text"].strip():
            bad += 1
        prev.append(doc[i - 1] if 0 < i <= len(doc) else "")
    print(f"previous sentences: {len(train) - bad} of {len(train)} rows re-found", file=sys.stderr)
    return prev


def features(cache: Path) -> dict[str, Any]:
    import numpy as np

    from crux.pipeline.features import encode, load_nlp
    from crux.pipeline.forecasts import forecast_features

    cache.mkdir(parents=True, exist_ok=True)
    f = cache / "features.npz"
    if f.exists():
        return dict(np.load(f))
    train = rows()
    t0 = time.perf_counter()
    hand = np.asarray([forecast_features(r["text"], date.fromisoformat(r["published_at"])
                                         if r.get("published_at") else None, r["in_quote"])
                       for r in train], dtype=np.float64)
    texts = [r["text"].strip() for r in train]
    emb = encode(texts).astype(np.float64)
    t1 = time.perf_counter()
    skel_texts = skeleton(load_nlp(), texts)
    skel = encode(skel_texts).astype(np.float64)
    t2 = time.perf_counter()
    prev = previous_sentences(train)
    ctx = encode([(p.strip() + " " + t).strip() for p, t in zip(prev, texts, strict=True)])
    t3 = time.perf_counter()
    (cache / "skeletons.txt").write_text("\n".join(skel_texts) + "\n")
    out = {"y": np.asarray([int(r["forecast"]) for r in train]),
           "groups": np.asarray([r["doc"] for r in train]), "hand": hand, "emb": emb,
           "skel": skel, "ctx": ctx.astype(np.float64),
           "seconds": np.asarray([t1 - t0, t2 - t1, t3 - t2])}
    np.savez(f, **out)
    print(f"features: rules+minilm {t1 - t0:.0f}s, skeleton {t2 - t1:.0f}s, "
          f"prev+sentence {t3 - t2:.0f}s", file=sys.stderr)
    return out


def mlp_cv(X: Any, y: Any, folds: list[tuple[Any, Any]], name: str,
           grid: list[dict[str, Any]]) -> list[Any]:
    """Each MLP configuration of ``grid`` scored like the LRs (pooled out-of-fold probabilities,
    best threshold)."""
    import numpy as np
    from lr_trainer import Result, best_threshold
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    results = []
    for cfg in grid:
        t0 = time.perf_counter()
        p = np.zeros(len(y))
        for tr, te in folds:
            sc = StandardScaler().fit(X[tr])
            clf = MLPClassifier(hidden_layer_sizes=(cfg["hidden"],), alpha=cfg["alpha"],
                                max_iter=cfg.get("iter", 60), early_stopping=False,
                                learning_rate_init=1e-3, batch_size=64, random_state=0)
            clf.fit(sc.transform(X[tr]), y[tr])
            p[te] = clf.predict_proba(sc.transform(X[te]))[:, 1]
        t, (f1, prec, rec) = best_threshold(y, p)
        label = f"hidden={cfg['hidden']} alpha={cfg['alpha']} iter={cfg.get('iter', 60)}"
        results.append(Result(f"{name} [{label}]", cfg["alpha"], t, f1, prec, rec))
        print(f"  {name:>22} {label}  threshold {t:.3f}  CV F1 {f1:.3f} (P {prec:.3f} "
              f"R {rec:.3f})  {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return results


def oof(X: Any, y: Any, folds: list[tuple[Any, Any]], cols: Any, C: float) -> Any:
    """Pooled out-of-fold probabilities of the LR (as ``lr_trainer.select`` fits it)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    p = np.zeros(len(y))
    for tr, te in folds:
        sc = StandardScaler().fit(X[tr][:, cols])
        clf = LogisticRegression(C=C, max_iter=3000).fit(sc.transform(X[tr][:, cols]), y[tr])
        p[te] = clf.predict_proba(sc.transform(X[te][:, cols]))[:, 1]
    return p


def bootstrap(X: Any, y: Any, groups: Any, folds: list[tuple[Any, Any]], base: Any,
              others: dict[str, Any], summary: dict[str, Any], n: int = 2000) -> dict[str, Any]:
    """F1 gain over rules+minilm of each candidate at its CV (C, threshold), with a 90%
    interval from resampling documents (the out-of-fold predictions held fixed)."""
    import numpy as np
    from lr_trainer import f1_at

    def pred(name: str, cols: Any) -> Any:
        row = summary[name]
        return oof(X, y, folds, cols, row["C"]) >= row["threshold"]

    docs = sorted(set(groups))
    idx_of = {d: np.where(groups == d)[0] for d in docs}
    rng = np.random.default_rng(20261203)
    samples = [np.concatenate([idx_of[docs[i]] for i in rng.integers(0, len(docs), len(docs))])
               for _ in range(n)]
    b = pred("rules+minilm", base)
    out = {}
    for name, cols in others.items():
        o = pred(name, cols)
        gains = np.asarray([f1_at(y[s], o[s])[0] - f1_at(y[s], b[s])[0] for s in samples])
        out[name] = {"gain": round(f1_at(y, o)[0] - f1_at(y, b)[0], 4),
                     "p05": round(float(np.quantile(gains, 0.05)), 4),
                     "p95": round(float(np.quantile(gains, 0.95)), 4),
                     "share_above_0": round(float((gains > 0).mean()), 3)}
        print(f"  bootstrap {name}: {out[name]}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    import warnings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fcexp-cache"))
    ap.add_argument("--only", nargs="*", default=None,
                    help="candidate groups: lr, skel, prev, balanced, mlp, boot")
    ap.add_argument("--small-c", action="store_true",
                    help="add C 0.0001 and 0.0003 to lr_trainer.C_GRID (its best is at 0.001)")
    args = ap.parse_args(argv)
    import lr_trainer
    import numpy as np
    from lr_trainer import grouped_folds, select

    if args.small_c:
        lr_trainer.C_GRID = (0.0001, 0.0003, *lr_trainer.C_GRID)
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    F = features(args.cache)
    y, groups = F["y"], F["groups"]
    print(f"train+dev: {len(y)} candidate sentences, {int(y.sum())} forecasts, "
          f"{len(set(groups))} documents", file=sys.stderr)
    folds = grouped_folds(groups)
    X = np.hstack([F["hand"], F["emb"], F["skel"], F["ctx"]])
    nh, d = F["hand"].shape[1], F["emb"].shape[1]
    base = np.arange(nh + d)
    skel = np.arange(nh + d, nh + 2 * d)
    ctx = np.arange(nh + 2 * d, nh + 3 * d)
    only = set(args.only or ("lr", "skel", "prev", "balanced", "mlp"))
    summary: dict[str, Any] = {}
    timing: dict[str, float] = {}

    def run(group: str, subsets: dict[str, Any], **kw: Any) -> None:
        t0 = time.perf_counter()
        res, best = select(X, y, groups, subsets, folds=folds, **kw)
        timing[group] = round(time.perf_counter() - t0, 1)
        for name in subsets:
            b = max((r for r in res if r.name == name), key=lambda r: r.f1)
            summary[name + ("" if not kw else " (balanced)")] = b.row()

    if "lr" in only:
        run("lr", {"rules+minilm": base})
    if "skel" in only:
        run("skel", {"rules+skeleton": np.r_[np.arange(nh), skel],
                     "rules+minilm+skeleton": np.r_[base, skel]})
    if "prev" in only:
        run("prev", {"rules+minilm+prev": np.r_[base, ctx],
                     "rules+minilm+skeleton+prev": np.r_[base, skel, ctx]})
    if "balanced" in only:
        run("balanced", {"rules+minilm": base}, class_weight="balanced")
    if "mlp" in only:
        grid = [{"hidden": h, "alpha": a} for h in (32, 128) for a in (1.0, 10.0)]
        t0 = time.perf_counter()
        for name, cols in (("mlp rules+minilm", base),
                           ("mlp rules+minilm+skeleton", np.r_[base, skel])):
            res = mlp_cv(X[:, cols], y, folds, name, grid)
            b = max(res, key=lambda r: r.f1)
            summary[name] = {**b.row(), "configs": len(grid)}
        timing["mlp"] = round(time.perf_counter() - t0, 1)
    if "boot" in only:
        summary["bootstrap"] = bootstrap(X, y, groups, folds, base, {
            "rules+minilm+skeleton": np.r_[base, skel], "rules+minilm+prev": np.r_[base, ctx],
            "rules+minilm+skeleton+prev": np.r_[base, skel, ctx]}, summary)
    print(json.dumps({"candidates": summary, "seconds": timing,
                      "feature_seconds": [round(float(s), 1) for s in F["seconds"]]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
