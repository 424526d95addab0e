"""Draw the document pairs and sentence pairs for the debate-link labels.

``python -m eval.sample_pairs DOCS.jsonl SENTS.jsonl`` reads the shared corpora (``CRUX_SHARED``)
and writes two pools to be labelled by hand, by rules that never look at crux's responses or
claim links:

- **document pairs**: every hyperlink from a corpus post to another corpus post, resolved by a
  deliberately liberal rule of its own (a 17-character or 24-hex id in any path segment, or the
  last path segment equal to a post's slug, on any LessWrong, LesserWrong, GreaterWrong,
  Alignment Forum or EA Forum host; or the link equal to a post's own ``url``), plus every post
  whose title another post names in quotation marks. Pairs whose source is in an earlier set
  (``links_*documents.jsonl``) or whose source or target is in the held-out set are left out.
  At most ``MAX_PAIRS_PER_SOURCE`` per source, in order of sha1.
- **sentence pairs**: each block quote of a post (the quoted passage) with each of the first
  ``ANSWERS_PER_QUOTE`` sentences of the author that follow it in the same post, at most
  ``MAX_QUOTES_PER_DOC`` quotes a post.

The split (train / dev / test, 60 / 20 / 20) is by sha1 of the source document id
(:func:`eval.sample_sentences.split_of`).
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

SEED = "crux-pairs-20261202"
MAX_PAIRS_PER_SOURCE = 8
MAX_OUTSIDE_PER_SOURCE = 2
MAX_QUOTES_PER_DOC = 20
ANSWERS_PER_QUOTE = 3
FORUM_HOSTS = ("lesswrong.com", "lesserwrong.com", "greaterwrong.com", "alignmentforum.org",
               "forum.effectivealtruism.org", "effective-altruism.com")
_ID = re.compile(r"^(?:[A-Za-z0-9]{17}|[0-9a-f]{24})$")
_QUOTED = re.compile(r"[\"“]([^\"“”]{12,140})[\"”]")


LABELLED_OUTSIDE = 600  # outside links labelled: the first of them in sha1("crux-label-" + id) order


def labelled_subset(pairs: list[dict]) -> list[dict]:
    """The document pairs that were labelled: every pair of two corpus posts, and the first
    :data:`LABELLED_OUTSIDE` links to outside pages in a fixed hash order."""
    inside = [r for r in pairs if r["via"] != "outside-link"]
    outside = sorted((r for r in pairs if r["via"] == "outside-link"),
                     key=lambda r: hashlib.sha1(("crux-label-" + r["id"]).encode()).hexdigest())
    return inside + outside[:LABELLED_OUTSIDE]


def _h(s: str) -> str:
    return hashlib.sha1((SEED + s).encode()).hexdigest()


def _host(url: str) -> str:
    try:
        h = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return h[4:] if h.startswith("www.") else h


def _norm_url(url: str) -> str:
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return url
    return _host(url) + p.path.rstrip("/")


def _earlier_sets(root: Path) -> tuple[set[str], set[str]]:
    """URLs of sources of every earlier set, and of sources and targets of the held-out set."""
    used, held = set(), set()
    for path in root.glob("links_*documents.jsonl"):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            used.add(_norm_url(r["source_url"]))
            if path.name == "links_documents.jsonl":
                held |= {_norm_url(r["source_url"]), _norm_url(r["target_url"])}
    return used, held


def _paragraphs(html: str):
    from crux.htmltext import parse_fragment

    root = parse_fragment(html)
    if root is None:
        return []
    out = []
    for el in root.iter("p", "li", "blockquote", "h1", "h2", "h3", "h4"):
        if el.tag != "blockquote" and any(a.tag in ("p", "li") for a in el.iterancestors()):
            continue
        text = " ".join(el.text_content().split())
        quoted = el.tag == "blockquote" or any(a.tag == "blockquote" for a in el.iterancestors())
        if el.tag == "blockquote":
            continue
        links = [a.get("href") or "" for a in el.iter("a")]
        out.append((text, quoted, links))
    return out


def _write(path: str, rows: list[dict], what: str) -> None:
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} {what}", file=sys.stderr)


def shared_root() -> Path:
    return Path(os.environ.get("CRUX_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def document_pairs(every: list[dict], max_inside: int | None = MAX_PAIRS_PER_SOURCE,
                   max_outside: int | None = MAX_OUTSIDE_PER_SOURCE) -> list[dict]:
    """Every hyperlink from a corpus post (and every title named in quotation marks), at most
    ``max_inside`` corpus targets and ``max_outside`` outside pages a source (None: all), in
    sha1 order; earlier sets' sources and the held-out set's sources and targets left out."""
    shared = shared_root()
    raw = {}
    for path in sorted((shared / "corpora" / "lesswrong-2020").glob("*.json")):
        for p in json.loads(path.read_text()):
            raw["lw:" + p["_id"]] = p
    by_id, by_slug, by_url = {}, {}, {}
    for p in every:
        r = raw.get(p["doc"], {})
        p["url"] = r.get("pageUrl") or ""
        p["author"] = (r.get("user") or "")
        if p["doc"].startswith("lw:"):
            by_id[p["doc"][3:]] = p
            if r.get("slug"):
                by_slug.setdefault(r["slug"], p)
            if r.get("url") and r["url"] != "None":
                by_url[_norm_url(r["url"])] = p
    used, held = _earlier_sets(Path(__file__).parent)

    def resolve(href: str):
        host = _host(href)
        if any(host == h or host.endswith("." + h) for h in FORUM_HOSTS):
            segs = [s for s in urlsplit(href).path.split("/") if s]
            for s in segs:
                if _ID.match(s) and s in by_id:
                    return by_id[s]
            if segs and segs[-1] in by_slug:
                return by_slug[segs[-1]]
        return by_url.get(_norm_url(href))

    pairs = []
    for p in every:
        if _norm_url(p["url"]) in used or _norm_url(p["url"]) in held:
            continue
        paras = _paragraphs(p["html"])
        found: dict[str, dict] = {}
        outside: dict[str, dict] = {}
        for text, _quoted, links in paras:
            for href in links:
                t = resolve(href)
                if t is None and href.startswith("http") and _norm_url(href) not in held \
                        and _host(href) != _host(p["url"] or "x://"):
                    o = outside.setdefault(_norm_url(href), {
                        "target": {"doc": None, "url": href, "title": None, "published_at": None,
                                   "html": ""}, "contexts": [], "via": "outside-link"})
                    if len(o["contexts"]) < 3:
                        o["contexts"].append(text[:900])
                if t is None or t["doc"] == p["doc"] or _norm_url(t["url"]) in held:
                    continue
                e = found.setdefault(t["doc"], {"target": t, "contexts": [], "via": "link"})
                if len(e["contexts"]) < 3:
                    e["contexts"].append(text[:900])
        body = " ".join(t for t, _, _ in paras)
        for m in _QUOTED.finditer(body):
            title = m.group(1).strip().rstrip(".,")
            for t in every:
                if t["doc"] != p["doc"] and t["title"].strip().lower() == title.lower() \
                        and t["doc"] not in found and _norm_url(t["url"]) not in held:
                    found[t["doc"]] = {"target": t, "via": "title",
                                       "contexts": [body[max(0, m.start() - 400):m.end() + 400]]}
        n_links = sum(len(ls) for _, _, ls in paras)
        chosen = [found[k] for k in sorted(found, key=_h)[:max_inside]]
        chosen += [outside[k] for k in sorted(outside, key=_h)[:max_outside]]
        for e in chosen:
            t = e["target"]
            opening = " ".join(x for x, q, _ in paras[:3] if not q)[:700]
            pairs.append({
                "id": f"{p['doc']}->{t['doc'] or _norm_url(t['url'])}", "source": p["doc"], "source_url": p["url"],
                "source_title": p["title"], "source_published_at": p["published_at"],
                "source_author": p.get("author"), "source_opening": opening,
                "source_links": n_links,
                "source_quotes": [x[:300] for x, q, _ in paras if q][:4], "via": e["via"], "contexts": e["contexts"],
                "target": t["doc"], "target_url": t["url"], "target_title": t["title"],
                "target_published_at": t["published_at"], "target_author": t.get("author"),
                "target_opening": " ".join(x for x, q, _ in _paragraphs(t["html"])[:3])[:600]
                if t["html"] else None,
                "split": split_of(p["doc"])})
    return pairs


def main(docs_out: str, sents_out: str) -> None:
    from crux.pipeline import nlp as _nlp
    from crux.pipeline.segment import html_blocks, split_sentences

    every = [p for p in posts(shared_root() / "corpora")]
    pairs = document_pairs(every)
    _write(docs_out, pairs, f"document pairs from {len({r['source'] for r in pairs})} sources")

    nlp = _nlp.sentence_pipeline()
    rows = []
    for p in sorted(every, key=lambda p: _h(p["doc"])):
        blocks = html_blocks(p["html"])
        if not any(b.kind == "blockquote" or b.depth for b in blocks):
            continue
        sents = split_sentences(nlp, [blocks])[0]
        groups, i = [], 0
        while i < len(sents):
            if sents[i].in_quote and blocks[sents[i].block].depth:
                j = i
                while j < len(sents) and sents[j].in_quote and blocks[sents[j].block].depth:
                    j += 1
                answers = [k for k in range(j, min(len(sents), j + 6)) if not sents[k].in_quote]
                answers = answers[:ANSWERS_PER_QUOTE]
                quote = " ".join(s.text for s in sents[i:j])
                if answers and len(quote) >= 25:
                    groups.append((i, quote, answers))
                i = j
            else:
                i += 1
        for start, quote, answers in (sorted(groups, key=lambda g: _h(
                f"{p['doc']}{g[0]}"))[:MAX_QUOTES_PER_DOC]):
            for k in answers:
                rows.append({
                    "id": f"{p['doc']}:q{start}:s{k}", "doc": p["doc"], "title": p["title"],
                    "quote": quote[:1200], "sentence": sents[k].text,
                    "before": sents[k - 1].text if k - 1 >= 0 and not sents[k - 1].in_quote else "",
                    "split": split_of(p["doc"])})
    _write(sents_out, rows, f"sentence pairs from {len({r['doc'] for r in rows})} documents")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
