"""Same-event forecast groups: forecasts in different documents about one event.

Two forecasts are about the same event when the cosine of their event texts (the ``event``
field, or the sentence when the parser found none; embedded by the ``embed`` stage as
``item_kind = 'event'``) is at least :data:`GROUP_THRESHOLD` and their horizons are compatible
(either unknown, or at most :data:`HORIZON_SLACK_DAYS` apart). The threshold was chosen by
cross-validation on labelled pairs (``eval/groups_eval.py``, EVALUATION.md "Same-event forecast
groups"); pairs inside one document are never grouped (the labelled pairs never are).

A group is a connected set of such pairs. Its id is ``g-`` and the first 10 hex of the md5 of
its smallest member's forecast key, so it stays the same while that member does. Groups are
computed when asked for (``crux forecasts groups``, ``crux publish``), not stored: resolutions
stay keyed by forecast, and resolving a group (``crux forecasts resolve g-...``) writes one
resolution per member.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import numpy as np

GROUP_THRESHOLD = 0.82
HORIZON_SLACK_DAYS = 365
PREFIX = "g-"
_BLOCK = 1024  # rows of the similarity matrix computed at once (1024 x n floats)


@dataclass(frozen=True)
class Member:
    forecast_key: str
    sentence_id: str
    document_id: str
    horizon: date | None


def event_and_horizon(text: str, published: date | None) -> tuple[str, date | None]:
    """The event text (the sentence when the parser finds none) and the resolved horizon, as
    the forecasts stage stores them."""
    from ..pipeline.embed import event_text
    from ..pipeline.forecasts import forecast_fields

    f = forecast_fields(text, published)
    return event_text(f.event, text), f.horizon


def horizons_compatible(a: date | None, b: date | None) -> bool:
    """Unknown horizons are compatible with any; known ones within HORIZON_SLACK_DAYS."""
    return a is None or b is None or abs((a - b).days) <= HORIZON_SLACK_DAYS


def group_id(keys: list[str]) -> str:
    return PREFIX + hashlib.md5(min(keys).encode()).hexdigest()[:10]


def load(
    con: duckdb.DuckDBPyConnection, model: str | None = None
) -> tuple[list[Member], np.ndarray]:
    """Every current forecast that has an event vector, and those vectors (one row each)."""
    import numpy as np

    from ..pipeline.embed import model_name
    from .tracking import key_sql

    got = con.execute(
        f"SELECT {key_sql('f.document_id', 's.text')} AS k, f.sentence_id, f.document_id, "
        "f.horizon, e.vector FROM forecasts f JOIN sentences s ON s.id = f.sentence_id "
        "JOIN embeddings e ON e.item_kind = 'event' AND e.item_id = f.sentence_id "
        "AND e.model = ? ORDER BY k, f.sentence_id",
        [model_name(model)],
    ).fetchall()
    members = [Member(k, sid, doc, h) for k, sid, doc, h, _ in got]
    if not got:
        return members, np.zeros((0, 0), dtype=np.float32)
    return members, np.asarray([v for *_, v in got], dtype=np.float32)


def same_event_pairs(
    members: list[Member], vecs: np.ndarray, threshold: float = GROUP_THRESHOLD
) -> list[tuple[int, int, float]]:
    """``(i, j, cosine)`` with i < j for every same-event pair (vectors are unit length)."""
    import numpy as np

    out: list[tuple[int, int, float]] = []
    n = len(members)
    docs = np.asarray([m.document_id for m in members], dtype=object)
    for start in range(0, n, _BLOCK):
        sims = vecs[start : start + _BLOCK] @ vecs.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c <= i or docs[i] == docs[c]:
                continue
            if horizons_compatible(members[i].horizon, members[c].horizon):
                out.append((i, c, float(sims[r, c])))
    return out


def groups(
    con: duckdb.DuckDBPyConnection,
    threshold: float = GROUP_THRESHOLD,
    model: str | None = None,
) -> dict[str, list[Member]]:
    """group id -> its members (two or more, in forecast-key order), groups in id order."""
    members, vecs = load(con, model)
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in same_event_pairs(members, vecs, threshold):
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    by_root: dict[int, list[Member]] = {}
    for i, m in enumerate(members):
        by_root.setdefault(find(i), []).append(m)
    out = {group_id([m.forecast_key for m in ms]): ms for ms in by_root.values() if len(ms) > 1}
    return dict(sorted(out.items()))


def group_rows(con: duckdb.DuckDBPyConnection, **kw: Any) -> list[tuple[str, str, str, str, int]]:
    """``(group_id, forecast_key, sentence_id, document_id, size)`` per grouped forecast."""
    return [
        (gid, m.forecast_key, m.sentence_id, m.document_id, len(ms))
        for gid, ms in groups(con, **kw).items()
        for m in ms
    ]


GROUP_COLUMNS = [
    "group_id",
    "size",
    "forecast_key",
    "holder",
    "published_at",
    "implied_probability",
    "horizon",
    "outcome",
    "sentence",
]


def group_table(
    con: duckdb.DuckDBPyConnection, **kw: Any
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One row per grouped forecast (``crux forecasts groups``), each group's members by date."""
    from .tracking import KEYED

    found = groups(con, **kw)
    if not found:
        return GROUP_COLUMNS, []
    of = {m.forecast_key: gid for gid, ms in found.items() for m in ms}
    rows = con.execute(
        f"SELECT k.forecast_key, coalesce(k.holder, k.author), k.published_at, "
        f"k.implied_probability, k.horizon, r.outcome, k.sentence FROM ({KEYED}) k "
        f"LEFT JOIN resolutions r ON r.forecast_key = k.forecast_key "
        f"WHERE k.forecast_key IN (SELECT unnest(?))",
        [sorted(of)],
    ).fetchall()
    out = [(of[r[0]], len(found[of[r[0]]]), *r) for r in rows]
    out.sort(key=lambda r: (r[0], str(r[4]), r[2]))
    return GROUP_COLUMNS, out


def resolve_group(
    con: duckdb.DuckDBPyConnection,
    group: str,
    outcome: str,
    *,
    source: str | None = None,
    note: str | None = None,
    who: str | None = None,
    resolved_at: str | None = None,
) -> list[Any]:
    """Resolve every member of the group ``group`` (``g-...``) in one transaction: one
    resolution per member forecast (:func:`crux.analysis.tracking.resolve`'s rules). An
    unknown group raises :class:`~crux.analysis.tracking.UnknownKey`."""
    from . import tracking

    members = groups(con).get(group.strip())
    if not members:
        raise tracking.UnknownKey(
            f"no same-event group has the id {group.strip()!r}; `crux forecasts groups` lists them"
        )
    first = tracking.make_resolution(
        members[0].forecast_key,
        outcome,
        source=source,
        note=note,
        who=who,
        resolved_at=resolved_at,
    )
    items = [replace(first, key=m.forecast_key) for m in members]
    tracking.write_resolutions(con, items)
    return items


def is_group_key(key: str) -> bool:
    return key.strip().startswith(PREFIX)


__all__ = [
    "GROUP_COLUMNS",
    "GROUP_THRESHOLD",
    "HORIZON_SLACK_DAYS",
    "Member",
    "event_and_horizon",
    "group_id",
    "group_rows",
    "group_table",
    "groups",
    "horizons_compatible",
    "is_group_key",
    "load",
    "resolve_group",
    "same_event_pairs",
]
