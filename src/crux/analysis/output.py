"""One output helper for the analysis commands: a table on a terminal, JSON or CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
import shutil
import textwrap
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


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 post``, ``2 posts``; ``many`` for irregular plurals (``plural(2, "reply", "replies")``)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def _fit_widths(natural: list[int], floors: list[int], width: int) -> list[int]:
    """Shrink the widest columns one character at a time until the row fits ``width``
    (or every column is at its floor): long columns share the room instead of one being cut."""
    widths = list(natural)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        i = max(range(len(widths)), key=lambda k: (widths[k] - floors[k] > 0, widths[k]))
        if widths[i] <= floors[i]:
            break
        widths[i] -= 1
    return widths


def _wrap(cell: str, w: int) -> list[str]:
    return textwrap.wrap(cell, w, break_long_words=True, break_on_hyphens=False) or [""]


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
    max_col: int = 60,
) -> str:
    """Rows as an aligned text table fitted to the terminal: long cells wrap onto more lines
    (nothing is cut) and columns empty in every row are left out."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    cells = [[_cell(v) for v in r] for r in rows]
    keep = [k for k in range(len(columns)) if not cells or any(r[k] for r in cells)]
    columns = [columns[k] for k in keep]
    cells = [[r[k] for k in keep] for r in cells]
    natural = [len(c) for c in columns]
    for r in cells:
        natural = [max(w, len(c)) for w, c in zip(natural, r, strict=True)]
    natural = [min(w, max(max_col, len(h))) for w, h in zip(natural, columns, strict=True)]
    # prose (cells with spaces) keeps at least 28 characters and short ids and dates stay
    # whole while long ones (URLs) give way; then only the main prose column keeps 28;
    # if that still does not fit, every column goes down to 8
    prose = [any(" " in r[k] for r in cells) for k in range(len(columns))]
    floors = [
        min(w, 28) if p else (w if w <= 20 else max(8, len(h)))
        for w, h, p in zip(natural, columns, prose, strict=True)
    ]
    widths = _fit_widths(natural, floors, width)
    if prose:  # then all but the main prose column (the longest on average) go down to 8
        avg = [
            sum(len(r[k]) for r in cells) / max(1, len(cells)) if p else -1
            for k, p in enumerate(prose)
        ]
        main = avg.index(max(avg))
        widths = _fit_widths(
            widths,
            [w if k == main and prose[k] else min(w, 8) for k, w in enumerate(widths)],
            width,
        )
    widths = _fit_widths(widths, [min(w, 8) for w in widths], width)

    def fmt(r: Sequence[str]) -> list[str]:
        parts = [_wrap(c, w) for c, w in zip(r, widths, strict=True)]
        height = max(len(p) for p in parts) if parts else 1
        return [
            "  ".join(
                (p[i] if i < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)
            ).rstrip()
            for i in range(height)
        ]

    lines = fmt(list(columns)) + ["  ".join("-" * w for w in widths)]
    for r in cells:
        lines += fmt(r)
    return "\n".join(lines)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    """``fmt``: table | json (a list of objects) | csv (with a header row)."""
    if fmt == "json":
        return json.dumps(
            [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows],
            ensure_ascii=False,
            indent=1,
        )
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else _json_value(v) for v in r])
        return buf.getvalue().rstrip("\n")
    return table(columns, rows)


__all__ = ["plural", "render", "table"]
