"""Measuring: one fresh child process per measurement, and the figures built from them.

Each measurement is a subprocess started by the small launcher :mod:`._launch`, which reaps it
with ``os.wait4``, so the ``rusage`` belongs to that child alone: wall time (``perf_counter``
around it), CPU time (user + sys, the child and the processes it waited for) and peak RSS
(``ru_maxrss``). Python functions are measured the
same way through :mod:`benchmarks._probe`, so a figure and its reference pay the same start-up.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ROOT, BenchError  # noqa: F401 (re-exported for the benchmark modules)

OUT = ROOT / "benchmarks" / "out"
_LAUNCH = Path(__file__).resolve().parent / "_launch.py"


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str = ""
    stderr: str = ""
    result: dict[str, Any] = field(default_factory=dict)  # what a probe printed

    def check(self, what: str) -> Measurement:
        if self.returncode != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise BenchError(f"{what} exited with status {self.returncode}: " + " | ".join(tail))
        return self


def run_measured(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 1800) -> Measurement:
    """Run ``cmd`` once in a fresh process (through :mod:`._launch`); its wall, CPU and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="crux-bench-") as tmp:
        figures = Path(tmp) / "figures.json"
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out.open("wb") as fo, err.open("wb") as fe:
            launcher = [sys.executable, "-S", str(_LAUNCH), str(figures), str(timeout), *cmd]
            proc = subprocess.run(launcher, cwd=cwd, env=env, stdout=fo, stderr=fe,
                                  stdin=subprocess.DEVNULL, timeout=timeout + 60)
        stdout = out.read_text("utf-8", "replace")
        stderr = err.read_text("utf-8", "replace")
        if proc.returncode != 0 or not figures.exists():
            raise BenchError(f"the launcher failed for {' '.join(cmd[:3])}: {stderr.strip()[-500:]}")
        f = json.loads(figures.read_text())
    return Measurement(wall_s=f["wall_s"], cpu_s=f["cpu_s"], peak_rss_mb=f["peak_rss_kb"] / 1024,
                       returncode=f["returncode"], stdout=stdout, stderr=stderr)


@dataclass
class Context:
    """What a benchmark gets: mode, sizes, repeats, folders, and how to run crux."""

    quick: bool = False
    sizes: tuple[int, ...] = (1, 4, 16)
    out: Path = OUT
    shared: Path | None = None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))

    def repeats(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full

    @property
    def python(self) -> str:
        return sys.executable

    @property
    def crux(self) -> list[str]:
        """The installed ``crux`` script beside this interpreter (else ``python -m crux``)."""
        script = Path(sys.executable).parent / "crux"
        return [str(script)] if script.exists() else [sys.executable, "-m", "crux"]

    @property
    def work(self) -> Path:
        path = self.out / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self) -> dict[str, str]:
        """The children's environment: offline, no user config, this checkout importable."""
        env = dict(os.environ)
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1",
                   CRUX_CONFIG=str(self.work / "no-crux.toml"), TQDM_DISABLE="1",
                   # a new store starts with a cold numba cache, not one seeded from ~/.cache
                   CRUX_NUMBA_USER_CACHE="0")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        for key in ("CRUX_DB", "CRUX_MAX_RESPONSE_BYTES"):
            env.pop(key, None)
        return env

    def run(self, cmd: Sequence[str], what: str | None = None, **kw: Any) -> Measurement:
        m = run_measured(cmd, cwd=self.work, env=self.env(), **kw)
        return m.check(what or " ".join(cmd[:3]))

    def probe(self, func: str, *args: Any) -> Measurement:
        """Run ``module:function(*args)`` in a fresh interpreter; its printed dict is ``result``."""
        m = self.run([self.python, "-m", "benchmarks._probe", func, json.dumps(args)], what=func)
        lines = m.stdout.strip().splitlines()
        m.result = json.loads(lines[-1]) if lines else {}
        return m

    def corpus(self, size: int) -> Path:
        from .corpus import replicate, source_corpus
        return replicate(source_corpus(self.shared), self.out / "corpus", size, log=self.log)

    def sample(self, n_posts: int) -> Path:
        """A corpus folder with the first ``n_posts`` posts of lesswrong-2020 (quick-mode plug-ins)."""
        from .corpus import sample, source_corpus
        return sample(source_corpus(self.shared), self.out / "corpus", n_posts)

    def ingested(self, size: int) -> Path:
        """A DuckDB file holding the ``size``× corpus (built once, reused; don't write to it)."""
        return self._ingest(self.corpus(size), f"lesswrong-x{size}")

    def ingested_sample(self, n_posts: int) -> Path:
        """A DuckDB file holding :meth:`sample` (built once, reused; don't write to it)."""
        return self._ingest(self.sample(n_posts), f"lesswrong-first{n_posts}")

    def _ingest(self, corpus: Path, name: str) -> Path:
        db = self.out / "db" / f"{name}.duckdb"
        stamp = db.with_suffix(".ok")
        key = (corpus / ".complete").read_text() if (corpus / ".complete").exists() else corpus.name
        if not (stamp.exists() and stamp.read_text() == key):
            db.parent.mkdir(parents=True, exist_ok=True)
            db.unlink(missing_ok=True)
            db.with_name(db.name + ".wal").unlink(missing_ok=True)
            self.log(f"  building {db.relative_to(self.out)}")
            self.run([*self.crux, "--db", str(db), "ingest", str(corpus)], what="crux ingest")
            stamp.write_text(key)
        return db

    def scratch(self, name: str) -> Path:
        """An empty folder under ``out/work`` for one benchmark's files."""
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path


