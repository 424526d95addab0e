"""Sample same-event forecast pairs for a blind second labelling pass (inter-annotator agreement).

Rule: one ``random.Random(20261203)``, used in this order: 40 pairs uniformly without replacement
from ``forecast_pairs_pool.jsonl``, 30 from ``forecast_pairs2_pool.jsonl``, and all rows of
``forecast_pairs3_pool.jsonl`` if it has fewer than 20, else 20 of them. Only the fields
``pair_id, a_text, b_text, a_published_at, b_published_at, draw`` are kept. The pools hold no
labels; the first labeller's ``forecast_pairs.jsonl`` is not read.

Usage: python -m eval.sample_forecast_pairs_agreement OUT.jsonl
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20261203
FIELDS = ("pair_id", "a_text", "b_text", "a_published_at", "b_published_at", "draw")
POOLS = (("forecast_pairs_pool.jsonl", 40), ("forecast_pairs2_pool.jsonl", 30),
         ("forecast_pairs3_pool.jsonl", 20))


def _read(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sample() -> list[dict]:
    rng = random.Random(SEED)
    out: list[dict] = []
    for name, k in POOLS:
        rows = _read(name)
        picked = rows if len(rows) < k else rng.sample(rows, k)
        out.extend({f: r[f] for f in FIELDS} for r in picked)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "w", encoding="utf-8") as f:
        for row in sample():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
