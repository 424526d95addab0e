"""Draw the forecast-sentence pairs for the same-event labels (issue #20, item 3).

``python -m eval.sample_forecast_pairs OUT.jsonl`` reads the hand-labelled forecasts of
``eval/sentences.jsonl`` (``forecast == 1``) and writes a pool of pairs to be labelled
same / different event by hand. The draw never looks at crux's output (no crux model, no stage):

- candidates are pairs of forecasts from two different documents whose texts differ (after
  lower-casing and collapsing spaces), and whose documents are both in the test split (the pair
  is ``test``) or both outside it (``train``: train and dev); mixed pairs are dropped, so no
  test document is ever used for tuning;
- ``TOP`` pairs of highest TF-IDF cosine (scikit-learn, word 1-2 grams, over the forecast
  sentences), each sentence in at most ``MAX_TOP_PER_SENTENCE`` of them, so that same-event
  pairs are frequent enough; ``draw`` = ``top``;
- ``RANDOM`` pairs uniformly at random among the other candidates (``random.Random(SEED)``);
- if fewer than ``MIN_TEST`` test pairs result, test pairs are added in the same 60 / 40 mix
  (highest cosine first, then random) until there are ``TEST_TARGET``.

``--enriched`` draws from the corpora instead (sentences with a future word and an event
keyword, paired within a keyword group: :func:`draw_enriched`), and ``--keyword-forecasts``
pairs the sentences labelled forecasts that share a keyword (:func:`draw_keyword_forecasts`);
``--third-draw`` pairs the forecasts of the third sentence draw with all labelled forecasts
(:func:`draw_fourth`).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

SEED = 20261202
TOP = 198
RANDOM = 132
MAX_TOP_PER_SENTENCE = 4
MIN_TEST = 60
TEST_TARGET = 80
SENTENCES = Path(__file__).with_name("sentences.jsonl")


def forecasts(path: Path = SENTENCES) -> list[dict]:
    """The labelled forecast sentences, in file order."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r for r in rows if r.get("forecast") == 1]


def pair_split(a: dict, b: dict) -> str | None:
    """``test`` if both documents are test, ``train`` if neither is, ``None`` (dropped) else."""
    tests = (a["split"] == "test") + (b["split"] == "test")
    return {0: "train", 2: "test"}.get(tests)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def candidates(rows: list[dict]) -> tuple[list[tuple[int, int, str]], int]:
    """Every eligible pair (i, j, split) with i < j, and how many mixed pairs were dropped."""
    out, mixed = [], 0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            a, b = rows[i], rows[j]
            if a["doc"] == b["doc"] or _norm(a["text"]) == _norm(b["text"]):
                continue
            split = pair_split(a, b)
            if split is None:
                mixed += 1
            else:
                out.append((i, j, split))
    return out, mixed


