"""CLI command modules: every module here registers its commands on ``crux.cli.cli``.

Add a module per area (``crawl.py``, ``process.py``, ...). Module level imports stay light
(click and crux's own light modules only) so ``crux --help`` answers at once.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
