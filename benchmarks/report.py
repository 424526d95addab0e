"""The machine, the versions, and BENCHMARKS.md: a hand-written intro kept, the rest rewritten."""

from __future__ import annotations

import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

MARKER = "<!-- Everything below this line is written by `python -m benchmarks`; edit the text above it. -->"
DISTRIBUTIONS = ("duckdb", "scrapy", "spacy", "sentence-transformers", "torch", "bertopic",
                 "datasette", "feedparser", "sqlite-utils", "crux")
_HIDDEN = ("(all)",)  # raw per-repeat lists stay in results.json


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model and load: what the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory GB": round(mem_gb, 1), "cpu": model,
            "os": f"{platform.system()} {platform.release()}", "load average": load()}


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def fmt(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if key.startswith("×") or key == "growth exponent":
            return f"{value:.2f}" + ("×" if key.startswith("×") else "")
        a = abs(value)
        if a >= 100:
            return f"{value:,.0f}"
        if a >= 10:
            return f"{value:.1f}"
        if a >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows`` (columns in first-seen order; raw lists left out)."""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols and not any(k.endswith(h) for h in _HIDDEN):
                cols.append(k)
    lines = ["| " + " | ".join(cols) + " |",
             "| " + " | ".join("---" if i < 2 else "---:" for i in range(len(cols))) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(c, r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def section(title: str, entry: dict[str, Any]) -> str:
    """One benchmark's section: its table(s), its flat figures, its notes, or why it's missing."""
    out = [f"### {title}", ""]
    meta = f"Run {entry['date']} ({entry['mode']} mode, {entry['seconds']:.0f} s)."
    result = entry.get("result") or {}
    if entry.get("error"):
        out += [meta, "", f"**Failed:** {entry['error']}", ""]
        return "\n".join(out)
    if failed := entry.get("failed_attempt"):
        out += [f"**The last attempt ({failed['date']}) failed:** {failed['error']} "
                "The figures below are from the earlier run.", ""]
    if "skipped" in result:
        out += [f"_{result['skipped']}_", ""]
        return "\n".join(out)
    out += [meta, ""]
    if result.get("rows"):
        out += [table(result["rows"]), ""]
    for sub, rows in (result.get("tables") or {}).items():
        out += [f"{sub}:", "", table(rows), ""]
    flat = {k: v for k, v in result.items() if k not in ("rows", "tables", "notes")}
    for k, v in flat.items():
        out.append(f"- {k}: {fmt(k, v)}")
    if flat:
        out.append("")
    for note in result.get("notes") or []:
        out += [note, ""]
    return "\n".join(out)


DEFAULT_INTRO = "# Benchmarks\n\nRun `make bench` (or `make bench QUICK=1`).\n"


def intro(path: Path) -> str:
    """The hand-written part of ``path`` (everything above the marker)."""
    if not path.exists():
        return DEFAULT_INTRO
    text = path.read_text(encoding="utf-8")
    head, found, _ = text.partition(MARKER)
    return head.rstrip() + "\n" if found else text.rstrip() + "\n"


def render(state: dict[str, Any], titles: dict[str, str], head: str) -> str:
    run = state["last_run"]
    m, v = run["machine"], run["versions"]
    parts = [head.rstrip(), "", MARKER, "", "## Last run", "",
             f"- Date: {run['date']}; mode: {run['mode']}; sizes: "
             f"{', '.join(f'{s}×' for s in run['sizes'])}; benchmarks run: {', '.join(run['ran'])}; "
             f"took {run['seconds']:.0f} s.",
             f"- Machine: {m['cores']} cores, {m['memory GB']} GB, {m['cpu']}, {m['os']}; load "
             f"average (1, 5, 15 min) {m['load average']} at the start, {run['load at end']} at the end.",
             "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".", "",
             "Every figure is the median of the repeats shown, measured beside its reference in the "
             "same run; compare the × columns (ratios), not the absolute times, across runs.", ""]
    for name, title in titles.items():
        entry = state["benchmarks"].get(name)
        if entry is None:
            parts += [f"### {title}", "", "_not run yet: `python -m benchmarks --only "
                      f"{name}`_", ""]
        else:
            parts.append(section(title, entry))
    return "\n".join(parts).rstrip() + "\n"
