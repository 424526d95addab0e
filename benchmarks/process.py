"""``crux process`` (every NLP and linking stage) on the ingested corpus, as a user runs it.

One fresh ``crux --db COPY process`` per size on a private copy of the ingested store: wall
time, CPU time and peak RSS of the whole command (models load inside it), the stage lines it
prints, and what it stored. Quick mode: the first :data:`benchmarks.QUICK_POSTS` posts.
Full mode: 1× and 4× (:data:`MAX_SIZE`); 16× would take hours on two cores (the claims
classifier encodes every candidate sentence), so it is left out and said so.

The processed 1× store (quick: the sample's) is kept as ``out/db/processed-*.duckdb`` for the
benchmarks that need a processed corpus (``topics``, ``links``).

A size measured by an earlier full run and not asked for now (``--sizes 4`` after a run at 1×)
is carried from ``out/results.json`` with its date, so the growth exponents can span two runs
on a machine where one run of both sizes does not fit; the row says so. CPU time grows less
with the machine's load than wall time, so both exponents are given.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from . import QUICK_POSTS, register
from .harness import Context, growth_rows, loglog_slope

MAX_SIZE = 4  # largest corpus `process` runs on in full mode (see the module doc)
TABLES = ("sentences", "claims", "forecasts", "embeddings", "responses", "claim_links")
_STAGE_LINE = re.compile(
    r"^(\w+): (\d+) documents processed, (\d+) rows, \d+ up to date \(([\d.]+)s(?:, CPU ([\d.]+)s)?\)")


def stage_seconds(stdout: str) -> dict[str, float]:
    """Each stage's own time, from the lines ``crux process`` prints."""
    return {m[1]: float(m[4]) for m in map(_STAGE_LINE.match, stdout.splitlines()) if m}


def stage_cpu(stdout: str) -> dict[str, float]:
    """Each stage's CPU seconds (every thread of the process), where the line gives them."""
    return {m[1]: float(m[5]) for m in map(_STAGE_LINE.match, stdout.splitlines()) if m and m[5]}


def processed(ctx: Context) -> Path:
    """The processed store this run's ``process`` benchmark left (quick: the sample's)."""
    return ctx.out / "db" / (f"processed-first{QUICK_POSTS}.duckdb" if ctx.quick else "processed-x1.duckdb")


def _counts(db: Path) -> dict[str, int]:
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", *TABLES)}
    finally:
        con.close()


def _earlier_rows(ctx: Context) -> list[dict[str, Any]]:
    """Full-mode rows of an earlier ``process`` run, each with its run's date."""
    try:
        entry = json.loads((ctx.out / "results.json").read_text())["benchmarks"]["process"]
    except (OSError, ValueError, KeyError):
        return []
    if entry.get("mode") != "full" or "result" not in entry:
        return []
    return [{**row, "run": row.get("run") or entry.get("date", "?")}
            for row in entry["result"].get("rows", []) if re.fullmatch(r"\d+×", str(row.get("corpus")))]


@register("process", "Process: `crux process` (every stage) in one command", order=62)
def bench_process(ctx: Context) -> dict[str, Any]:

    if ctx.quick:
        runs = [(f"first {QUICK_POSTS} posts", 1, ctx.ingested_sample(QUICK_POSTS))]
    else:
        runs = [(f"{s}×", s, ctx.ingested(s)) for s in ctx.sizes if s <= MAX_SIZE]
    rows, walls, cpus, sizes, per_stage = [], [], [], [], []
    tables: dict[str, list[dict[str, Any]]] = {}
    if not ctx.quick:  # sizes measured earlier and not asked for now (see the module doc)
        asked = {size for _, size, _ in runs}
        for row in _earlier_rows(ctx):
            size = int(str(row["corpus"]).rstrip("×"))
            if size not in asked:
                rows.append(row)
                walls.append(row["wall s"])
                cpus.append(row["CPU s"])
                per_stage.append(stage_seconds(row["stages"].replace(" · ", "\n")))
                sizes.append(size)
    for label, size, src in runs:
        work = ctx.scratch(f"process-{size}")
        db = work / "store.duckdb"
        shutil.copyfile(src, db)
        ctx.log(f"  crux process, {label}")
        m = ctx.run([*ctx.crux, "--db", str(db), "process"], what="crux process", timeout=4 * 3600)
        n = _counts(db)
        rows.append({"corpus": label, "run": "this run", "documents": n["documents"],
                     "wall s": m.wall_s, "CPU s": m.cpu_s, "CPU s / wall s": m.cpu_s / m.wall_s,
                     "peak RSS MB": m.peak_rss_mb, "docs/s": n["documents"] / m.wall_s,
                     "sentences/s": n["sentences"] / m.wall_s,
                     **{t: n[t] for t in TABLES},
                     "stages": " · ".join(line.strip() for line in m.stdout.splitlines() if line.strip())})
        walls.append(m.wall_s)
        cpus.append(m.cpu_s)
        per_stage.append(stage_seconds(m.stdout))
        busy = {st: (cpu, stage_seconds(m.stdout)[st]) for st, cpu in stage_cpu(m.stdout).items()}
        if busy:
            tables[f"CPU utilisation by stage, {label} (CPU s / wall s; 2.0 = both cores busy)"] = [
                {"stage": st, "wall s": wall, "CPU s": cpu, "CPU s / wall s": cpu / wall if wall else 0.0}
                for st, (cpu, wall) in busy.items()]
        sizes.append(size)
        if size == 1:
            keep = processed(ctx)
            keep.unlink(missing_ok=True)
            shutil.copyfile(db, keep)
        shutil.rmtree(work, ignore_errors=True)
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    rows, walls, cpus, sizes, per_stage = ([xs[i] for i in order] for xs in (rows, walls, cpus, sizes, per_stage))
    result: dict[str, Any] = {"rows": rows, "tables": tables}
    if len(sizes) >= 2:
        result["growth exponent (wall, log-log)"] = loglog_slope(sizes, walls)
        result["growth exponent (CPU, log-log)"] = loglog_slope(sizes, cpus)
        result["peak RSS growth (largest / smallest)"] = rows[-1]["peak RSS MB"] / rows[0]["peak RSS MB"]
        table = growth_rows("stage", sizes, {st: [p.get(st, 0.0) for p in per_stage] for st in per_stage[0]},
                            unit="s")
        tables["Each stage's time by corpus size (log-log slope; 1.0 = linear)"] = table
    skipped = [s for s in ctx.sizes if s > MAX_SIZE] if not ctx.quick else []
    result["notes"] = [
        "One `crux process` per row, a new process on a private copy of the ingested store: "
        "loading spaCy, the claims model and the encoder is inside the wall time.",
        "Stages commit per batch of documents, so peak memory follows the batch and the models, "
        "not the corpus." + (f" Not run at {', '.join(f'{s}×' for s in skipped)}: hours on two cores."
                             if skipped else ""),
    ]
    return result