# ---- statistics --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) on log(x): 1.0 is linear growth, 2.0 quadratic."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return math.nan
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else math.nan


def growth_rows(key: str, sizes: Sequence[int], series: dict[str, Sequence[float]],
                unit: str = "wall s") -> list[dict[str, Any]]:
    """One row per series: its value at each size and the log-log slope over the sizes."""
    rows = []
    for name, values in series.items():
        row: dict[str, Any] = {key: name}
        for size, value in zip(sizes, values, strict=True):
            row[f"{size}× {unit}"] = value
        row["growth exponent"] = loglog_slope(sizes, values)
        rows.append(row)
    return rows


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def interleaved(repeats: int, *fns: Callable[[], Measurement]) -> list[list[Measurement]]:
    """Run ``fns`` in turn, ``repeats`` rounds (A B A B ...), so drift on a shared machine hits both."""
    runs: list[list[Measurement]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            runs[i].append(fn())
    return runs


def pair_row(name: str, runs: list[Measurement], ref_name: str, refs: list[Measurement],
             items: int | None = None, unit: str = "docs") -> dict[str, Any]:
    """One table row: the medians of a measurement and of its reference, and their ratios."""
    w, rw = median([m.wall_s for m in runs]), median([m.wall_s for m in refs])
    c, rc = median([m.cpu_s for m in runs]), median([m.cpu_s for m in refs])
    r, rr = median([m.peak_rss_mb for m in runs]), median([m.peak_rss_mb for m in refs])
    row: dict[str, Any] = {
        "measurement": name, "reference": ref_name, "repeats": len(runs),
        "wall s": w, "ref wall s": rw, "× wall": ratio(w, rw),
        "CPU s": c, "ref CPU s": rc, "× CPU": ratio(c, rc),
        "peak RSS MB": r, "ref RSS MB": rr, "× RSS": ratio(r, rr),
    }
    if items is not None:
        row[f"{unit}/s"] = ratio(items, w)
        row[f"ref {unit}/s"] = ratio(items, rw)
    row["wall s (all)"] = [round(m.wall_s, 4) for m in runs]
    row["ref wall s (all)"] = [round(m.wall_s, 4) for m in refs]
    return row
