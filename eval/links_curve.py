"""Precision and recall of debate links by score cut-off, on the development sets only.

``python -m eval.links_curve [--demo]`` builds the demo set and the three real dev sets as
:mod:`eval.links_eval` does (the real pipeline in a temporary DuckDB), then for each cut-off
drops the responses and claim links scored below it (inside a transaction that is rolled
back) and scores what is left. It never builds or reads the held-out set. The site's default
cut-off (:data:`crux.analysis.debates.DEFAULT_MIN_SCORE`) is chosen from its output; the table
is kept in EVALUATION.md ("Debate link cut-off").
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eval import links_eval as le

CUTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _sets(tmp: str, only_demo: bool) -> list[tuple[str, Any, list[dict], list[dict]]]:
    """(name, open connection, gold responses, gold claim links) for each development set."""
    from crux.demo import DEMO_DIR, DEMO_SOURCES

    expected = json.loads((le.HERE / "demo-expected.json").read_text())
    con = le.build(str(Path(tmp) / "demo.duckdb"), [DEMO_DIR], sources=DEMO_SOURCES)
    out = [("demo", con, expected["responses"], expected["claim_links"])]
    if only_demo:
        return out
    for name, stem in (("dev", "links_dev"), ("dev2", "links_dev2"), ("dev3", "links_dev3")):
        docs, claims = le.HERE / f"{stem}_documents.jsonl", le.HERE / f"{stem}_claims.jsonl"
        if not docs.exists() or not le.LW2020.exists():
            continue
        gdocs, gclaims = le._jsonl(docs), le._jsonl(claims) if claims.exists() else []
        sub = Path(tmp) / f"lesswrong-2020-{name}.json"
        le.lw_subset({le._src(r) for r in gdocs} | {r["source_url"] for r in gclaims}, sub)
        out.append((name, le.build(str(Path(tmp) / f"{name}.duckdb"), [sub]), gdocs, gclaims))
    return out


def curve(con: Any, gdocs: list[dict], gclaims: list[dict]) -> list[dict[str, Any]]:
    """One row per cut-off: response and claim-link precision/recall with lower scores dropped."""
    rows = []
    for cut in CUTS:
        con.execute("BEGIN")
        con.execute("DELETE FROM responses WHERE score < ?", [cut])
        con.execute("DELETE FROM claim_links WHERE score < ?", [cut])
        r = le.score_responses(con, gdocs)["response"]
        c = le.score_claims(con, gclaims)
        con.execute("ROLLBACK")
        rows.append({"cut": cut, "responses": {k: r[k] for k in ("precision", "recall", "tp", "fp", "fn")},
                     "claim_links": {k: c[k] for k in ("precision", "recall", "tp", "fp", "fn")}})
    return rows


def _pooled(per_set: dict[str, list[dict[str, Any]]], names: list[str], what: str) -> list[str]:
    cells = []
    for i, _ in enumerate(CUTS):
        tp = sum(per_set[n][i][what]["tp"] for n in names)
        fp = sum(per_set[n][i][what]["fp"] for n in names)
        fn = sum(per_set[n][i][what]["fn"] for n in names)
        p = le._f(tp / (tp + fp) if tp + fp else None)
        r = le._f(tp / (tp + fn) if tp + fn else None)
        cells.append(f"{p} / {r}")
    return cells


def table(per_set: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: precision / recall per cut-off, per set and pooled over the real dev sets."""
    head = "| set | links | " + " | ".join(f"≥ {c:.1f}" for c in CUTS) + " |"
    lines = [head, "| --- | --- | " + " | ".join("---" for _ in CUTS) + " |"]
    real = [n for n in per_set if n != "demo"]
    for what, label in (("responses", "responses"), ("claim_links", "claim links")):
        for name, rows in per_set.items():
            cells = []
            for row in rows:
                m = row[what]
                cells.append(f"{le._f(m['precision'])} / {le._f(m['recall'])}")
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
        if real:
            lines.append(f"| real dev pooled | {label} | " + " | ".join(_pooled(per_set, real, what)) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        per_set = {}
        for name, con, gdocs, gclaims in _sets(tmp, "--demo" in argv):
            try:
                per_set[name] = curve(con, gdocs, gclaims)
            finally:
                con.close()
            print(f"{name}: done after {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    print(table(per_set))
    print(f"\n{time.perf_counter() - t0:.0f} s; cells are precision / recall")
    if "--json" in argv:
        print(json.dumps(per_set))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
