"""``python -m eval``: score claims and forecasts on their test splits; update EVALUATION.md."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
from pathlib import Path

from .report import HERE, ROOT, TODAY, _load, _row, kappa, prf, update_report

KIND_TRIED_OLD = (
    'Tried 2026-11-22 and not adopted: rewritten kind rules scored 0.56 against the current '
    "rules' 0.40 on the train claims (5 folds grouped by document) but 42% against 46% on the "
    'test split (28 and 31 of 67); multinomial logistic regressions over the hand features, the'
    ' MiniLM vector or both scored 0.25 to 0.51 on the same folds (the vector seems to learn '
    "each document's topic). Kind needs more labelled claims (about 30 per kind in train now)."
)

def _agreement(rows: list[dict]) -> dict[str, tuple[float, float, int]]:
    """(kappa, raw agreement, n) of the second labeller on claim, forecast and form."""
    path = HERE / "sentences_agreement.jsonl"
    if not path.exists():
        return {}
    second = {r["id"]: r for r in _load(path.name)}
    first = {r["id"]: r for r in rows}
    ids = sorted(set(second) & set(first))
    out = {}
    for field in ("claim", "forecast"):
        a = [int(bool(first[i][field])) for i in ids]
        b = [int(bool(second[i].get(field))) for i in ids]
        out[field] = (kappa(a, b), sum(x == y for x, y in zip(a, b, strict=True)) / len(ids),
                      len(ids))
    both = [i for i in ids if first[i]["forecast"] and second[i].get("forecast")]
    a = [first[i]["form"] for i in both]
    b = [second[i].get("form") for i in both]
    if both:
        out["form"] = (kappa(a, b), sum(x == y for x, y in zip(a, b, strict=True)) / len(both),
                       len(both))
    return out


def _cv_table(meta: dict) -> list[str]:
    lines = ["| candidate | C | threshold | CV precision | CV recall | CV F1 |",
             "| --- | --- | --- | --- | --- | --- |"]
    best: dict[str, dict] = {}
    for c in meta.get("candidates", []):
        if c["candidate"] not in best or c["f1"] > best[c["candidate"]]["f1"]:
            best[c["candidate"]] = c
    for c in best.values():
        mark = "**" if c["candidate"] == meta.get("candidate") else ""
        lines.append(f"| {mark}{c['candidate']}{mark} | {c['C']} | {c['threshold']} | "
                     f"{c['precision']:.3f} | {c['recall']:.3f} | {mark}{c['f1']:.3f}{mark} |")
    return lines


def _sizes(rows: list[dict], field: str) -> str:
    parts = []
    for split in ("train", "dev", "test"):
        rs = [r for r in rows if r["split"] == split]
        parts.append(f"{split} {len(rs)} sentences / {sum(r[field] for r in rs)} positive / "
                     f"{len({r['doc'] for r in rs})} documents")
    return "; ".join(parts)


def eval_claims() -> str:
    from crux.pipeline.claims import MODEL_PATH, ClaimModel, ClaimScorer
    from crux.pipeline.features import baseline_is_claim, load_nlp

    rows = _load("sentences.jsonl")
    test = [r for r in rows if r["split"] == "test"]
    scorer = ClaimScorer()
    t0 = time.perf_counter()
    scored = scorer.score([r["text"] for r in test], [r["block"] for r in test],
                          [r["in_quote"] for r in test])
    seconds = time.perf_counter() - t0
    thr = scorer.model.threshold
    gold = [bool(r["claim"]) for r in test]
    model_m = prf(gold, [k is not None and p >= thr for p, k in scored])
    old_path = MODEL_PATH.with_name("claims-lr-1.json")
    old_rows = []
    if old_path.exists():
        old = ClaimScorer(ClaimModel.load(old_path))
        old_scored = old.score([r["text"] for r in test], [r["block"] for r in test],
                               [r["in_quote"] for r in test])
        old_m = prf(gold, [k is not None and p >= old.model.threshold for p, k in old_scored])
        old_rows = [_row("`claims-lr-1` (the previous model, trained on `claims.jsonl`)", old_m)]
    nlp = load_nlp()
    base_m = prf(gold, [not r["in_quote"] and baseline_is_claim(d)
                        for r, d in zip(test, nlp.pipe([r["text"] for r in test]), strict=True)])
    tp_kinds = [(r["kind"], k) for r, (p, k) in zip(test, scored, strict=True)
                if r["claim"] and k is not None and p >= thr]
    kind_acc = sum(a == b for a, b in tp_kinds) / max(len(tp_kinds), 1)
    meta = scorer.model.meta
    agree = _agreement(rows)
    k = agree.get("claim")
    lines = [
        "## Claims",
        "",
        f"Evaluated {TODAY} on the **test** split of `eval/sentences.jsonl` (drawn blind, "
        "labelled by helpers from the text only; sampling rule and guideline in "
        f"`eval/README.md`). Sizes: {_sizes(rows, 'claim')}. The model was picked by 5-fold "
        "cross-validation grouped by document on train + dev, then scored once here.",
        "",
        "| system | precision | recall | F1 | TP / FP / FN |",
        "| --- | --- | --- | --- | --- |",
        _row(f"`{scorer.model.name}` ({meta.get('candidate')}, threshold {thr})", model_m),
        *old_rows,
        _row("baseline: any modal or first-person verb", base_m),
        "",
        "Candidates (cross-validated on train + dev, best C of each):",
        "",
        *_cv_table(meta),
        "",
        (f"- Agreement: a second helper relabelled {k[2]} random sentences blind: Cohen's kappa "
         f"**{k[0]:.2f}** on claim / not claim (raw agreement {k[1]:.0%})." if k else
         "- Agreement: no second pass yet."),
        "- Rules before the classifier: quoted sentences (`in_quote`), headings, code, math, "
        "table cells, captions and questions are never claims.",
        f"- `kind` (rules) agrees with the label on {kind_acc:.0%} of the {len(tp_kinds)} true "
        "positives.",
        f"- {len(test)} test sentences scored in {seconds:.1f} s including model warm-up.",
        "",
    ]
    return "\n".join(lines)


def _agreement_third() -> tuple[float, float, int] | None:
    """(kappa, raw agreement, n) of the second labeller on the third draw's forecast label."""
    path = HERE / "forecast_sentences_agreement.jsonl"
    if not path.exists() or not (HERE / "forecast_sentences.jsonl").exists():
        return None
    second = {r["id"]: r for r in _load(path.name)}
    first = {r["id"]: r for r in _load("forecast_sentences.jsonl")}
    ids = sorted(set(second) & set(first))
    a = [int(bool(first[i]["forecast"])) for i in ids]
    b = [int(bool(second[i].get("forecast"))) for i in ids]
    if not ids:
        return None
    return kappa(a, b), sum(x == y for x, y in zip(a, b, strict=True)) / len(ids), len(ids)


