"""Draw the sentence sample for the claim and forecast labels (``eval/sentences.jsonl``).

``python -m eval.sample_sentences OUT.jsonl`` reads the shared corpora (``CRUX_SHARED``),
segments each post exactly as the segment stage does (:func:`crux.pipeline.segment.html_blocks`
and :func:`split_sentences` with the configured spaCy model), and draws, per document:

- ``RANDOM_PER_DOC`` sentences uniformly at random, and
- up to ``WIDE_PER_DOC`` more, at random among the sentences that contain any word of
  :data:`WIDE` (modals, future markers, likelihood and probability words, numbers with ``%``,
  years): a list far wider than the forecast extractor's, so that forecasts are frequent
  enough to learn from.

The rule never looks at crux's claims or forecasts. ``--enriched`` draws the second sample
(the next ``N_LW_DOCS_2`` posts; per post ``RANDOM_PER_DOC_2`` at random and up to
``ENRICHED_PER_DOC`` among the sentences with a word of :data:`FUTURE`). Documents are every LessWrong 2020 post
with at least ``MIN_SENTENCES`` sentences, taken in the order of sha1(seed + id), plus the seven
seed-feed posts; the split (train / dev / test, 60 / 20 / 20) is by sha1 of the document id, so
every sentence of a document lands in one split.

``--third`` draws the third sample, labelled for forecasts only (forecasts were 6% of the first
two draws, too few to learn the forecast detector from): every post of LessWrong 2020 and the
seed feeds, short ones included, per post up to ``THIRD_PER_DOC`` at random among the sentences
with a word of :data:`FUTURE` that no earlier draw took (``eval/sentences.jsonl``'s ids). A
post keeps its split, as the split is by document id.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from crux.pipeline.forecasts import CANDIDATE as WIDE

SEED = "crux-sentences-20261202"
N_LW_DOCS = 330
RANDOM_PER_DOC = 4
WIDE_PER_DOC = 6
MIN_SENTENCES = 12

# WIDE, the broad list, is the forecasts stage's candidate list (imported above): one
# definition, so the detector is trained on the sentences the stage scores. It is a word list,
# not crux's output.


# The second draw (``--enriched``): the next ``N_LW_DOCS_2`` posts of the same order, and per post
# ``ENRICHED_PER_DOC`` sentences among those with a word of this narrower list of future and
# probability words, plus ``RANDOM_PER_DOC_2`` at random: forecasts were 4% of the first draw.
N_LW_DOCS_2 = 420
ENRICHED_PER_DOC = 6
RANDOM_PER_DOC_2 = 2
THIRD_PER_DOC = 4
FUTURE = re.compile(
    r"\b(will|won'?t|going to|gonna|likely|unlikely|probabl[ey]|probabilit(?:y|ies)|chances?|"
    r"odds|expect\w*|predict\w*|forecast\w*|bet|bets|soon|eventually|next (?:year|decade|month|"
    r"week|few)|in the (?:next|coming)|by (?:the end of )?(?:20|21)\d\d|someday|in the future|"
    r"credence|confident)\b|\d\s*%|\bpercent\b|'ll\b|\b\d+ in \d+\b|\d+\s*:\s*\d+ odds", re.I)


def split_of(doc_id: str) -> str:
    h = int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 10
    return "train" if h < 6 else ("dev" if h < 8 else "test")


def posts(shared: Path) -> Iterator[dict]:
    """Every post of LessWrong 2020 and the seed feeds as {doc, title, published_at, html, corpus}."""
    from crux.crawler.feeds import parse_feed

    for path in sorted((shared / "lesswrong-2020").glob("*.json")):
        for p in json.loads(path.read_text()):
            if p.get("htmlBody"):
                yield {"doc": "lw:" + p["_id"], "title": p["title"],
                       "published_at": p["postedAt"][:10], "html": p["htmlBody"],
                       "corpus": "lesswrong-2020"}
    for path in sorted((shared / "seed-feeds").glob("*.xml")):
        for d in parse_feed(path.read_bytes(), location=str(path)).docs:
            yield {"doc": "feed:" + d.id, "title": d.title,
                   "published_at": d.published_at.date().isoformat() if d.published_at else None,
                   "html": d.html or "", "corpus": "seed-feeds"}


def main(out: str, enriched: bool = False, third: bool = False) -> None:
    from crux.pipeline import nlp as _nlp
    from crux.pipeline.segment import html_blocks, split_sentences

    shared = Path(os.environ.get("CRUX_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    shared = shared / "corpora"
    nlp = _nlp.sentence_pipeline()
    every = list(posts(shared))
    lw = sorted((p for p in every if p["corpus"] == "lesswrong-2020"),
                key=lambda p: hashlib.sha1((SEED + p["doc"]).encode()).hexdigest())
    seeds = [p for p in every if p["corpus"] == "seed-feeds"]
    rows: list[dict] = []
    n_lw = 0
    first, limit = (N_LW_DOCS, N_LW_DOCS + N_LW_DOCS_2) if enriched else (0, N_LW_DOCS)
    per_random, per_wide, wide_rule = ((RANDOM_PER_DOC_2, ENRICHED_PER_DOC, FUTURE) if enriched
                                       else (RANDOM_PER_DOC, WIDE_PER_DOC, WIDE))
    taken: set[str] = set()
    if third:
        first, limit = 0, len(lw)
        per_random, per_wide, wide_rule = 0, THIRD_PER_DOC, FUTURE
        labelled = Path(__file__).resolve().parent / "sentences.jsonl"
        taken = {json.loads(x)["id"] for x in labelled.read_text().splitlines() if x.strip()}
    for post in ([] if enriched else seeds) + lw:
        if post["corpus"] == "lesswrong-2020" and n_lw >= limit:
            break
        blocks = html_blocks(post["html"])
        sents = split_sentences(nlp, [blocks])[0]
        if post["corpus"] == "lesswrong-2020" and not third:
            if len(sents) < MIN_SENTENCES:
                continue
            n_lw += 1
            if n_lw <= first:
                continue
        rng = random.Random(SEED + post["doc"])
        order = list(range(len(sents)))
        picked = set(rng.sample(order, min(per_random, len(order))))
        wide = [i for i in order if i not in picked and wide_rule.search(sents[i].text)
                and f"{post['doc']}:s{i}" not in taken]
        picked |= set(rng.sample(wide, min(per_wide, len(wide))))
        for i in sorted(picked):
            s = sents[i]
            rows.append({
                "id": f"{post['doc']}:s{i}", "doc": post["doc"], "corpus": post["corpus"],
                "title": post["title"], "published_at": post["published_at"],
                "block": blocks[s.block].kind, "in_quote": s.in_quote, "position": i,
                "draw": ("random" if i in picked - set(wide) else
                         "third" if third else "enriched" if enriched else "wide"),
                "prev": sents[i - 1].text if i > 0 else "",
                "text": s.text,
                "next": sents[i + 1].text if i + 1 < len(sents) else "",
                "split": split_of(post["doc"])})
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    docs = {r["doc"] for r in rows}
    print(f"{len(rows)} sentences from {len(docs)} documents -> {out}", file=sys.stderr)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--enriched", "--third")]
    main(args[0] if args else "sentences_pool.jsonl", enriched="--enriched" in sys.argv,
         third="--third" in sys.argv)
