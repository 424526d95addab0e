"""What every evaluation shares: the paths, the report writer and the scores (a leaf module)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPORT = ROOT / "EVALUATION.md"
TODAY = date.today().isoformat()  # the day a section is written


def _load(name: str) -> list[dict]:
    path = HERE / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prf(gold: list[bool], pred: list[bool]) -> dict[str, float]:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if not g and p)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def _row(name: str, m: dict[str, float]) -> str:
    return (f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['tp']} / {m['fp']} / {m['fn']} |")


def kappa(a: list, b: list) -> float:
    """Cohen's kappa of two label lists."""
    n = len(a)
    if not n:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    cats = set(a) | set(b)
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def update_report(sections: dict[str, str], path: Path = REPORT) -> None:
    """Replace (or append) the named ``## `` sections of EVALUATION.md, keeping the others."""
    text = path.read_text() if path.exists() else (
        "# Evaluation\n\nWritten by `make eval` (`python -m eval`). One section per area; "
        "each runner rewrites only its own sections.\n\n")
    for title, body in sections.items():
        pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
        body = body.rstrip() + "\n\n"
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=body: b, text, count=1)
        else:
            text = text.rstrip() + "\n\n" + body
    path.write_text(text.rstrip() + "\n")
