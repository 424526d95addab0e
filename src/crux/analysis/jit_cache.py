"""Numba's on-disk cache for UMAP, pynndescent and HDBSCAN, so a new process skips the compile.

UMAP and pynndescent mark only some of their numba functions ``cache=True``; the rest are
compiled again in every process (tens of seconds on two cores, most of a small fit). Before
those libraries are imported, :func:`prepare` points ``NUMBA_CACHE_DIR`` at a folder beside
the database and makes ``cache=True`` the default of ``numba.njit``/``numba.jit``, so every
function they define is cached there. Functions numba cannot cache (dynamic globals) are
compiled as before. Call it before the first import of umap, hdbscan or bertopic.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_PATCHED = False


def prepare(cache_dir: str | os.PathLike[str] | None) -> Path | None:
    """Cache numba's compiled code in ``cache_dir`` (unless ``NUMBA_CACHE_DIR`` is set); idempotent."""
    global _PATCHED
    path: Path | None = None
    if os.environ.get("NUMBA_CACHE_DIR"):
        path = Path(os.environ["NUMBA_CACHE_DIR"])
    elif cache_dir is not None:
        path = Path(cache_dir)
        path.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(path)
    import numba

    if path is not None and "numba" in sys.modules:
        try:  # numba read its config at import; make it see the folder
            from numba.core import config
            config.reload_config()
        except Exception:  # pragma: no cover - old numba
            pass
    if _PATCHED or os.environ.get("CRUX_NUMBA_CACHE_ALL", "1") == "0":
        return path
    if any(m in sys.modules for m in ("umap", "pynndescent", "hdbscan")):
        return path  # too late to patch their decorators: they keep numba's default
    for name in ("njit", "jit"):
        orig = getattr(numba, name)

        def cached(*args: Any, _orig: Any = orig, **kwargs: Any) -> Any:
            kwargs.setdefault("cache", True)
            return _orig(*args, **kwargs)

        cached.__doc__ = orig.__doc__
        setattr(numba, name, cached)
    _PATCHED = True
    return path


__all__ = ["prepare"]
