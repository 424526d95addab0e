"""Debate links: precision and recall of ``responses`` and ``claim_links`` against labels.

Three sets:

- ``demo`` (development; tuned on): ``eval/demo-expected.json`` for the bundled demo corpus.
- ``dev`` ("real dev"; development, tuned on): ``eval/links_dev_documents.jsonl`` and
  ``eval/links_dev_claims.jsonl``, labelled by hand from LessWrong 2020 posts that are not in
  the held-out set (needs ``CRUX_SHARED``). Only the labelled posts and their in-corpus link
  targets are ingested.
- ``test`` (held out, never tuned on): ``eval/links_documents.jsonl`` and
  ``eval/links_claims.jsonl``, labelled by hand from the shared LessWrong 2020 corpus and the
  2026-04-28 LessWrong seed feed (needs ``CRUX_SHARED``, default ``/work/shared``). Only the
  labelled LessWrong 2020 posts and their in-corpus link targets are ingested (fast); the
  seed feed is ingested whole.

Each set runs the real pipeline (segment, claims, embed, responses, claim_links) in a
temporary DuckDB.

Scoring (see ``eval/README.md``, "Debate links"):

- Document pairs: a pair is a response when its relation is not ``cites``. For a labelled
  source document, every pair not in the labels is a citation (so a predicted response there
  is a false positive). Unlabelled source documents are not judged. The baseline calls every
  hyperlink a response (and, per relation, every hyperlink ``rebuts``, the commonest response
  relation); comments have no links, so it misses replies.
- Claim links: a predicted link counts when it joins the same document pair, its source
  sentence matches the labelled one (normalised text: lowercase words; equal, or one contains
  the other) and its target sentence, or its ``target_text`` when the target is outside the
  corpus, matches or contains the labelled target sentence.

``python -m eval.links_eval [--demo | --dev] [-v] [--write]`` prints the tables (``--demo``: the
demo set only; ``--dev``: the two development sets, no held-out set; ``-v``: errors and missed
claim links of the development sets, never of the held-out set; ``--write``: rewrite the
"Debate links" section of EVALUATION.md);
:func:`run` returns the figures as a dict, :func:`section` the Markdown section;
:func:`eval_links` is the runner ``make eval`` (``python -m eval``) calls.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.report import TODAY

HERE = Path(__file__).parent
SHARED = Path(os.environ.get("CRUX_SHARED", "/work/shared")) / "corpora"
LW2020 = SHARED / "lesswrong-2020"
SEED = SHARED / "seed-feeds" / "lesswrong-2026-04-28.rss.xml"
RELATIONS = ("rebuts", "supports", "extends", "cites")
STAGES = ["segment", "claims", "embed", "responses", "claim_links"]


def _norm(t: str) -> str:
    from crux.pipeline.stance import normalise
    return normalise(t)


def build(db_path: str, paths: list[Path], *, sources: dict[str, str] | None = None) -> Any:
    """Ingest ``paths`` into a fresh database and run the pipeline stages of :data:`STAGES`."""
    from crux.crawler.ingest import ingest_paths, iter_files
    from crux.db import connect
    from crux.pipeline import available_stages
    from crux.pipeline import run as run_stages

    con = connect(db_path)
    for path in iter_files(paths):
        report = ingest_paths(con, [path], source=(sources or {}).get(path.name))
        if report.failed:
            raise RuntimeError(f"ingest of {path} failed: {report.failed[0].error}")
    run_stages(con, [s for s in STAGES if s in available_stages()], progress=False,
               echo=lambda *_a, **_k: None)
    return con


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    return {"precision": None if p is None else round(p, 3), "recall": None if r is None else round(r, 3),
            "tp": tp, "fp": fp, "fn": fn}


def _src(r: dict) -> str:
    return r.get("source_url") or r["source"]


def _tgt(r: dict) -> str:
    return r.get("target_url") or r["target"]


def score_responses(con: Any, gold: list[dict]) -> dict[str, Any]:
    """gold: ``{source(_url), target(_url), relation}``. Pairs outside the gold set count as
    ``cites`` when their source is a labelled document (unlabelled documents are not judged)."""
    from crux.htmltext import url_keys

    # the store's own resolution: every key of a document (document_keys), then the URL's
    # weaker second key (a comment URL's post, a legacy URL's slug), as links resolve
    keys = {r[0]: r[1] for r in con.execute(
        "SELECT key, min(document_id) FROM document_keys GROUP BY key").fetchall()}

    def dk(url: str) -> str:
        k, alt = url_keys(url)
        return keys.get(k) or (keys.get(alt) if alt else None) or k

    g = {(dk(_src(r)), dk(_tgt(r))): r["relation"] for r in gold}
    judged = {s for s, _ in g}
    pred = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT source_id, coalesce(target_id, target_key), relation FROM responses").fetchall()
        if r[0] in judged}
    links = {(r[0], r[1]) for r in con.execute(
        "SELECT source_id, coalesce(target_id, target_key) FROM links").fetchall() if r[0] in judged}
    out: dict[str, Any] = {"pairs": len(g), "responses_gold": sum(v != "cites" for v in g.values()),
                           "sources": len(judged),
                           "gold_by_relation": {rel: sum(v == rel for v in g.values()) for rel in RELATIONS}}

    def detect(p: dict) -> dict[str, Any]:
        pos = {k for k, v in p.items() if v != "cites"}
        gpos = {k for k, v in g.items() if v != "cites"}
        return _prf(len(pos & gpos), len(pos - gpos), len(gpos - pos))

    # Every other link or predicted pair of a labelled source is a citation.
    full = {**{k: "cites" for k in (set(pred) | links)}, **g}

    def per_relation(p: dict) -> dict[str, Any]:
        per = {}
        for rel in RELATIONS:
            pp = {k for k, v in p.items() if v == rel}
            gg = {k for k, v in full.items() if v == rel and (rel != "cites" or k in g or k in p)}
            per[rel] = _prf(len(pp & gg), len(pp - gg), len(gg - pp))
        return per

    out["response"] = detect(pred)
    out["baseline"] = detect({k: "response" for k in links})
    out["per_relation"] = per_relation(pred)
    out["baseline_per_relation"] = per_relation({k: "rebuts" for k in links})
    both = [k for k in g if k in pred and g[k] != "cites" and pred[k] != "cites"]
    out["relation_accuracy_on_detected"] = round(sum(pred[k] == g[k] for k in both) / len(both), 3) if both else None
    out["errors"] = sorted(
        f"{g.get(k, '(cites)')} -> {pred.get(k, '(none)')}: {k[0]} -> {k[1]}" for k in set(g) | set(pred)
        if g.get(k, "cites") != pred.get(k, "cites"))
    return out


def same_sentence(a: str, b: str) -> bool:
    """Normalised text equal, or one contains the other (at least 20 characters)."""
    a, b = _norm(a), _norm(b)
    return bool(a) and bool(b) and (a == b or (min(len(a), len(b)) >= 20 and (a in b or b in a)))


def covers(pred: str, gold: str) -> bool:
    """The predicted target text matches the labelled target sentence or contains it."""
    p, q = _norm(pred), _norm(gold)
    return bool(p) and bool(q) and (p == q or q in p or (len(p) >= 20 and p in q))


def match_claims(rows: list[tuple], gold: list[dict], keys: dict[str, str]) -> list[int | None]:
    """For each labelled claim link, the index of the predicted row that matches it, or None.

    ``rows``: (source document, target document or '', source text, target text, ...);
    ``keys``: document ``url_key`` -> id. A match joins the same document pair, the same source
    sentence and a target text that covers the labelled one; a row not matched before is
    preferred."""
    from crux.htmltext import url_key

    taken: set[int] = set()
    hits: list[int | None] = []
    for gl in gold:
        s = keys.get(url_key(gl["source_url"]))
        t = keys.get(url_key(gl["target_url"]), "") if gl.get("target_url") else ""
        hit = None
        for i, r in enumerate(rows):
            if r[0] == s and r[1] == t and same_sentence(r[2], gl["source_sentence"]) \
                    and covers(r[3], gl["target_sentence"]):
                hit = i
                if i not in taken:
                    break
        if hit is not None:
            taken.add(hit)
        hits.append(hit)
    return hits


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
    matched_pred: set[int] = set()
    tp = rel_ok = 0
    missed: list[str] = []
    methods: dict[str, int] = {}
    for gl, hit in zip(gold, match_claims(rows, gold, keys), strict=True):
        if hit is None:
            missed.append(f"{gl['relation']}: {gl['source_sentence'][:110]!r} -> {gl['target_sentence'][:110]!r}")
            continue
        tp += 1
        matched_pred.add(hit)
        rel_ok += rows[hit][4] == gl["relation"]
        methods[rows[hit][5]] = methods.get(rows[hit][5], 0) + 1
    out = _prf(tp, len(rows) - len(matched_pred), len(gold) - tp)
    out["relation_accuracy_on_found"] = round(rel_ok / tp, 3) if tp else None
    out["gold"] = len(gold)
    out["predicted"] = len(rows)
    out["found_by_method"] = methods
    out["missed"] = missed
    out["unmatched_predictions"] = [f"{r[4]}/{r[5]}: {r[2][:110]!r} -> {r[3][:110]!r}"
                                    for i, r in enumerate(rows) if i not in matched_pred]
    return out


def demo(tmp: str) -> dict[str, Any]:
    from crux.demo import DEMO_DIR, DEMO_SOURCES

    con = build(str(Path(tmp) / "demo.duckdb"), [DEMO_DIR], sources=DEMO_SOURCES)
    expected = json.loads((HERE / "demo-expected.json").read_text())
    try:
        return {"responses": score_responses(con, expected["responses"]),
                "claim_links": score_claims(con, expected["claim_links"]),
                "documents": con.execute("SELECT count(*) FROM documents").fetchone()[0]}
    finally:
        con.close()


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def lw_subset(urls: set[str], out: Path) -> int:
    """Write the LessWrong 2020 posts named by ``urls`` plus their in-corpus link targets to ``out``."""
    import re

    from crux.htmltext import url_key

    want = {url_key(u) for u in urls}
    posts: dict[str, dict] = {}
    for f in sorted(LW2020.glob("*.json")):
        for p in json.loads(f.read_text()):
            posts["fm:" + p["_id"]] = p
    keep = {k for k in want if k in posts}
    for k in list(keep):
        for href in re.findall(r'href="([^"]+)"', posts[k].get("htmlBody") or ""):
            tk = url_key(href)
            if tk in posts:
                keep.add(tk)
    out.write_text(json.dumps([posts[k] for k in sorted(keep)]))
    return len(keep)


def real_store(tmp: str, name: str, docs: Path, claims: Path, *,
               seed: bool) -> tuple[Any, list[dict], list[dict], int] | None:
    """A labelled set's store, built by the real pipeline from its LessWrong 2020 posts and their
    in-corpus link targets (and the seed feed when ``seed``): ``(connection, document pairs,
    claim links, posts)``, or None when its files or the shared corpora are missing."""
    if not docs.exists() or not LW2020.exists() or (seed and not SEED.exists()):
        return None
    gdocs, gclaims = _jsonl(docs), _jsonl(claims) if claims.exists() else []
    sub = Path(tmp) / f"lesswrong-2020-{name}.json"
    n = lw_subset({_src(r) for r in gdocs} | {r["source_url"] for r in gclaims}, sub)
    con = build(str(Path(tmp) / f"{name}.duckdb"), [sub, SEED] if seed else [sub])
    return con, gdocs, gclaims, n


def real_set(tmp: str, name: str, docs: Path, claims: Path, *, seed: bool) -> dict[str, Any] | None:
    """A hand-labelled set of real text: its LessWrong 2020 posts (and the seed feed when ``seed``)."""
    store = real_store(tmp, name, docs, claims, seed=seed)
    if store is None:
        return None
    con, gdocs, gclaims, n = store
    try:
        return {"responses": score_responses(con, gdocs), "claim_links": score_claims(con, gclaims),
                "documents": con.execute("SELECT count(*) FROM documents").fetchone()[0], "lw2020_posts": n}
    finally:
        con.close()


def dev_set(tmp: str) -> dict[str, Any] | None:
    """The real development set (tuned on)."""
    return real_set(tmp, "dev", HERE / "links_dev_documents.jsonl", HERE / "links_dev_claims.jsonl", seed=False)


def dev2_set(tmp: str) -> dict[str, Any] | None:
    """The second real development set: labelled blind to the system, measured once before any
    tuning on it (EVALUATION.md keeps that first figure), tuned on since."""
    return real_set(tmp, "dev2", HERE / "links_dev2_documents.jsonl", HERE / "links_dev2_claims.jsonl", seed=False)


def dev3_set(tmp: str) -> dict[str, Any] | None:
    """The third real development set: labelled blind like dev 2, measured once before any tuning
    on it (EVALUATION.md keeps that first figure), tuned on since."""
    return real_set(tmp, "dev3", HERE / "links_dev3_documents.jsonl", HERE / "links_dev3_claims.jsonl", seed=False)


def test_set(tmp: str) -> dict[str, Any] | None:
    """The held-out set (never tuned on)."""
    return real_set(tmp, "test", HERE / "links_documents.jsonl", HERE / "links_claims.jsonl", seed=True)


SETS = ("demo", "dev", "dev2", "dev3", "test")


def run(*, dev: bool = True, test: bool = True, verbose: bool = False) -> dict[str, Any]:
    """Each set's figures (the real sets only when their files and the shared corpora exist).

    ``verbose`` keeps the per-item errors of the development sets; the held-out set's are
    always dropped, so that nobody tunes on them.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, Any] = {"demo": demo(tmp)}
        if dev:
            out["dev"] = dev_set(tmp)
            out["dev2"] = dev2_set(tmp)
            out["dev3"] = dev3_set(tmp)
        if test:
            out["test"] = test_set(tmp)
    for name, s in out.items():
        if s and (not verbose or name == "test"):
                s["responses"].pop("errors", None)
                s["claim_links"].pop("missed", None)
                s["claim_links"].pop("unmatched_predictions", None)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def section(results: dict[str, Any] | None = None) -> str:
    """The "Debate links" section of EVALUATION.md (runs :func:`run` when not given figures)."""
    res = results or run()
    names = [n for n in SETS if res.get(n)]
    label = {"demo": "demo (dev, tuned on)", "dev": "real dev (dev, tuned on)",
             "dev2": "real dev 2 (dev, labelled blind)", "dev3": "real dev 3 (dev, labelled blind)",
             "test": "held-out test"}
    lines = [
        "## Debate links",
        "",
        f"Evaluated {TODAY} by `python -m eval.links_eval` (part of `make eval`): the real pipeline "
        "(segment, claims, embed, responses, claim_links) on each corpus in a temporary DuckDB.",
        "",
    ]
    for n in names:
        r, c = res[n]["responses"], res[n]["claim_links"]
        gb = r["gold_by_relation"]
        src = {"demo": "`eval/demo-expected.json`, the fictional demo corpus",
               "dev": "`eval/links_dev_documents.jsonl` + `eval/links_dev_claims.jsonl`, labelled by hand "
                      f"from {res[n].get('lw2020_posts', '?')} posts of LessWrong 2020 (the labelled ones, none "
                      "of them in the held-out set, and their link targets); tuned on",
               "dev2": "`eval/links_dev2_documents.jsonl` + `eval/links_dev2_claims.jsonl`, labelled by hand "
                       f"without seeing the system's output from {res[n].get('lw2020_posts', '?')} posts of "
                       "LessWrong 2020 (none in the other sets' pairs), sampled like the held-out set",
               "dev3": "`eval/links_dev3_documents.jsonl` + `eval/links_dev3_claims.jsonl`, labelled like dev 2 "
                       f"(blind) from {res[n].get('lw2020_posts', '?')} posts of LessWrong 2020 (none in the "
                       "other sets), continuing dev 2's sampling order",
               "test": "`eval/links_documents.jsonl` + `eval/links_claims.jsonl`, labelled by hand from real "
                       f"text: the 2026-04-28 LessWrong seed feed and {res[n].get('lw2020_posts', '?')} posts of "
                       "LessWrong 2020 (the labelled ones and their link targets); never tuned on"}[n]
        lines.append(f"- **{label[n]}**: {src}. {r['pairs']} document pairs from {r['sources']} source "
                     f"documents ({gb['rebuts']} rebuts, {gb['supports']} supports, {gb['extends']} extends, "
                     f"{gb['cites']} cites), {c['gold']} claim links.")
    lines += ["", "| set | system | precision | recall | TP / FP / FN |", "| --- | --- | --- | --- | --- |"]
    for n in names:
        r, c = res[n]["responses"], res[n]["claim_links"]
        for what, m in (("responses (relation ≠ cites)", r["response"]),
                        ("baseline: every link is a response", r["baseline"])):
            lines.append(f"| {n} | {what} | {_f(m['precision'])} | {_f(m['recall'])} | "
                         f"{m['tp']} / {m['fp']} / {m['fn']} |")
        for rel in RELATIONS:
            m, b = r["per_relation"][rel], r["baseline_per_relation"][rel]
            lines.append(f"| {n} | `{rel}` (baseline: every link `rebuts`) | {_f(m['precision'])} "
                         f"({_f(b['precision'])}) | {_f(m['recall'])} ({_f(b['recall'])}) | "
                         f"{m['tp']} / {m['fp']} / {m['fn']} |")
        lines.append(f"| {n} | claim links (pair + both sentences) | {_f(c['precision'])} | "
                     f"{_f(c['recall'])} | {c['tp']} / {c['fp']} / {c['fn']} |")
    lines.append("")
    for n in names:
        r, c = res[n]["responses"], res[n]["claim_links"]
        lines.append(f"- {n}: relation accuracy {_f(r['relation_accuracy_on_detected'])} on detected "
                     f"responses, {_f(c['relation_accuracy_on_found'])} (attacks/supports) on found claim "
                     f"links; claim links found by method: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(c["found_by_method"].items())) or "none") + ".")
    lines += [
        *_gaps(res),
        "- Goals: response precision ≥ 0.9 with recall ≥ 0.8; claim-link recall ≥ 0.7. The held-out "
        "figures are the ones to quote; the held-out set is small (one pair moves recall by several "
        "points) and has one annotator.",
        f"- Run time {res.get('seconds', '?')} s for {len(names)} sets (2 shared cores, load average "
        f"{os.getloadavg()[0]:.1f}).",
        "",
    ]
    return "\n".join(lines)


def _fig(res: dict[str, Any], name: str, what: str = "response") -> str:
    s = res.get(name)
    if not s:
        return "not run"
    m = s["responses"][what] if what == "response" else s["claim_links"]
    return f"P {_f(m['precision'])} R {_f(m['recall'])}"


def _gaps(res: dict[str, Any]) -> list[str]:
    """The known-gaps bullets, with this run's figures."""
    return [
        "- History (2026-11-22): dev 2 was labelled blind to the system and measured once before "
        "anything was tuned on it: responses P 0.29 R 0.07, claim links P 0.36 R 0.08. That first "
        "figure, like the held-out one (P 0.30 R 0.67 before the changes below), says the rules "
        "written on the first dev set did not generalise. A blind audit of 45 predicted responses "
        "on the rest of LessWrong 2020 (labelled without seeing the predictions) found 13 right "
        "(precision 0.29): 23 of the 32 wrong ones rested on quotations of an outside work (a book "
        "quoted as a source, a definition, a podcast quoted in passing). Changes made on dev 2 and "
        "the audit: quoting an outside work that is not a forum post or a page of the source's own "
        "site no longer makes a response by itself (the document cites it; the answers to its quotes "
        "still become claim links, `evidence.quote_relation`); response titles after a few words "
        "(\"A long reply to X\"), an outside work named by the title through its link's URL, anchor "
        "or sentence, reviews (\"Review of\", \"In this post I review\"), \"inspired by\" follow-ups; "
        "a newsletter's \"summarized by\" is a citation; \"I'm working on a response to\" is no cue; "
        "the words before a title's cue come from a closed list (\"A long reply to\", not "
        "\"Ineffective Response to\"). On the audited pairs, precision rose to 0.48 (11 of 23 still "
        "predicted) and 2 of the 13 right ones were lost.",
        "- History (2026-11-23): dev 3 (87 pairs from 31 sources, 23 claim links) was labelled blind "
        "like dev 2 and measured once before anything was tuned on it: responses **P 1.00 R 0.27** "
        "(4 / 0 / 11), claim links P 1.00 R 0.09 (2 / 0 / 21). The precision changes made on dev 2 "
        "held on it; recall did not: 8 of its 11 missed responses were `extends` (follow-ups "
        "phrased \"As I explained previously\", \"my previous question post\", \"an elaboration of\"; "
        "question posts taking up a proposal), and its claim links answer quotes of papers the "
        "document only cites. Changes made on dev 3 (and checked on the other dev sets): those "
        "follow-up phrasings; a follow-up cue in the sentence before a link counts only in the same "
        "paragraph; a question post (title ending in \"?\") whose relation rests only on the stance of "
        "its claim pairs or quote answers `extends` its target; and claim links for quotes that no "
        "response covers (an unlinked quote, a cited work) in a document that answers at least two "
        "of them right after (`claim_links.ARGUED_QUOTES`): on dev 2 claim-link recall rose from 0.08 "
        "to 0.27 and precision fell from 0.33 to 0.17; on dev 3 recall rose from 0.09 to 0.61 at "
        "precision 0.16.",
        "- Since 2026-12-04 the responses decision is a learned model (`responses-lr-3`, "
        "EVALUATION.md \"Response model\"), trained on the three real dev sets (every candidate "
        "of their labelled sources) among others: the dev sets' response figures are in-sample "
        "since then. With the hand rule, the day before: held-out responses P 0.38 R 0.61, dev "
        "P 0.94 R 0.52, dev 2 P 0.75 R 0.41, dev 3 P 0.78 R 0.47; the learned model is level with "
        "it on the held-out set.",
        f"- Known gaps (held-out errors are never examined): held-out responses {_fig(res, 'test')}, "
        f"claim links {_fig(res, 'test', 'claims')}; dev 2 responses {_fig(res, 'dev2')}; dev 3 responses "
        f"{_fig(res, 'dev3')}. Precision on "
        "real text is still far below 0.9: quotations of in-corpus and forum posts used as "
        "exposition, cue phrases such as \"build on\" or \"a response to\" in a post that only "
        "mentions a planned response, and titles that name an event or a book page still make false "
        "responses. Recall misses posts that discuss a paper or book at length without a response "
        "title or cue (\"Then I'll walk through a recent talk by Dave Chalmers\", a post arguing "
        "with Gary Marcus's FAQ) and narrative follow-ups of the author's own posts. Claim links: "
        "`quote-answer` finds answers further down a post but also takes descriptive sentences "
        "near a quote for answers, and a target sentence in the corpus is seldom the nearest "
        "neighbour of the sentence that answers it, so paraphrases find almost nothing on real "
        "pairs. None of the three goals is met.",
    ]


def eval_links() -> str:
    """The runner ``python -m eval`` calls (eval/__main__.py): every set, the Markdown section."""
    return section()


def report(results: dict[str, Any]) -> str:
    return section(results)


def main(argv: list[str]) -> int:
    try:
        only_demo = "--demo" in argv
        res = run(dev=not only_demo, test=not only_demo and "--dev" not in argv, verbose="-v" in argv)
    except Exception as e:  # one clear line, not a traceback
        print(f"links eval failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    text = section(res)
    print(text)
    if "-v" in argv:
        for name in ("demo", "dev", "dev2", "dev3"):  # never the held-out set's errors
            if res.get(name):
                print(f"--- {name}: document-pair errors (gold -> predicted)")
                print("\n".join(res[name]["responses"]["errors"]))
                print(f"--- {name}: missed claim links")
                print("\n".join(res[name]["claim_links"]["missed"]))
                print(f"--- {name}: unmatched predicted claim links")
                print("\n".join(res[name]["claim_links"]["unmatched_predictions"]))
    if "--write" in argv:
        from eval.report import update_report
        update_report({"Debate links": text})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
