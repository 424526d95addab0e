"""Horizon rules on the train + dev forecasts (never test): right when labelled, none invented.

    PYTHONPATH=src python -m eval.horizon_dev [-v]

Counts, for the labelled forecasts of ``sentences.jsonl`` and ``forecast_sentences.jsonl``
(train and dev splits only), how often :func:`crux.pipeline.horizons.resolve_horizon` gives the
labelled horizon, and how often it gives one where the label is null; the same for the earlier
rule (the detector's frozen signal, ``forecasts._detector_horizon``). ``-v`` prints the misses.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from crux.pipeline.forecasts import _detector_horizon
from crux.pipeline.horizons import resolve_horizon

HERE = Path(__file__).parent


def rows() -> list[dict]:
    out = []
    for name in ("sentences.jsonl", "forecast_sentences.jsonl"):
        path = HERE / name
        if not path.exists():
            continue
        for line in path.open(encoding="utf-8"):
            r = json.loads(line)
            if r["split"] in ("train", "dev") and r.get("forecast"):
                out.append(r)
    return out


def score(rule, data: list[dict], verbose: bool = False) -> tuple[int, int, int, int]:
    """(right, labelled, invented, labelled null)."""
    right = labelled = invented = null = 0
    for r in data:
        pub = date.fromisoformat(r["published_at"][:10]) if r.get("published_at") else None
        got, written = rule(r["text"], pub)
        gold = r.get("horizon")
        ok = (str(got) == gold) if gold else got is None
        if gold:
            labelled += 1
            right += ok
        else:
            null += 1
            invented += not ok
        if verbose and not ok:
            print(f"pub {pub} label {gold} got {got} ({written!r})\n    {r['text'][:300]}")
    return right, labelled, invented, null


def main() -> int:
    data = rows()
    for name, rule in (("earlier rule (detector signal)", _detector_horizon),
                       ("horizon rules", resolve_horizon)):
        right, labelled, invented, null = score(rule, data, "-v" in sys.argv and rule is resolve_horizon)
        print(f"{name}: right on {right} of {labelled} labelled; invented on {invented} of {null} "
              "labelled null")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