def eval_forecasts() -> str:
    from crux.pipeline.claims import ClaimModel
    from crux.pipeline.features import load_nlp
    from crux.pipeline.forecasts import MODEL_PATH, ForecastsStage, forecast_fields, parse_forecast

    first = _load("sentences.jsonl")
    third = (_load("forecast_sentences.jsonl")
             if (HERE / "forecast_sentences.jsonl").exists() else [])
    rows = first + third
    test = [r for r in rows if r["split"] == "test"]
    in_third = [r.get("draw") == "third" for r in test]
    pubs = [date.fromisoformat(r["published_at"]) if r.get("published_at") else None
            for r in test]
    texts = [r["text"] for r in test]
    quotes = [r["in_quote"] for r in test]
    stage = ForecastsStage()
    stage.setup(None)  # type: ignore[arg-type]
    probs = stage.score(texts, pubs, quotes)
    thr = stage.model.threshold
    pred = [p >= thr for p in probs]
    gold = [bool(r["forecast"]) for r in test]
    m = prf(gold, pred)
    old_path = MODEL_PATH.with_name("forecasts-lr-1.json")
    old_rows: list[str] = []
    old_pred: list[bool] | None = None
    old_m: dict[str, float] = {}
    if old_path.exists() and old_path != MODEL_PATH:
        old = ForecastsStage(ClaimModel.load(old_path))
        old.setup(None)  # type: ignore[arg-type]
        old_pred = [p >= old.model.threshold for p in old.score(texts, pubs, quotes)]
        old_m = prf(gold, old_pred)
        old_rows = [_row("`forecasts-lr-1` (the previous model, trained on "
                         "`sentences.jsonl` only)", old_m)]
    nlp = load_nlp()
    docs = list(nlp.pipe(texts, batch_size=64))
    rules = [parse_forecast(r["text"], pub, d) is not None
             for r, pub, d in zip(test, pubs, docs, strict=True)]
    rm = prf(gold, rules)
    by_form = []
    for form in ("numeric", "hedged", "unhedged"):
        idx = [i for i, r in enumerate(test) if r["forecast"] and r.get("form") == form]
        hit = sum(pred[i] for i in idx)
        rhit = sum(rules[i] for i in idx)
        by_form.append(f"| {form} | {len(idx)} | {hit} ({hit / max(len(idx), 1):.2f}) | "
                       f"{rhit} ({rhit / max(len(idx), 1):.2f}) |")
    by_draw = []
    for label, keep in (("first two draws (`sentences.jsonl`)", False),
                        ("third draw (`forecast_sentences.jsonl`)", True)):
        idx = [i for i in range(len(test)) if in_third[i] == keep]
        if not idx:
            continue
        g = [gold[i] for i in idx]
        cells = [_row(f"{label}, {len(idx)} sentences / {sum(g)} forecasts: "
                      f"`{stage.model.meta.get('name')}`", prf(g, [pred[i] for i in idx]))]
        if old_pred is not None:
            cells.append(_row(f"{label}: `forecasts-lr-1`", prf(g, [old_pred[i] for i in idx])))
        by_draw += cells
    fields = {i: forecast_fields(test[i]["text"], pubs[i], docs[i])
              for i in range(len(test)) if pred[i] and gold[i]}
    form_ok = [fields[i].form == test[i].get("form") for i in fields]
    errs = [abs(fields[i].probability - test[i]["probability"]) for i in fields
            if test[i].get("form") == "numeric" and test[i].get("probability") is not None
            and fields[i].probability is not None]
    missing_p = sum(1 for i in fields if test[i].get("form") == "numeric"
                    and test[i].get("probability") is not None and fields[i].probability is None)
    hz = [str(fields[i].horizon) == test[i]["horizon"] for i in fields if test[i].get("horizon")]
    mae = sum(errs) / len(errs) if errs else float("nan")
    agree = _agreement(first)
    k, kf = agree.get("forecast"), agree.get("form")
    k3 = _agreement_third()
    meta = stage.model.meta
    source = ("`eval/sentences.jsonl` and `eval/forecast_sentences.jsonl` (the third draw, "
              "labelled for forecasts only)" if third else "`eval/sentences.jsonl`")
    lines = [
        "## Forecasts",
        "",
        f"Evaluated {TODAY} on the **test** split of {source}: blind samples, split by "
        f"document. Sizes: {_sizes(rows, 'forecast')}. A learned detector "
        f"decides (`{meta.get('name')}`: {meta.get('candidate')}, threshold {thr}); rules "
        "extract the fields. Picked by 5-fold cross-validation grouped by document on train + "
        "dev; scored once here.",
        "",
        "| system | precision | recall | F1 | TP / FP / FN |",
        "| --- | --- | --- | --- | --- |",
        _row(f"`{meta.get('name')}`", m),
        *old_rows,
        _row("the rules alone (`parse_forecast`, the previous stage)", rm),
        "",
        *(["By draw (test):", "", "| system | precision | recall | F1 | TP / FP / FN |",
           "| --- | --- | --- | --- | --- |", *by_draw, ""] if third else []),
        "Recall by form (test):",
        "",
        "| form | forecasts | found by the model | found by the rules |",
        "| --- | --- | --- | --- |",
        *by_form,
        "",
        "Candidates (cross-validated on train + dev, best C of each):",
        "",
        *_cv_table(meta),
        "",
        f"- Fields on the {len(fields)} true positives: `form` right on "
        f"{sum(form_ok)} ({sum(form_ok) / max(len(form_ok), 1):.0%}); numeric probability "
        f"mean absolute error **{mae:.3f}** over {len(errs)} (no number extracted for "
        f"{missing_p}); horizon right on {sum(hz)} of {len(hz)} with a labelled horizon.",
        (f"- Agreement: a second helper relabelled {k[2]} random sentences blind: Cohen's kappa "
         f"**{k[0]:.2f}** on forecast / not (raw agreement {k[1]:.1%})"
         + (f"; form kappa {kf[0]:.2f} on the {kf[2]} both called forecasts." if kf else ".")
         if k else "- Agreement: no second pass yet."),
        *([f"- The third draw added {sum(r['forecast'] for r in third if r['split'] != 'test')}"
           " training forecasts (train + dev); the model trained with them is the one "
           f"cross-validation picked, and on test it scores F1 {m['f1']:.3f} (P "
           f"{m['precision']:.3f}, R {m['recall']:.3f}) against the previous model's "
           f"{old_m['f1']:.3f} (P {old_m['precision']:.3f}, R {old_m['recall']:.3f}): 1.4 times "
           "the labelled forecasts did not move F1 beyond noise; it traded precision for "
           "recall."] if old_pred is not None else []),
        *([f"- Third draw: a second helper relabelled {k3[2]} random sentences of it blind: "
           f"Cohen's kappa **{k3[0]:.2f}** on forecast / not (raw agreement {k3[1]:.1%})."]
          if k3 else []),
        "",
    ]
    return "\n".join(lines)