def cosines(rows: list[dict]):
    """The TF-IDF cosine matrix of the sentence texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
    m = vec.fit_transform([r["text"] for r in rows])
    return (m @ m.T).toarray()


def _top(cands, sim, n: int, taken: set, uses: Counter) -> list[tuple[int, int, str]]:
    """The ``n`` highest-cosine candidates not taken, each sentence used at most
    ``MAX_TOP_PER_SENTENCE`` times."""
    out = []
    for i, j, split in sorted(cands, key=lambda c: (-sim[c[0], c[1]], c[0], c[1])):
        if len(out) == n:
            break
        if (i, j) in taken or uses[i] >= MAX_TOP_PER_SENTENCE or uses[j] >= MAX_TOP_PER_SENTENCE:
            continue
        out.append((i, j, split))
        taken.add((i, j))
        uses[i] += 1
        uses[j] += 1
    return out


def _random(cands, n: int, taken: set, rng: random.Random) -> list[tuple[int, int, str]]:
    rest = [c for c in cands if (c[0], c[1]) not in taken]
    out = rng.sample(rest, min(n, len(rest)))
    taken.update((i, j) for i, j, _ in out)
    return out


def draw(rows: list[dict]) -> tuple[list[tuple[int, int, str, str]], int]:
    """The drawn pairs (i, j, split, draw) and the number of mixed pairs dropped."""
    cands, mixed = candidates(rows)
    sim = cosines(rows)
    rng = random.Random(SEED)
    taken: set = set()
    uses: Counter = Counter()
    pairs = [(*c, "top") for c in _top(cands, sim, TOP, taken, uses)]
    pairs += [(*c, "random") for c in _random(cands, RANDOM, taken, rng)]
    n_test = sum(p[2] == "test" for p in pairs)
    if n_test < MIN_TEST:
        test = [c for c in cands if c[2] == "test"]
        need = TEST_TARGET - n_test
        n_top = round(need * 0.6)
        pairs += [(*c, "top") for c in _top(test, sim, n_top, taken, uses)]
        pairs += [(*c, "random") for c in _random(test, need - n_top, taken, rng)]
    return pairs, mixed


# The second draw (``--enriched``, issue #20 item 3): forecasts in the labelled sample rarely
# predict the same event (5 same-event pairs of 386), so this draw takes sentences straight from
# the corpora that contain a future/probability word (the forecasts stage's candidate list, as
# eval/sample_sentences.py's first draw) AND one of these event keywords, events many 2020 posts
# forecast; a sentence joins the group of the first keyword it matches. Pairs are drawn within a
# group, between two documents: per group the ``TOP_PER_GROUP`` highest TF-IDF cosines (each
# sentence in at most ``MAX_TOP_PER_SENTENCE_2`` of them) and ``RANDOM_PER_GROUP`` at random,
# then the rest of the ``ENRICHED_TOTAL`` (70 / 30) from all groups; test pairs are added in the
# same mix until there are ``TEST_TARGET_2`` when fewer than ``MIN_TEST`` came out.
KEYWORDS = {
    "vaccine": r"vaccin\w*", "lockdown": r"lock ?downs?", "herd immunity": r"herd immunity",
    "second wave": r"second wave", "cases": r"cases", "deaths": r"deaths?|death toll",
    "hospital": r"hospitals?|icu", "election": r"elections?", "biden": r"biden",
    "trump": r"trump", "agi": r"agi", "transformative ai": r"transformative ai|tai",
    "gpt": r"gpt-?\d?", "superintelligence": r"superintelligen\w+", "recession": r"recession",
    "stock market": r"stock market|s&p|stocks", "unemployment": r"unemployment",
    "metaculus": r"metaculus", "china": r"china|chinese", "climate": r"climate change|warming",
}
KEYWORD_RES = {k: re.compile(rf"\b(?:{v})\b", re.I) for k, v in KEYWORDS.items()}
ENRICHED_TOTAL = 200
TOP_PER_GROUP = 7
RANDOM_PER_GROUP = 3
MAX_TOP_PER_SENTENCE_2 = 2
TEST_TARGET_2 = 70


def keyword_of(text: str) -> str | None:
    """The first event keyword the text contains, or None."""
    return next((k for k, rx in KEYWORD_RES.items() if rx.search(text)), None)


def corpus_sentences() -> list[dict]:
    """Sentences of the shared corpora with a future/probability word and an event keyword.

    Posts are read and split as eval/sample_sentences.py does; only the blocks that contain a
    keyword are split (sentences never cross blocks), so an id is ``doc:b<block>:<k>``.
    """
    import os

    from crux.pipeline import nlp as _nlp
    from crux.pipeline.forecasts import CANDIDATE
    from crux.pipeline.segment import html_blocks, split_sentences
    from eval.sample_sentences import posts, split_of

    shared = Path(os.environ.get("CRUX_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    nlp = _nlp.sentence_pipeline()
    every = list(posts(shared / "corpora"))
    kept_blocks = []
    for post in every:
        blocks = html_blocks(post["html"])
        kept_blocks.append([(i, b) for i, b in enumerate(blocks) if keyword_of(b.text)])
    split = split_sentences(nlp, [[b for _, b in kb] for kb in kept_blocks])
    out = []
    for post, kb, sents in zip(every, kept_blocks, split, strict=True):
        for k, s in enumerate(sents):
            kw = keyword_of(s.text)
            if kw and CANDIDATE.search(s.text) and 40 <= len(s.text) <= 600:
                out.append({"id": f"{post['doc']}:b{kb[s.block][0]}:{k}", "doc": post["doc"],
                            "text": s.text, "published_at": post["published_at"],
                            "keyword": kw, "split": split_of(post["doc"])})
    return out


def draw_enriched(rows: list[dict]) -> list[tuple[int, int, str, str]]:
    """The enriched pairs (i, j, split, draw), deterministic for the rows."""
    sim = cosines(rows)
    rng = random.Random(SEED)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["keyword"], []).append(i)
    cands_by = {}
    for kw, idx in groups.items():
        sub = [rows[i] for i in idx]
        cs, _ = candidates(sub)
        cands_by[kw] = [(idx[a], idx[b], s) for a, b, s in cs]
    taken: set = set()
    uses: Counter = Counter()
    pairs: list[tuple[int, int, str, str]] = []
    global MAX_TOP_PER_SENTENCE
    keep, MAX_TOP_PER_SENTENCE = MAX_TOP_PER_SENTENCE, MAX_TOP_PER_SENTENCE_2
    try:
        for kw in KEYWORDS:
            cands = cands_by.get(kw, [])
            pairs += [(*c, "enriched-top") for c in _top(cands, sim, TOP_PER_GROUP, taken, uses)]
            pairs += [(*c, "enriched-random") for c in _random(cands, RANDOM_PER_GROUP, taken, rng)]
        allc = [c for kw in KEYWORDS for c in cands_by.get(kw, [])]
        need = max(0, ENRICHED_TOTAL - len(pairs))
        n_top = round(need * 0.7)
        pairs += [(*c, "enriched-top") for c in _top(allc, sim, n_top, taken, uses)]
        pairs += [(*c, "enriched-random") for c in _random(allc, need - n_top, taken, rng)]
        n_test = sum(p[2] == "test" for p in pairs)
        if n_test < MIN_TEST:
            test = [c for c in allc if c[2] == "test"]
            need = TEST_TARGET_2 - n_test
            n_top = round(need * 0.7)
            pairs += [(*c, "enriched-top") for c in _top(test, sim, n_top, taken, uses)]
            pairs += [(*c, "enriched-random") for c in _random(test, need - n_top, taken, rng)]
    finally:
        MAX_TOP_PER_SENTENCE = keep
    return pairs


# A third draw (``--keyword-forecasts``): the enriched draw found few forecasts, so this one pairs
# sentences already labelled forecasts (``sentences.jsonl`` and the enriched rows of
# ``forecast_pairs.jsonl`` with ``a_forecast`` / ``b_forecast`` = 1) that share an event keyword
# group, the ``KW_TOP`` highest TF-IDF cosines whose two texts are not already a pair of ``forecast_pairs.jsonl`` (each
# sentence in at most ``MAX_TOP_PER_SENTENCE_2``); ``draw`` = ``keyword-top``.
KW_TOP = 60
PAIRS = Path(__file__).with_name("forecast_pairs.jsonl")


def _key(text: str) -> str:
    """A sentence's text for telling repeats: normalised, without a closing quote mark."""
    return _norm(text).rstrip('"')


