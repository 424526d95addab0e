"""Join the labellers' output files with the sampled pools into the files under ``eval/``.

    python scripts/merge_labels.py LABEL_DIR

``LABEL_DIR`` holds the pools (``sentences_pool.jsonl`` and ``sentences_pool2.jsonl`` (the
``--enriched`` draw), ``sentences_pool3.jsonl`` (the ``--third`` draw, forecast labels only:
``sent3_*.jsonl``, written to ``eval/forecast_sentences.jsonl``), ``pairs_docs.jsonl``,
``pairs_sents.jsonl``, drawn by ``eval/sample_sentences.py`` and ``eval/sample_pairs.py``) and
``out/`` with the labellers' files (``sent_*.jsonl``, ``sent2_*.jsonl``, ``docpairs_*.jsonl``,
``sentpairs_*.jsonl``, one JSON line per labelled id). Writes ``eval/sentences.jsonl``,
``eval/pairs_documents.jsonl`` and ``eval/pairs_sentences.jsonl``: the pool's fields plus the
labels, only for labelled ids, in pool order. A second labeller's files (``*_agree.jsonl``)
are written as ``eval/*_agreement.jsonl`` (id and that labeller's labels).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENT_LABELS = ("claim", "kind", "forecast", "form", "probability", "low", "high", "horizon",
               "event", "holder", "condition", "unsure")


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _labels(paths: list[Path]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in paths:
        for r in _read(p):
            out[r["id"]] = r
    return out


def main(label_dir: str) -> int:
    d = Path(label_dir)
    jobs = [(("sentences_pool.jsonl", "sentences_pool2.jsonl"), ("sent_", "sent2_"),
             "sentences.jsonl"),
            (("pairs_docs.jsonl",), ("docpairs_",), "pairs_documents.jsonl"),
            (("pairs_sents.jsonl",), ("sentpairs_",), "pairs_sentences.jsonl"),
            (("sentences_pool3.jsonl",), ("sent3_",), "forecast_sentences.jsonl")]
    for pool_names, prefixes, out_name in jobs:
        firsts = sorted(p for prefix in prefixes for p in (d / "out").glob(prefix + "*.jsonl")
                        if "agree" not in p.name)
        labels = _labels(firsts)
        prefix = prefixes[0]
        rows = []
        if not any((d / name).exists() for name in pool_names):
            continue  # that pool is not in this folder: leave its file alone
        pool = [r for name in pool_names if (d / name).exists() for r in _read(d / name)]
        for r in pool:
            lab = labels.get(r["id"])
            if lab is None:
                continue
            r = dict(r)
            if prefix in ("sent_", "sent3_"):
                # the context the labellers saw (prev, next) is left out to keep the file small;
                # ``python -m eval.sample_sentences`` draws it again from ../shared
                r.pop("prev", None)
                r.pop("next", None)
                for k in SENT_LABELS:
                    r[k] = lab.get(k)
                r["forecast"] = int(bool(lab.get("forecast")))
                # the third draw is labelled for forecasts only
                r["claim"] = None if prefix == "sent3_" else int(bool(lab.get("claim")))
            else:
                r["relation"] = lab.get("relation")
                if lab.get("note"):
                    r["note"] = lab["note"]
                r["unsure"] = bool(lab.get("unsure"))
            rows.append(r)
        (ROOT / "eval" / out_name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"{out_name}: {len(rows)} labelled rows", file=sys.stderr)
        agree = sorted(p for pre in prefixes for p in (d / "out").glob(pre + "*agree*.jsonl"))
        if agree:
            second = _labels(agree)
            name = out_name.replace(".jsonl", "_agreement.jsonl")
            (ROOT / "eval" / name).write_text("".join(
                json.dumps(second[k], ensure_ascii=False) + "\n" for k in sorted(second)))
            print(f"{name}: {len(second)} relabelled rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