def eval_pairs() -> str:
    """Sizes and agreement of the blind document-pair and sentence-pair labels."""
    lines = ["## Labelled pairs", "",
             f"Counted {TODAY}. The pools and the rule that drew them: `eval/README.md` (document "
             "pairs and sentence pairs, labelled blind). The claim-pair model (next section) is "
             "trained on the sentence pairs; no response model is trained on the document pairs "
             "yet (they hold 29 responses).", "",
             "| file | pairs | labels | agreement (second blind pass) |",
             "| --- | --- | --- | --- |"]
    for name, key in (("pairs_documents", "source"), ("pairs_sentences", "doc"),
                      ("pairs_sentences2", "doc")):
        rows = _load(f"{name}.jsonl")
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["relation"]] = counts.get(r["relation"], 0) + 1
        agree = "not measured"
        path = HERE / f"{name}_agreement.jsonl"
        if path.exists():
            first = {r["id"]: r["relation"] for r in rows}
            second = {r["id"]: r["relation"] for r in _load(path.name)}
            ids = sorted(set(first) & set(second))
            a, b = [first[i] for i in ids], [second[i] for i in ids]
            raw = sum(x == y for x, y in zip(a, b, strict=True)) / max(len(ids), 1)
            agree = f"Cohen's kappa {kappa(a, b):.2f} (raw {raw:.0%}) on {len(ids)}"
        splits = {sp: sum(1 for r in rows if r["split"] == sp) for sp in ("train", "dev", "test")}
        lines.append(f"| `{name}.jsonl` | {len(rows)} from {len({r[key] for r in rows})} documents "
                     f"(train {splits['train']}, dev {splits['dev']}, test {splits['test']}) | "
                     + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" | {agree} |")
    return "\n".join(lines + [""])


