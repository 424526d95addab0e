"""Train the forecast detector shipped in src/crux/pipeline/models/forecasts-lr-2.json.

    .venv/bin/python scripts/train_forecasts.py [--data FILE ...] [--out PATH]

Reads the ``train`` and ``dev`` splits of the labelled sentences (never ``test``: that is for
``python -m eval``): ``eval/sentences.jsonl`` and ``eval/forecast_sentences.jsonl`` (the third
draw, labelled for forecasts only). The model is named after ``--out``'s file name. Only the sentences the stage scores are used
(:func:`crux.pipeline.forecasts.is_candidate`). Candidates, each a logistic regression with C
from a grid, picked by 5-fold cross-validation grouped by document (``scripts/lr_trainer.py``):
the rule signals alone (:data:`crux.pipeline.forecasts.FORECAST_FEATURES`), the
all-MiniLM-L6-v2 vector alone, and both. The best is refit on all of train + dev; its
threshold is the one that maximised the pooled out-of-fold F1. Cost: about two minutes on two
cores (encoding ~4,000 sentences and 75 small fits).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, nargs="+",
                    default=[ROOT / "eval" / "sentences.jsonl",
                             ROOT / "eval" / "forecast_sentences.jsonl"])
    ap.add_argument("--out", type=Path,
                    default=ROOT / "src" / "crux" / "pipeline" / "models" / "forecasts-lr-2.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    import numpy as np
    from lr_trainer import train_and_save, train_rows

    from crux.pipeline.features import encode
    from crux.pipeline.forecasts import FORECAST_FEATURES, forecast_features, is_candidate

    train = [r for path in args.data for r in train_rows(path) if is_candidate(r["text"])]
    y = np.asarray([int(r["forecast"]) for r in train])
    groups = np.asarray([r["doc"] for r in train])
    hand = np.asarray([forecast_features(r["text"], date.fromisoformat(r["published_at"])
                                         if r.get("published_at") else None, r["in_quote"])
                       for r in train], dtype=np.float64)
    emb = encode([r["text"].strip() for r in train]).astype(np.float64)
    X = np.hstack([hand, emb])
    nh = hand.shape[1]
    print(f"train+dev: {len(train)} candidate sentences, {int(y.sum())} forecasts, "
          f"{len(set(groups))} documents", file=sys.stderr)
    subsets = {"rules": np.arange(nh), "minilm": np.arange(nh, X.shape[1]),
               "rules+minilm": np.arange(X.shape[1])}
    train_and_save(X, y, groups, subsets, name=args.out.stem,
                   features=list(FORECAST_FEATURES) + [f"emb{i}" for i in range(emb.shape[1])],
                   out=args.out, t0=t0,
                   extra={"train_sentences": len(train), "train_forecasts": int(y.sum())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
