"""A learned filter over the claim links the stage makes (#17): cross-validated on the dev sets.

``PYTHONPATH=src python -m eval.exp_claim_link_filter`` builds the three real development sets of
"Debate links" (``eval.links_eval.real_store``: their LessWrong 2020 posts and in-corpus
link targets, the real pipeline), takes every claim link the stage makes in a labelled source
document, marks it right when it matches a labelled link (``eval.links_eval.score_claims``'s
rule, ``match_claims``) and cross-validates a
logistic regression over the link's features, 5 folds grouped by source document. The recall
denominator is every labelled link of the fold's documents, so the links the stage never makes
count as misses. Compared with keeping every link (the stage today) and with a cut-off on the
stage's own score. The held-out set is never built here.

Features: the method (one-hot), attacks or supports, the stage's score, an outside target, the
document pair's response relation and score, whether the source and target sentences are claims
(and their claim scores), their lengths, the cosine of their MiniLM vectors, and how many links
the source sentence and the source document have.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from eval.links_eval import HERE, match_claims, real_store

METHODS = ("quote-reply", "quote-answer", "concession", "paraphrase", "reply")
RELATIONS = ("rebuts", "supports", "extends", "cites")
SETS = {"dev": ("links_dev_documents.jsonl", "links_dev_claims.jsonl"),
        "dev2": ("links_dev2_documents.jsonl", "links_dev2_claims.jsonl"),
        "dev3": ("links_dev3_documents.jsonl", "links_dev3_claims.jsonl")}


def rows_of(con, gold: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """Every predicted link of a labelled source, its features and whether it is right; and the
    number of labelled links per source document."""
    import numpy as np

    from crux.htmltext import url_key
    from crux.pipeline import embed

    keys = {r[0]: r[1] for r in con.execute("SELECT url_key, id FROM documents").fetchall()}
    judged = {keys.get(url_key(r["source_url"])) for r in gold} - {None}
    preds = con.execute(
        "SELECT l.source_document_id, coalesce(l.target_document_id, ''), s.text, "
        "coalesce(t.text, l.target_text), l.relation, l.method, l.score, l.source_sentence_id, "
        "l.target_sentence_id, r.relation, r.score, cs.score, ct.score "
        "FROM claim_links l JOIN sentences s ON s.id = l.source_sentence_id "
        "LEFT JOIN sentences t ON t.id = l.target_sentence_id "
        "LEFT JOIN responses r ON r.source_id = l.source_document_id "
        "  AND r.target_id = l.target_document_id "
        "LEFT JOIN claims cs ON cs.sentence_id = l.source_sentence_id "
        "LEFT JOIN claims ct ON ct.sentence_id = l.target_sentence_id"
    ).fetchall()
    preds = [p for p in preds if p[0] in judged]
    hits = set(match_claims(preds, gold, keys)) - {None}
    right = [int(i in hits) for i in range(len(preds))]
    per_doc: dict[str, int] = {}
    for gl in gold:
        s = keys.get(url_key(gl["source_url"]))
        if s is not None:
            per_doc[s] = per_doc.get(s, 0) + 1
    texts = sorted({p[2] for p in preds} | {p[3] for p in preds if p[3]})
    vec = dict(zip(texts, embed.encode(texts), strict=True)) if texts else {}
    by_sent: dict[str, int] = {}
    by_doc: dict[str, int] = {}
    for p in preds:
        by_sent[p[7]] = by_sent.get(p[7], 0) + 1
        by_doc[p[0]] = by_doc.get(p[0], 0) + 1
    out = []
    for p, y in zip(preds, right, strict=True):
        cos = float(np.dot(vec[p[2]], vec[p[3]])) if p[3] in vec else 0.0
        x = [float(p[5] == m) for m in METHODS] + [float(p[5] not in METHODS)]
        x += [float(p[4] == "attacks"), float(p[6]), float(not p[8])]
        x += [float(p[9] == r) for r in RELATIONS] + [float(p[9] is None), float(p[10] or 0.0)]
        x += [float(p[11] is not None), float(p[11] or 0.0), float(p[12] is not None),
              float(p[12] or 0.0)]
        x += [math.log1p(len(p[2])) / 6, math.log1p(len(p[3] or "")) / 6, cos]
        x += [math.log1p(by_sent[p[7]]), math.log1p(by_doc[p[0]]) / 4]
        out.append({"doc": p[0], "x": x, "y": y, "score": float(p[6]), "method": p[5]})
    return out, per_doc


def main() -> int:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from lr_trainer import grouped_folds

    rows: list[dict] = []
    gold_per_doc: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (docs, claims) in SETS.items():
            store = real_store(tmp, name, HERE / docs, HERE / claims, seed=False)
            if store is None:
                print(f"{name}: its files or the shared corpora (CRUX_SHARED) are missing",
                      file=sys.stderr)
                return 2
            con, _gdocs, gclaims, _n = store
            got, per_doc = rows_of(con, gclaims)
            con.close()
            for r in got:
                r["doc"] = f"{name}:{r['doc']}"
            rows += got
            gold_per_doc.update({f"{name}:{k}": v for k, v in per_doc.items()})
            print(f"{name}: {len(got)} links, {sum(r['y'] for r in got)} right, "
                  f"{sum(per_doc.values())} labelled", file=sys.stderr)
    X = np.asarray([r["x"] for r in rows])
    y = np.asarray([r["y"] for r in rows])
    groups = np.asarray([r["doc"] for r in rows])
    docs = sorted(set(groups) | set(gold_per_doc))
    n_gold = sum(gold_per_doc.values())

    def prf(keep):
        tp = int((keep & (y == 1)).sum())
        fp = int((keep & (y == 0)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / n_gold
        return {"precision": round(p, 3), "recall": round(r, 3),
                "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0, "tp": tp, "fp": fp}

    result = {"links": len(rows), "right": int(y.sum()), "labelled": n_gold,
              "keep every link (the stage)": prf(np.ones(len(y), bool))}
    best_cut = max(((c, prf(np.asarray([r["score"] for r in rows]) >= c))
                    for c in np.arange(0.0, 1.0, 0.025)), key=lambda t: t[1]["f1"])
    result["best cut-off on the stage's score (picked on these rows: optimistic)"] = {
        "cut": round(float(best_cut[0]), 3), **best_cut[1]}
    folds = grouped_folds(groups)
    for C in (0.01, 0.03, 0.1, 0.3, 1.0):
        p = np.zeros(len(y))
        for tr, te in folds:
            sc = StandardScaler().fit(X[tr])
            m = LogisticRegression(C=C, max_iter=2000).fit(sc.transform(X[tr]), y[tr])
            p[te] = m.predict_proba(sc.transform(X[te]))[:, 1]
        best = max(((t, prf(p >= t)) for t in np.arange(0.05, 0.9, 0.025)),
                   key=lambda t: t[1]["f1"])
        result[f"LR C {C}"] = {"threshold": round(float(best[0]), 3), **best[1]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