def labelled_keyword_forecasts() -> list[dict]:
    """Labelled forecast sentences with an event keyword, one row a distinct sentence."""
    from eval.sample_sentences import split_of

    rows: dict[str, dict] = {}
    for r in forecasts():
        rows[r["id"]] = {"id": r["id"], "doc": r["doc"], "text": r["text"],
                         "published_at": r["published_at"], "split": split_of(r["doc"])}
    with PAIRS.open(encoding="utf-8") as fh:
        for p in map(json.loads, fh):
            if not p["draw"].startswith("enriched"):
                continue
            for side in "ab":
                if p[f"{side}_forecast"] == 1:
                    rows.setdefault(p[f"{side}_id"], {
                        "id": p[f"{side}_id"], "doc": p[f"{side}_doc"], "text": p[f"{side}_text"],
                        "published_at": p[f"{side}_published_at"],
                        "split": split_of(p[f"{side}_doc"])})
    out, texts = [], set()
    for r in rows.values():
        kw, key = keyword_of(r["text"]), (r["doc"], _key(r["text"]))
        if kw and key not in texts:  # the same sentence under its two id forms counts once
            texts.add(key)
            out.append({**r, "keyword": kw})
    return out


def draw_keyword_forecasts(rows: list[dict]) -> list[tuple[int, int, str, str]]:
    """The top-cosine pairs within keyword groups not already labelled."""
    with PAIRS.open(encoding="utf-8") as fh:
        seen = {frozenset((_key(p["a_text"]), _key(p["b_text"]))) for p in map(json.loads, fh)
                if p["draw"] != "keyword-top"}  # this draw's own rows: it reproduces itself
    sim = cosines(rows)
    cands = [(i, j, s) for i, j, s in candidates(rows)[0]
             if rows[i]["keyword"] == rows[j]["keyword"]
             and frozenset((_key(rows[i]["text"]), _key(rows[j]["text"]))) not in seen]
    global MAX_TOP_PER_SENTENCE
    keep, MAX_TOP_PER_SENTENCE = MAX_TOP_PER_SENTENCE, MAX_TOP_PER_SENTENCE_2
    try:
        return [(*c, "keyword-top") for c in _top(cands, sim, KW_TOP, set(), Counter())]
    finally:
        MAX_TOP_PER_SENTENCE = keep


