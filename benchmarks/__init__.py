"""crux's benchmarks: ``python -m benchmarks [--quick] [--only NAME] [--sizes 1,4,16]``.

A benchmark is a function ``fn(ctx: Context) -> dict`` registered with :func:`register`. The
dict holds its figures: ``rows`` (a list of dicts, one table row each, every measured figure
beside its reference and their ratio), optional ``tables`` (``{title: [rows]}``), ``notes``
(lines under the table) and any other flat ``key: value`` figures. Modules in this package
are imported by :func:`load_all` (all but ``_*``, ``*_bench`` and the harness's own), so a new
module only needs an ``@register(...)`` function.

Stage scripts other engineers own (``crawl_bench.py``: ``run(corpus_dir, workdir) -> dict``,
``nlp_bench.py``: ``run(db_path) -> dict``) are called by the adapters in :mod:`.plugins`,
which report "not measured yet" while the module is missing.

Keep this module light: every measured child process imports it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Quick mode (``--quick``): the NLP benchmarks take the first QUICK_POSTS posts of the corpus.
QUICK_POSTS = 60  # 150 took ~10 of the 17 quick-mode minutes on a loaded 2-core machine


class BenchError(Exception):
    """A benchmark could not run (a missing corpus, a failed command); the message says why."""


BenchFn = Callable[[Any], dict[str, Any]]  # fn(ctx: harness.Context) -> figures


@dataclass(frozen=True)
class Benchmark:
    name: str
    fn: BenchFn
    title: str
    order: int = 100


REGISTRY: dict[str, Benchmark] = {}
_NOT_BENCHMARKS = {"harness", "corpus", "report", "plugins"}


def register(name: str, title: str, *, order: int = 100) -> Callable[[BenchFn], BenchFn]:
    """Register ``fn(ctx) -> dict`` as benchmark ``name`` (its table is headed ``title``)."""

    def deco(fn: BenchFn) -> BenchFn:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = Benchmark(name, fn, title, order)
        return fn

    return deco


def load_all() -> dict[str, Benchmark]:
    """Import every benchmark module of the package; the registry, in report order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name.endswith("_bench") or info.name in _NOT_BENCHMARKS:
            continue
        importlib.import_module(f"{__name__}.{info.name}")
    importlib.import_module(f"{__name__}.plugins")
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


__all__ = ["QUICK_POSTS", "REGISTRY", "ROOT", "BenchError", "Benchmark", "load_all", "register"]
