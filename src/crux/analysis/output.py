"""One output helper for the analysis commands: a table on a terminal, JSON or CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, date):
        return v.isoformat()
    return " ".join(str(v).split())


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int | None = None,
          max_col: int = 60) -> str:
    """Rows as an aligned text table; long cells are cut with an ellipsis to fit the terminal."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [len(c) for c in columns]
    for r in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    widths = [min(w, max_col) for w in widths]
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > width and widths:  # shrink the widest column
        i = widths.index(max(widths))
        widths[i] = max(10, widths[i] - (total - width))

    def fmt(r: Sequence[str]) -> str:
        out = []
        for c, w in zip(r, widths, strict=True):
            c = c if len(c) <= w else c[: max(1, w - 1)] + "…"
            out.append(c.ljust(w))
        return "  ".join(out).rstrip()

    lines = [fmt(list(columns)), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    """``fmt``: table | json (a list of objects) | csv (with a header row)."""
    if fmt == "json":
        return json.dumps([{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows],
                          ensure_ascii=False, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else _json_value(v) for v in r])
        return buf.getvalue().rstrip("\n")
    return table(columns, rows)


__all__ = ["render", "table"]
