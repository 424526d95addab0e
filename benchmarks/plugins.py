"""Adapters for stage scripts other engineers drop into ``benchmarks/``.

- ``crawl_bench.py``: ``run(corpus_dir, workdir) -> dict``, given the 1× corpus and an empty folder.
- ``nlp_bench.py``: ``run(db_path) -> dict``, given a private copy of the 1× DuckDB store.

In quick mode both get the first :data:`QUICK_POSTS` posts of the corpus instead, so that
``make bench QUICK=1`` stays under 10 minutes with models on two cores.

Each is called in a fresh child process, so the report also gets the wall time, CPU time and
peak RSS of the whole call. The returned dict is the plug-in's own figures: put
``rows`` (a list of dicts, figure beside reference and ratio) in it for a table, and any
other ``key: value`` pairs for a list. A missing module is reported as not measured yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from typing import Any

from . import QUICK_POSTS, register
from .harness import Context, Measurement


def call(module: str, *args: str) -> dict[str, Any]:
    """In the child: import ``benchmarks.<module>`` and return its ``run(*args)``."""
    result = importlib.import_module(f"benchmarks.{module}").run(*args)
    if not isinstance(result, dict):
        raise TypeError(f"benchmarks/{module}.py: run() returned {type(result).__name__}, not a dict")
    return result


def _missing(module: str) -> dict[str, Any] | None:
    if importlib.util.find_spec(f"benchmarks.{module}") is None:
        return {"skipped": f"not measured yet: benchmarks/{module}.py is not there"}
    return None


def _merge(m: Measurement, corpus: str) -> dict[str, Any]:
    result = dict(m.result)
    result.pop("inner_s", None)
    result["input"] = corpus
    result["whole call: wall s"] = m.wall_s
    result["whole call: CPU s"] = m.cpu_s
    result["whole call: peak RSS MB"] = m.peak_rss_mb
    return result


@register("crawl", "Crawl (plug-in `benchmarks/crawl_bench.py`)", order=50)
def bench_crawl(ctx: Context) -> dict[str, Any]:
    if skipped := _missing("crawl_bench"):
        return skipped
    corpus = ctx.sample(QUICK_POSTS) if ctx.quick else ctx.corpus(1)
    work = ctx.scratch("crawl")
    return _merge(ctx.probe("benchmarks.plugins:call", "crawl_bench", str(corpus), str(work)),
                  _what(ctx))


@register("nlp", "NLP stages (plug-in `benchmarks/nlp_bench.py`)", order=60)
def bench_nlp(ctx: Context) -> dict[str, Any]:
    if skipped := _missing("nlp_bench"):
        return skipped
    work = ctx.scratch("nlp")
    db = work / "store.duckdb"
    shutil.copyfile(ctx.ingested_sample(QUICK_POSTS) if ctx.quick else ctx.ingested(1), db)
    return _merge(ctx.probe("benchmarks.plugins:call", "nlp_bench", str(db)), _what(ctx))


def _what(ctx: Context) -> str:
    return (f"the first {QUICK_POSTS} posts of lesswrong-2020 (quick mode)" if ctx.quick
            else "lesswrong-2020 1× (1,083 posts)")


def _processed_store(ctx: Context, name: str) -> tuple[Any, dict[str, Any] | None]:
    """The store the ``process`` benchmark left, or why plug-in ``name`` can't run."""
    from .process import processed

    if skipped := _missing(f"{name}_bench"):
        return None, skipped
    src = processed(ctx)
    if not src.exists():
        return None, {"skipped": f"needs the `process` benchmark's store: run it first "
                                 f"(--only process --only {name})"}
    return src, None


@register("links", "Debate stages (plug-in `benchmarks/links_bench.py`)", order=64)
def bench_links(ctx: Context) -> dict[str, Any]:
    """``responses`` and ``claim_links`` re-run (forced) on the store ``process`` left."""
    src, skipped = _processed_store(ctx, "links")
    if skipped:
        return skipped
    db = ctx.scratch("links") / "store.duckdb"
    shutil.copyfile(src, db)
    return _merge(ctx.probe("benchmarks.plugins:call", "links_bench", str(db)), _what(ctx))


@register("topics", "Topics and claim search (plug-in `benchmarks/topics_bench.py`)", order=66)
def bench_topics(ctx: Context) -> dict[str, Any]:
    """``crux topics fit`` cold and warm, BERTopic alone, claim search, on the processed store."""
    src, skipped = _processed_store(ctx, "topics")
    if skipped:
        return skipped
    return _merge(ctx.probe("benchmarks.plugins:call", "topics_bench", str(src)), _what(ctx))
