"""Run the pipeline from Python: what ``crux process``, ``crux demo``, ``crux refresh``,
``make eval`` and ``make bench`` call.

    import crux.db, crux.pipeline
    con = crux.db.connect("crux.duckdb")
    for result in crux.pipeline.run(con, ["segment", "claims"], limit=100):
        print(result.summary())
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import UsageError
from .stage import Stage, StageResult

if TYPE_CHECKING:
    import duckdb


STAGE_ORDER: list[tuple[str, str]] = [
    ("segment", "crux.pipeline.segment:SegmentStage"),
    ("claims", "crux.pipeline.claims:ClaimsStage"),
    ("forecasts", "crux.pipeline.forecasts:ForecastsStage"),
    ("embed", "crux.pipeline.embed:EmbedStage"),
    ("responses", "crux.pipeline.responses:ResponsesStage"),
    ("claim_links", "crux.pipeline.claim_links:ClaimLinksStage"),
]


def available_stages() -> dict[str, type[Stage]]:
    """Every stage class by name, in pipeline order (imported on demand: they load heavy libraries)."""
    out: dict[str, type[Stage]] = {}
    for name, target in STAGE_ORDER:
        module, cls = target.split(":")
        out[name] = getattr(importlib.import_module(module), cls)
    return out


def progress_bars(enabled: bool) -> Callable[[str, int], Callable[[int], Any]] | None:
    """A progress factory for :meth:`Stage.run`: a tqdm bar per stage, or None when off."""
    if not enabled:
        return None
    from tqdm import tqdm

    def factory(name: str, total: int) -> Callable[[int], Any]:
        bar = tqdm(total=total, desc=name, unit="doc", file=sys.stderr, leave=False)
        return bar.update

    return factory


def run(
    con: duckdb.DuckDBPyConnection,
    stages: list[str] | None = None,
    *,
    device: str | None = None,
    threads: int | None = None,
    limit: int | None = None,
    force: bool = False,
    progress: bool | None = None,
    echo: Callable[[str], Any] | None = None,
) -> list[StageResult]:
    """Run the named stages (default: all), in pipeline order; return their results.

    ``device`` and ``threads`` override the settings of those names for this call. ``progress``
    shows a bar per stage (default: when stderr is a terminal); ``echo`` is told each stage's
    summary line. Raises :class:`UsageError` for an unknown stage name.
    """
    known = available_stages()
    unknown = [n for n in stages or [] if n not in known]
    if unknown:
        raise UsageError(f"unknown stage {unknown[0]!r}; choose from: {', '.join(known)}")
    chosen = [n for n in known if not stages or n in stages]
    factory = progress_bars(sys.stderr.isatty() if progress is None else progress)
    results = []
    with config.using(device=device, threads=threads):
        for name in chosen:
            result = known[name]().run(con, limit=limit, force=force, progress=factory)
            results.append(result)
            if echo is not None:
                echo(result.summary())
    return results
