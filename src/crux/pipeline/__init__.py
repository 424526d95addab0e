"""NLP stages: segmentation, claims, forecasts, embeddings, debate links.

``STAGE_ORDER`` names each stage's module and class; ``crux process`` runs them in this order.
A stage whose module is not there yet is skipped.
"""

from __future__ import annotations

import importlib

from .stage import PendingDoc, Stage, StageResult

STAGE_ORDER: list[tuple[str, str]] = [
    ("segment", "crux.pipeline.segment:SegmentStage"),
    ("claims", "crux.pipeline.claims:ClaimsStage"),
    ("forecasts", "crux.pipeline.forecasts:ForecastsStage"),
    ("embed", "crux.pipeline.embed:EmbedStage"),
    ("responses", "crux.pipeline.responses:ResponsesStage"),
    ("claim_links", "crux.pipeline.claim_links:ClaimLinksStage"),
]


def available_stages() -> dict[str, type[Stage]]:
    """The stages whose modules exist, in order."""
    out: dict[str, type[Stage]] = {}
    for name, target in STAGE_ORDER:
        module, cls = target.split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue
            raise
        out[name] = getattr(mod, cls)
    return out


__all__ = ["STAGE_ORDER", "PendingDoc", "Stage", "StageResult", "available_stages"]