def pool_rows(rows: list[dict], pairs, prefix: str = "fp", first: int = 1) -> list[dict]:
    """The pool, one dict a pair, in draw order."""
    out = []
    for k, (i, j, split, how) in enumerate(pairs, first):
        a, b = rows[i], rows[j]
        out.append({"pair_id": f"{prefix}{k:03d}", "a_id": a["id"], "b_id": b["id"],
                    "a_text": a["text"], "b_text": b["text"], "a_doc": a["doc"], "b_doc": b["doc"],
                    "a_published_at": a["published_at"], "b_published_at": b["published_at"],
                    "split": split, "draw": how})
    return out


# The fourth draw (``--third-draw``): the labelled forecasts of both sentence files; pairs
# with at least one forecast of the third draw (``eval/forecast_sentences.jsonl``), so none was
# drawn before; ``TOP_4`` of highest TF-IDF cosine and ``RANDOM_4`` at random, as :func:`draw`.
THIRD = Path(__file__).with_name("forecast_sentences.jsonl")
TOP_4 = 200
RANDOM_4 = 60


def draw_fourth(rows: list[dict]) -> tuple[list[tuple[int, int, str, str]], int]:
    cands, mixed = candidates(rows)
    cands = [c for c in cands if "third" in (rows[c[0]].get("draw"), rows[c[1]].get("draw"))]
    sim = cosines(rows)
    taken: set = set()
    pairs = [(*c, "top") for c in _top(cands, sim, TOP_4, taken, Counter())]
    pairs += [(*c, "random") for c in _random(cands, RANDOM_4, taken, random.Random(SEED + 4))]
    return pairs, mixed


def main(out: str, enriched: bool = False, keyword: bool = False, fourth: bool = False) -> None:
    mixed = 0
    if fourth:
        rows = forecasts() + forecasts(THIRD)
        pairs, mixed = draw_fourth(rows)
        pool = pool_rows(rows, pairs, prefix="f4")
    elif keyword:
        rows = labelled_keyword_forecasts()
        pool = pool_rows(rows, draw_keyword_forecasts(rows), prefix="fk")
    elif enriched:
        rows = corpus_sentences()
        pool = pool_rows(rows, draw_enriched(rows), prefix="fe")
    else:
        rows = forecasts()
        pairs, mixed = draw(rows)
        pool = pool_rows(rows, pairs)
    with open(out, "w", encoding="utf-8") as fh:
        for r in pool:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = Counter((r["split"], r["draw"]) for r in pool)
    print(f"{len(pool)} pairs from {len(rows)} sentences to {out} "
          f"({mixed} mixed train/test candidate pairs dropped)", file=sys.stderr)
    for (split, how), n in sorted(counts.items()):
        print(f"  {split} {how}: {n}", file=sys.stderr)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--enriched", "--keyword-forecasts",
                                                 "--third-draw")]
    if len(args) != 1:
        sys.exit("usage: python -m eval.sample_forecast_pairs [--enriched | --keyword-forecasts] "
                 "OUT.jsonl")
    main(args[0], enriched="--enriched" in sys.argv, keyword="--keyword-forecasts" in sys.argv,
         fourth="--third-draw" in sys.argv)
