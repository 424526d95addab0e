"""Draw the second pool of sentence pairs: the nearest sentences of two responding posts.

``python -m eval.sample_nearest_pairs OUT.jsonl`` reads the labelled document pairs and the
shared corpora (``CRUX_SHARED``) and writes a pool to be labelled by hand, by a rule that never
looks at crux's responses, claim links or claims:

- **document pairs**: every labelled pair whose relation is a response (``rebuts``,
  ``supports`` or ``extends``) in ``pairs_documents.jsonl`` (by post id) and in the dev sets
  ``links_dev_documents.jsonl``, ``links_dev2_documents.jsonl`` and
  ``links_dev3_documents.jsonl`` (by URL: a 17-character or 24-hex post id in the path, else a
  post's ``pageUrl`` or the ``url`` of which it is a cross-post), where both source and target are posts of the corpora
  (:func:`eval.sample_sentences.posts`). A pair whose source or target is a source or target of
  the held-out set (``links_documents.jsonl``) is left out, and so is a repeat of a pair.
- **sentences**: both posts are segmented as the segment stage does
  (:func:`crux.pipeline.segment.html_blocks`, :func:`split_sentences` with the configured spaCy
  model); the sentences that are not quoted (``in_quote`` false) and have 15 to 400 characters
  are encoded with the packaged MiniLM (:func:`crux.pipeline.embed.encode`, unit vectors).
- **pairs**: per document pair, the ``K`` (source sentence, target sentence) pairs of highest
  cosine, greedily, each source sentence and each target sentence at most once per document
  pair (ties by position). Identical texts (cosine over ``SAME``: boilerplate shared by both
  posts) are skipped.

Rows carry ``id`` (``{source}:n{source position}:{target}:{target position}``, positions are
sentence indexes in the segmented post), ``doc``, ``title``, ``target_doc``, ``target_title``,
``quote`` (the target sentence), ``sentence`` (the source sentence), ``before`` (the source
sentence before it, empty when that one is quoted), ``cosine``, ``relation_docs`` (the document
pair's label), ``split`` (:func:`eval.sample_sentences.split_of` of the source) and
``draw = "nearest"``. Rows are in order of sha1(seed + document pair), then cosine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from eval.sample_sentences import posts, split_of

SEED = "crux-nearest-20261203"
K = 5
MIN_CHARS, MAX_CHARS = 15, 400
SAME = 0.98
RESPONSES = ("rebuts", "supports", "extends")
DEV_SETS = ("links_dev_documents.jsonl", "links_dev2_documents.jsonl", "links_dev3_documents.jsonl")
HELD_OUT = "links_documents.jsonl"
_ID = re.compile(r"^(?:[A-Za-z0-9]{17}|[0-9a-f]{24})$")


def _h(s: str) -> str:
    return hashlib.sha1((SEED + s).encode()).hexdigest()


def _norm_url(url: str) -> str:
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return url
    h = (p.hostname or "").lower()
    return (h[4:] if h.startswith("www.") else h) + p.path.rstrip("/")


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def document_pairs(root: Path, every: list[dict], page_urls: dict[str, list[str]]) -> list[dict]:
    """The labelled response pairs of two corpus posts, minus the held-out ones."""
    by_doc = {p["doc"]: p for p in every}
    by_url = {_norm_url(u): by_doc[d] for d, us in page_urls.items() if d in by_doc for u in us}

    def resolve(url: str | None) -> dict | None:
        if not url:
            return None
        for seg in urlsplit(url).path.split("/"):
            if _ID.match(seg) and "lw:" + seg in by_doc:
                return by_doc["lw:" + seg]
        return by_url.get(_norm_url(url))

    held_urls, held_docs = set(), set()
    for r in _rows(root / HELD_OUT):
        for u in (r["source_url"], r["target_url"]):
            held_urls.add(_norm_url(u))
            if (p := resolve(u)) is not None:
                held_docs.add(p["doc"])
    found: list[tuple[dict, dict, str, str]] = []
    for r in _rows(root / "pairs_documents.jsonl"):
        if (
            r.get("relation") in RESPONSES
            and r.get("source") in by_doc
            and r.get("target") in by_doc
        ):
            found.append(
                (by_doc[r["source"]], by_doc[r["target"]], r["relation"], "pairs_documents.jsonl")
            )
    for name in DEV_SETS:
        for r in _rows(root / name):
            if r.get("relation") not in RESPONSES:
                continue
            if _norm_url(r["source_url"]) in held_urls or _norm_url(r["target_url"]) in held_urls:
                continue
            s, t = resolve(r["source_url"]), resolve(r["target_url"])
            if s is not None and t is not None:
                found.append((s, t, r["relation"], name))
    out, seen = [], set()
    for s, t, rel, name in found:
        key = (s["doc"], t["doc"])
        if s["doc"] == t["doc"] or key in seen or s["doc"] in held_docs or t["doc"] in held_docs:
            continue
        seen.add(key)
        out.append({"source": s, "target": t, "relation": rel, "from": name})
    return sorted(out, key=lambda e: _h(e["source"]["doc"] + "->" + e["target"]["doc"]))


def nearest(sv, tv, k: int = K) -> list[tuple[int, int, float]]:
    """Greedy top-``k`` (row, column, cosine) of ``sv @ tv.T``, each row and column once."""
    import numpy as np

    if not len(sv) or not len(tv):
        return []
    sim = sv @ tv.T
    order = np.argsort(-sim, axis=None, kind="stable")
    used_s, used_t, out = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), sim.shape[1])
        c = float(sim[i, j])
        if c >= SAME or i in used_s or j in used_t:
            continue
        used_s.add(i)
        used_t.add(j)
        out.append((i, j, c))
        if len(out) == k:
            break
    return out


def main(out: str) -> None:
    from crux.pipeline import nlp as _nlp
    from crux.pipeline.embed import encode
    from crux.pipeline.segment import html_blocks, split_sentences

    shared = Path(os.environ.get("CRUX_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    every = list(posts(shared / "corpora"))
    page_urls = {}
    for path in sorted((shared / "corpora" / "lesswrong-2020").glob("*.json")):
        for p in json.loads(path.read_text()):
            page_urls["lw:" + p["_id"]] = [
                u for u in (p.get("pageUrl"), p.get("url")) if u and u != "None"
            ]
    pairs = document_pairs(Path(__file__).resolve().parent, every, page_urls)
    print(f"{len(pairs)} document pairs", file=sys.stderr)
    nlp = _nlp.sentence_pipeline()
    cache: dict[str, tuple[list, list[int], object]] = {}

    def sentences(p: dict):
        if p["doc"] not in cache:
            sents = split_sentences(nlp, [html_blocks(p["html"])])[0]
            keep = [
                i
                for i, s in enumerate(sents)
                if not s.in_quote and MIN_CHARS <= len(s.text) <= MAX_CHARS
            ]
            cache[p["doc"]] = (sents, keep, encode([sents[i].text for i in keep]))
        return cache[p["doc"]]

    rows = []
    for e in pairs:
        s, t = e["source"], e["target"]
        ss, skeep, sv = sentences(s)
        ts, tkeep, tv = sentences(t)
        for i, j, c in nearest(sv, tv):
            a, b = skeep[i], tkeep[j]
            rows.append(
                {
                    "id": f"{s['doc']}:n{a}:{t['doc']}:{b}",
                    "doc": s["doc"],
                    "title": s["title"],
                    "target_doc": t["doc"],
                    "target_title": t["title"],
                    "quote": ts[b].text,
                    "sentence": ss[a].text,
                    "before": ss[a - 1].text if a >= 1 and not ss[a - 1].in_quote else "",
                    "cosine": round(c, 4),
                    "relation_docs": e["relation"],
                    "split": split_of(s["doc"]),
                    "draw": "nearest",
                }
            )
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} sentence pairs from {len(pairs)} document pairs", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
