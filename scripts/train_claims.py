"""Train the claim classifier shipped in src/crux/pipeline/models/claims-lr-2.json.

    .venv/bin/python scripts/train_claims.py [--data eval/sentences.jsonl] [--out PATH]

Reads the ``train`` and ``dev`` splits of the labelled sentences (never ``test``: that is for
``python -m eval``). Sentences the stage never classifies (quoted, headings, questions: see
``crux.pipeline.claims.is_candidate``) are left out. Candidates, each a logistic regression
with C from a grid, picked by 5-fold cross-validation grouped by document
(``scripts/lr_trainer.py``): the hand-made spaCy features alone, the all-MiniLM-L6-v2 vector
alone, and both. The best is refit on all of train + dev; its threshold is the one that
maximised the pooled out-of-fold F1. Cost: about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "eval" / "sentences.jsonl")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "src" / "crux" / "pipeline" / "models" / "claims-lr-2.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    import numpy as np
    from lr_trainer import train_and_save, train_rows

    from crux.pipeline.claims import feature_matrix, is_candidate
    from crux.pipeline.features import FEATURE_NAMES, load_nlp

    train = [r for r in train_rows(args.data)
             if is_candidate(r["text"], r.get("block", "paragraph"), r.get("in_quote", False))]
    nlp = load_nlp()
    docs = list(nlp.pipe([r["text"].strip() for r in train], batch_size=64))
    X = feature_matrix(docs, [r.get("block", "paragraph") for r in train])
    y = np.asarray([int(r["claim"]) for r in train])
    groups = np.asarray([r["doc"] for r in train])
    nh = len(FEATURE_NAMES)
    print(f"train+dev: {len(train)} candidate sentences, {int(y.sum())} claims, "
          f"{len(set(groups))} documents", file=sys.stderr)
    subsets = {"hand": np.arange(nh), "minilm": np.arange(nh, X.shape[1]),
               "hand+minilm": np.arange(X.shape[1])}
    train_and_save(X, y, groups, subsets, name="claims-lr-2",
                   features=list(FEATURE_NAMES) + [f"emb{i}" for i in range(X.shape[1] - nh)],
                   out=args.out, t0=t0,
                   extra={"train_sentences": len(train), "train_claims": int(y.sum())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
