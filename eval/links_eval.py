"""Debate links: precision and recall of ``responses`` and ``claim_links`` against labels.

Two sets:

- ``demo`` (development; tuned on): ``eval/demo-expected.json`` for the bundled demo corpus.
- ``test`` (held out, never tuned on): ``eval/links_documents.jsonl`` and
  ``eval/links_claims.jsonl``, labelled by hand from the shared LessWrong 2020 corpus and the
  April 2026 LessWrong seed feed (needs ``CRUX_SHARED``, default ``/work/shared``).

A document pair counts as a response when its relation is not ``cites``. The baseline calls
every hyperlink a response (comments have no links, so it misses replies). Claim links match
on document pair and sentence text (normalised; containment either way).

``python -m eval.links_eval`` prints the tables; :func:`run` returns them as a dict.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SHARED = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"
RELATIONS = ("rebuts", "supports", "extends", "cites")


def _norm(t: str) -> str:
    from crux.pipeline.stance import normalise
    return normalise(t)


def build(db_path: str, paths: list[Path], *, sources: dict[str, str] | None = None) -> Any:
    """Ingest ``paths`` into a fresh database and run every available stage."""
    from crux.crawler.ingest import ingest_file, iter_files
    from crux.db import connect
    from crux.pipeline._segment_lite import run_pipeline

    con = connect(db_path)
    for path in iter_files(paths):
        ingest_file(con, path, source=(sources or {}).get(path.name))
    run_pipeline(con)
    return con


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    return {"precision": None if p is None else round(p, 3), "recall": None if r is None else round(r, 3),
            "tp": tp, "fp": fp, "fn": fn}


def score_responses(con: Any, gold: list[dict]) -> dict[str, Any]:
    """gold: {source, target, relation} with URLs. Pairs outside the gold set count as errors only
    when their source is a labelled document (unlabelled documents are not judged)."""
    from crux.htmltext import url_key

    keys = {r[0]: r[1] for r in con.execute("SELECT url_key, id FROM documents").fetchall()}

    def dk(url: str) -> str:
        k = url_key(url)
        return keys.get(k, k)

    g = {(dk(r["source"]), dk(r["target"])): r["relation"] for r in gold}
    judged = {s for s, _ in g}
    pred = {(r[0], r[1] if r[1] in keys.values() else r[1]): r[2] for r in con.execute(
        "SELECT source_id, coalesce(target_id, target_key), relation FROM responses").fetchall()}
    pred = {k: v for k, v in pred.items() if k[0] in judged}
    links = {(r[0], r[1]) for r in con.execute(
        "SELECT source_id, coalesce(target_id, target_key) FROM links").fetchall() if r[0] in judged}
    out: dict[str, Any] = {"pairs": len(g)}

    def detect(p: dict) -> dict[str, Any]:
        pos = {k for k, v in p.items() if v != "cites"}
        gpos = {k for k, v in g.items() if v != "cites"}
        return _prf(len(pos & gpos), len(pos - gpos), len(gpos - pos))

    out["response"] = detect(pred)
    out["baseline"] = detect({k: "response" for k in links})
    per = {}
    for rel in RELATIONS:
        pp = {k for k, v in pred.items() if v == rel}
        gg = {k for k, v in g.items() if v == rel}
        per[rel] = _prf(len(pp & gg), len(pp - gg), len(gg - pp))
    out["per_relation"] = per
    both = [k for k in g if k in pred and g[k] != "cites" and pred[k] != "cites"]
    out["relation_accuracy_on_detected"] = round(sum(pred[k] == g[k] for k in both) / len(both), 3) if both else None
    out["errors"] = sorted(
        [f"{g.get(k, '-')} -> {pred.get(k, '-')}: {k[0]} -> {k[1]}" for k in set(g) | set(pred)
         if g.get(k, "cites") != pred.get(k, "cites") or (k in g and k in pred and g[k] != pred[k])])
    return out


def score_claims(con: Any, gold: list[dict]) -> dict[str, Any]:
    from crux.htmltext import url_key

    keys = {r[0]: r[1] for r in con.execute("SELECT url_key, id FROM documents").fetchall()}
    rows = con.execute(
        "SELECT l.source_document_id, coalesce(l.target_document_id, ''), s.text, "
        "coalesce(t.text, l.target_text), l.relation, l.method FROM claim_links l "
        "JOIN sentences s ON s.id = l.source_sentence_id LEFT JOIN sentences t ON t.id = l.target_sentence_id"
    ).fetchall()
    judged = {keys.get(url_key(r["source_url"])) for r in gold}
    rows = [r for r in rows if r[0] in judged]

    def same(a: str, b: str) -> bool:
        a, b = _norm(a), _norm(b)
        return bool(a) and bool(b) and (a == b or (min(len(a), len(b)) >= 20 and (a in b or b in a)))

    matched_pred: set[int] = set()
    tp = rel_ok = 0
    for gl in gold:
        s = keys.get(url_key(gl["source_url"]))
        t = keys.get(url_key(gl["target_url"]), "") if gl.get("target_url") else ""
        for i, r in enumerate(rows):
            if r[0] == s and (r[1] == t or (not r[1] and not t)) and same(r[2], gl["source_sentence"]) \
                    and same(r[3], gl["target_sentence"]):
                tp += 1
                matched_pred.add(i)
                rel_ok += r[4] == gl["relation"]
                break
    out = _prf(tp, len(rows) - len(matched_pred), len(gold) - tp)
    out["relation_accuracy_on_found"] = round(rel_ok / tp, 3) if tp else None
    out["gold"] = len(gold)
    out["predicted"] = len(rows)
    return out


def demo(tmp: str) -> dict[str, Any]:
    from crux.demo import DEMO_DIR, DEMO_SOURCES

    con = build(str(Path(tmp) / "demo.duckdb"), [DEMO_DIR], sources=DEMO_SOURCES)
    expected = json.loads((HERE / "demo-expected.json").read_text())
    try:
        return {"responses": score_responses(con, expected["responses"]),
                "claim_links": score_claims(con, expected["claim_links"])}
    finally:
        con.close()


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_set(tmp: str) -> dict[str, Any] | None:
    docs, claims = HERE / "links_documents.jsonl", HERE / "links_claims.jsonl"
    if not docs.exists() or not SHARED.exists():
        return None
    gdocs, gclaims = _jsonl(docs), _jsonl(claims) if claims.exists() else []
    con = build(str(Path(tmp) / "test.duckdb"), [SHARED / "lesswrong-2020", SHARED / "seed-feeds"])
    try:
        return {"responses": score_responses(con, gdocs), "claim_links": score_claims(con, gclaims)}
    finally:
        con.close()


def run(*, test: bool = True, verbose: bool = False) -> dict[str, Any]:
    """Both sets' figures (the held-out set only when its files and the shared corpora exist)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, Any] = {"demo": demo(tmp)}
        if test:
            out["test"] = test_set(tmp)
    if not verbose:
        for s in out.values():
            if s:
                s["responses"].pop("errors", None)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def report(results: dict[str, Any]) -> str:
    lines = ["## Debate links"]
    for name in ("demo", "test"):
        s = results.get(name)
        if not s:
            continue
        r, c = s["responses"], s["claim_links"]
        lines.append(f"{name}: responses P={r['response']['precision']} R={r['response']['recall']} "
                     f"(baseline every-link P={r['baseline']['precision']} R={r['baseline']['recall']}); "
                     f"relation accuracy {r['relation_accuracy_on_detected']}")
        for rel, m in r["per_relation"].items():
            lines.append(f"  {rel:9} P={m['precision']} R={m['recall']} (tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
        lines.append(f"  claim links P={c['precision']} R={c['recall']} ({c['tp']}/{c['gold']} found, "
                     f"{c['predicted']} predicted); relation accuracy {c['relation_accuracy_on_found']}")
    return "\n".join(lines)


if __name__ == "__main__":
    res = run(test="--demo" not in sys.argv, verbose="-v" in sys.argv)
    print(report(res))
    if "-v" in sys.argv:
        for name in ("demo", "test"):
            if res.get(name):
                print(f"--- {name} errors")
                print("\n".join(res[name]["responses"]["errors"]))
