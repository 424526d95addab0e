"""NLP stages: segmentation, claims, forecasts, embeddings, debate links."""

from __future__ import annotations

__all__: list[str] = []
