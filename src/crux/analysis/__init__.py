"""Analyses run from the CLI: topics, claims, forecasts."""

from __future__ import annotations

__all__: list[str] = []
