"""``python -m benchmarks [--quick] [--only NAME] [--sizes 1,4,16]``: run, then rewrite BENCHMARKS.md.

Each benchmark's result is also kept in ``benchmarks/out/results.json``; with ``--only``, the
other benchmarks' tables are carried over from there, with the date they were measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from . import load_all
from .harness import OUT, ROOT, BenchError, Context
from .report import intro, load, machine, render, versions


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes whole numbers separated by commas, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--sizes needs one or more sizes of 1 or more, e.g. 1,4,16")
    return sizes


def main(argv: list[str] | None = None) -> int:
    registry = load_all()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, 1× corpus only, shorter loads (under 10 minutes)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=list(registry),
                        help=f"run only this benchmark (repeatable): {', '.join(registry)}")
    parser.add_argument("--sizes", type=parse_sizes, metavar="1,4,16",
                        help="corpus sizes, in copies of lesswrong-2020 (default 1,4,16; quick: 1)")
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md",
                        help="Markdown file to rewrite (default: BENCHMARKS.md)")
    parser.add_argument("--out", type=Path, default=OUT, help="cache folder (default: benchmarks/out)")
    args = parser.parse_args(argv)

    sizes = args.sizes or ((1,) if args.quick else (1, 4, 16))
    ctx = Context(quick=args.quick, sizes=sizes, out=args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / "results.json"
    state: dict[str, Any] = {"benchmarks": {}}
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except ValueError:
            pass
    mode = "quick" if args.quick else "full"
    chosen = args.only or list(registry)
    t_all = time.perf_counter()
    run_info: dict[str, Any] = {"date": datetime.now().strftime("%Y-%m-%d %H:%M"), "mode": mode,
                                "sizes": list(sizes), "ran": chosen, "machine": machine(),
                                "versions": versions()}
    failed = 0
    ctx.results = {}  # type: ignore[attr-defined]  # this run's entries, for benchmarks that read others'
    for name in chosen:
        bench = registry[name]
        ctx.log(f"[{name}] {bench.title}")
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"date": datetime.now().strftime("%Y-%m-%d %H:%M"), "mode": mode}
        try:
            entry["result"] = bench.fn(ctx)
        except BenchError as e:
            entry["error"] = str(e)
        except Exception as e:  # one broken benchmark must not lose the others' figures
            entry["error"] = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        entry["seconds"] = time.perf_counter() - t0
        if entry.get("error"):
            failed += 1
            ctx.log(f"  failed: {entry['error']}")
        ctx.log(f"  done in {entry['seconds']:.0f}s")
        earlier = state["benchmarks"].get(name) or {}
        if entry.get("error") and earlier.get("result"):
            # a failed attempt does not erase the figures an earlier run measured
            entry = {**earlier, "failed_attempt": {"date": entry["date"], "error": entry["error"]}}
        state["benchmarks"][name] = entry
        ctx.results[name] = entry  # type: ignore[attr-defined]
    run_info["seconds"] = time.perf_counter() - t_all
    run_info["load at end"] = load()
    state["last_run"] = run_info
    state_path.write_text(json.dumps(state, indent=1, default=str))
    titles = {n: b.title for n, b in registry.items()}
    args.report.write_text(render(state, titles, intro(args.report)), encoding="utf-8")
    ctx.log(f"wrote {args.report} in {run_info['seconds']:.0f}s total"
            + (f"; {failed} benchmark(s) failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
