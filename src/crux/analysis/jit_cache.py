"""Numba's on-disk cache for UMAP, pynndescent and HDBSCAN, so a new process skips the compile.

UMAP and pynndescent mark only some of their numba functions ``cache=True``; the rest are
compiled again in every process (tens of seconds on two cores, most of a small fit). Before
those libraries are imported, :func:`prepare` points ``NUMBA_CACHE_DIR`` at a folder beside
the database and makes ``cache=True`` the default of ``numba.njit``/``numba.jit``, so every
function they define is cached there. Functions numba cannot cache (dynamic globals) are
compiled as before. Call it before the first import of umap, hdbscan or bertopic.

The folder beside each database starts empty, so every new database would pay the compile
once (about a minute on two cores). A per-user folder (:func:`user_cache`, by default
``~/.cache/crux/numba``) seeds it: on :func:`prepare` the files it has that the database's
folder lacks are copied in, and at exit the files compiled here go back to it. Numba checks
each file against its library's source, so a stale copy is compiled again, never used.
``CRUX_NUMBA_USER_CACHE=0`` turns the sharing off.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .. import config as settings

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
        shared = user_cache()
        if shared is not None and shared.resolve() != path.resolve():
            sync(shared, path)
            atexit.register(sync, path, shared)
    import numba

    if path is not None and "numba" in sys.modules:
        try:  # numba read its config at import; make it see the folder
            from numba.core import config

            config.reload_config()
        except Exception:  # pragma: no cover - old numba
            pass
    if _PATCHED or not settings.get("numba_cache_all"):
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


def user_cache() -> Path | None:
    """The per-user folder that seeds each database's cache; None when turned off."""
    setting, source = settings.lookup("numba_user_cache")
    if source != "default":
        return None if setting in ("", "0") else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crux" / "numba"


def sync(src: Path, dst: Path) -> int:
    """Copy the cache files of ``src`` that ``dst`` lacks or has older; best effort, never raises.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    copied = 0
    try:
        files = [f for f in src.rglob("*") if f.is_file() and f.suffix in (".nbi", ".nbc")]
    except OSError:
        return 0
    for f in files:
        target = dst / f.relative_to(src)
        tmp = None
        try:
            if target.exists() and target.stat().st_mtime >= f.stat().st_mtime:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sync-")
            os.close(fd)
            shutil.copy2(f, tmp)
            os.replace(tmp, target)
            copied += 1
        except OSError:  # a read-only home, a full disk: the cache is only an optimisation
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
    return copied


__all__ = ["prepare", "sync", "user_cache"]