def eval_pair_model() -> str:
    """The claim-pair cross-encoder on the test split of ``pairs_sentences.jsonl``."""
    import sys as _sys

    from crux.pipeline import pair_model

    _sys.path.insert(0, str(ROOT / "scripts"))
    from train_pair_model import REL, lr_floor, scores

    rows = _load("pairs_sentences.jsonl")
    test = [r for r in rows if r["split"] == "test"]
    train = [r for r in rows if r["split"] in ("train", "dev")]
    m = pair_model.load()
    t0 = time.perf_counter()
    probs = m.predict([r["quote"] for r in test], [r["sentence"] for r in test])
    seconds = time.perf_counter() - t0
    gold = [REL[r["relation"]] for r in test]

    def at_threshold(p):
        import numpy as np
        q = np.array(p, copy=True)
        link = 1 - q[:, 0] >= m.threshold
        q[:, 0] = np.where(link, 0.0, 1.0)
        return q

    ce = scores(gold, at_threshold(probs))
    floor = scores(gold, lr_floor(train, test))
    import numpy as np

    from crux.pipeline.stance import sentence_stance

    rule_p = np.zeros((len(test), 3))
    for i, r in enumerate(test):
        rel, strength, _ = sentence_stance(r["sentence"], r["quote"])
        rule_p[i, REL[rel] if rel is not None and strength >= 0.55 else 0] = 1.0
    rules = scores(gold, rule_p)
    meta = m.meta
    cv = json.loads(meta.get("validation", "{}"))

    def row(name, x):
        st = f"{x['stance_accuracy']:.2f}" if x.get("stance_accuracy") is not None else "-"
        return (f"| {name} | {x['precision']:.3f} | {x['recall']:.3f} | {x['f1']:.3f} | {st} | "
                f"{x['tp']} / {x['fp']} / {x['fn']} |")

    lines = [
        "## Claim-pair model",
        "",
        f"Evaluated {TODAY} on the **test** split of `eval/pairs_sentences.jsonl` ({len(test)} "
        f"pairs: a block-quoted passage and one of the author's next three sentences; "
        f"{sum(1 for g in gold if g)} attack or support it). A link is a pair the model calls "
        "attacks or supports; stance accuracy is over the links found.",
        "",
        "| system | precision | recall | F1 | stance accuracy | TP / FP / FN |",
        "| --- | --- | --- | --- | --- | --- |",
        row(f"`{m.name}`: MiniLM cross-encoder, LoRA, SNLI then in-domain "
            f"(threshold {m.threshold})", ce),
        row("floor: logistic regression over MiniLM vectors of both texts", floor),
        row("the stage's cue rules (a strong stance cue in the answer; `sentence_stance`)",
            rules),
        "",
        "Model selection: trained on the train split, scored on the dev split (other documents; "
        "argmax decisions; 5-fold cross-validation of the cross-encoder would take about an hour "
        "on two cores):",
        "",
        "| candidate | precision | recall | F1 | stance accuracy |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | "
          f"{v['stance_accuracy'] if v['stance_accuracy'] is not None else '-'} |"
          for k, v in cv.items()],
        "",
        f"- Training (`scripts/train_pair_model.py`, 2 cores): {meta.get('nli_pairs')} SNLI pairs "
        f"in {meta.get('nli_seconds')} s (SNLI test accuracy {meta.get('snli_test_accuracy')}), "
        f"then {meta.get('train_pairs')} in-domain pairs, {meta.get('epochs')} epochs, in "
        f"{meta.get('train_seconds')} s; the dev round took {meta.get('validation_seconds')} s. "
        f"The delta is {pair_model.MODEL_PATH.stat().st_size // 1024} KB.",
        f"- Scoring: {len(test)} pairs in {seconds:.1f} s including loading.",
        "",
    ]
    return "\n".join(lines)


