"""The evaluation of crux's extraction stages: ``python -m eval`` (``make eval``).

Labelled data lives beside this file (``claims.jsonl``, ``forecasts.jsonl``; see README.md for
how they were drawn and labelled). The runner scores the shipped models on each held-back
test split and rewrites its own ``## `` sections of EVALUATION.md at the repository root.
"""
