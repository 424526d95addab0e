"""NLP stages: segmentation, claims, forecasts, embeddings, debate links.

``STAGE_ORDER`` names each stage's module and class; :func:`run` (what ``crux process`` calls)
runs them in this order.
"""

from __future__ import annotations

from .runner import STAGE_ORDER, available_stages, run
from .stage import PendingDoc, Stage, StageResult

__all__ = ["STAGE_ORDER", "PendingDoc", "Stage", "StageResult", "available_stages", "run"]