def eval_resolution() -> str:
    """How many labelled responses between corpus documents reach their target through a link
    crux resolves (``links.target_id``), on a store of the shared corpora."""
    import tempfile

    from crux.crawler.ingest import ingest_paths
    from crux.db import connect
    from crux.htmltext import url_key

    shared = Path(os.environ.get("CRUX_SHARED", ROOT.parent / "shared")) / "corpora"
    rows = []
    for name in ("pairs_documents.jsonl", "links_dev_documents.jsonl",
                 "links_dev2_documents.jsonl", "links_dev3_documents.jsonl"):
        for r in _load(name):
            if r["relation"] in ("rebuts", "supports", "extends"):
                rows.append((name, r["source_url"], r["target_url"]))
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(str(Path(tmp) / "r.duckdb"))
        ingest_paths(con, [shared / "lesswrong-2020", shared / "seed-feeds"])
        keys = dict(con.execute("SELECT key, document_id FROM document_keys").fetchall())
        resolved = {(s, t) for s, t in con.execute(
            "SELECT source_id, target_id FROM links WHERE target_id IS NOT NULL").fetchall()}
        con.close()
    # both in the corpus and two documents (a link post's own url is its target's: not a pair)
    inside = [(n, s, t) for n, s, t in rows if url_key(s) in keys and url_key(t) in keys
              and keys[url_key(s)] != keys[url_key(t)]]
    ok = [x for x in inside if (keys[url_key(x[1])], keys[url_key(x[2])]) in resolved]
    by_set: dict[str, list[int]] = {}
    for n, _s, _t in inside:
        by_set.setdefault(n, [0, 0])[1] += 1
    for n, _s, _t in ok:
        by_set[n][0] += 1
    lines = ["## Link resolution", "",
             f"Measured {TODAY} on a store of LessWrong 2020 and the seed feeds (`crux ingest`): "
             "of the labelled responses (`rebuts`, `supports`, `extends`) whose source and target "
             "are both in the corpus, the share whose link resolves to the target "
             "(`links.target_id`).", "",
             "| set | responses inside the corpus | resolved |", "| --- | --- | --- |"]
    for n, (a, b) in sorted(by_set.items()):
        lines.append(f"| `{n}` | {b} | {a} ({a / max(b, 1):.0%}) |")
    lines += [f"| all | {len(inside)} | **{len(ok)} ({len(ok) / max(len(inside), 1):.0%})** |",
              "", "Responses to works outside the corpus keep their URL as the target key; "
              "they are not counted here.", ""]
    return "\n".join(lines)


