"""``python -m benchmarks._probe module:function '[args...]'``: call it, print its dict as JSON.

The harness measures this process from outside (wall, CPU, peak RSS); the function may
return figures of its own (counts, its inner timing) for the report.
"""

from __future__ import annotations

import importlib
import json
import sys
import time


def main(argv: list[str]) -> None:
    spec, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else []
    module, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(module), name)
    t0 = time.perf_counter()
    result = fn(*args) or {}
    result.setdefault("inner_s", time.perf_counter() - t0)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
