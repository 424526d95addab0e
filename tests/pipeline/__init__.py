"""Tests of the NLP stages."""

from __future__ import annotations


def run_pipeline(con, names: list[str] | None = None) -> list:
    """Run the named pipeline stages (default: all), in order, quietly; return their results."""
    from crux.pipeline import run as run_stages

    return run_stages(con, names, progress=False, echo=lambda *_a, **_k: None)
