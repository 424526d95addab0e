"""``crux --help`` against the interpreter starting and doing nothing."""

from __future__ import annotations

from typing import Any

from . import register
from .harness import Context, interleaved, pair_row


@register("startup", "Start-up: `crux --help` vs `python -c pass`", order=10)
def bench_startup(ctx: Context) -> dict[str, Any]:
    repeats = 10  # cheap enough for quick mode too
    runs, refs = interleaved(
        repeats,
        lambda: ctx.run([*ctx.crux, "--help"], what="crux --help"),
        lambda: ctx.run([ctx.python, "-c", "pass"], what="python -c pass"),
    )
    return {"rows": [pair_row("crux --help", runs, "python -c pass", refs)]}