def _runners() -> list[tuple[str, object]]:
    """Each section of EVALUATION.md and the function that writes it, in report order."""
    from .topics_eval import eval_topics
    runners: list[tuple[str, object]] = [("Claims", eval_claims), ("Forecasts", eval_forecasts),
                                         ("Labelled pairs", eval_pairs),
                                         ("Claim-pair model", eval_pair_model),
                                         ("Link resolution", eval_resolution)]
    from .links_eval import eval_links
    runners.append(("Debate links", eval_links))
    from .groups_eval import eval_groups
    runners.append(("Same-event forecast groups", eval_groups))
    runners.append(("Topics", eval_topics))
    return runners


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    t0 = time.perf_counter()
    only = {a.lower() for a in sys.argv[1:]}  # e.g. `python -m eval claims topics`
    runners = _runners()
    names = [title.lower() for title, _ in runners]
    if only - set(names):
        print(f"usage: python -m eval [SECTION ...]; sections: {', '.join(repr(n) for n in names)}"
              + ("" if only <= {"-h", "--help"} else
                 f" (unknown: {', '.join(sorted(only - set(names)))})"), file=sys.stderr)
        return 0 if only <= {"-h", "--help"} else 2
    sections = {}
    for title, fn in runners:
        if only and title.lower() not in only:
            continue
        try:
            sections[title] = fn()
        except Exception as e:  # one clear line, not a traceback
            print(f"eval {title} failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    update_report(sections)
    for body in sections.values():
        print(body)
    print(f"EVALUATION.md updated ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
