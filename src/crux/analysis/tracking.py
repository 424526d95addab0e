"""Forecast tracking: stable forecast keys, resolutions (user data), due forecasts and scores.

A forecast's key is ``<document_id>:<first 12 hex of md5(normalised sentence text)>``; the
normalised text is lower-cased, trimmed, with runs of whitespace made one space. The key does
not depend on sentence ids or positions (which re-segmentation changes) nor on the detector
(which a model change changes), so a resolution keyed by it survives ``crux process --force``,
a stage version bump and a refresh: when an edited document keeps the sentence, the key still
matches; when it drops it, the resolution is kept and reported ``orphaned``.

Scores use the forecasts resolved ``yes`` or ``no`` that carry an implied probability p (the
number, or the verbal phrase's value for hedged ones): Brier = mean (p - o)^2, log score = mean
ln(p if o else 1 - p) with p clipped to [0.01, 0.99] (higher is better, 0 is perfect).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db.tx import scalar
from ..errors import InputError, UsageError

if TYPE_CHECKING:
    import duckdb

Table = tuple[list[str], list[tuple[Any, ...]]]

KEY_HEX = 12
LOG_CLIP = 0.01
CSV_COLUMNS = ["forecast_key", "outcome", "resolved_at", "source", "note", "who"]
# --by: the group expression over KEYED (aliased k); a forecast's holder is its author unless
# it reports someone else's
BY = {
    "author": "k.author",
    "source": "k.source_name",
    "form": "k.form",
    "holder": "coalesce(k.holder, k.author)",
}


class UnknownKey(UsageError):
    """A forecast key that matches no forecast (exit 2, like a wrong option)."""


def key_sql(doc: str, text: str) -> str:
    """The DuckDB expression of the forecast key over columns ``doc`` and ``text``."""
    norm = f"lower(trim(regexp_replace({text}, '\\s+', ' ', 'g')))"
    return f"({doc} || ':' || substr(md5({norm}), 1, {KEY_HEX}))"


def forecast_key(document_id: str, text: str) -> str:
    """The forecast key in Python (the same value as :func:`key_sql`)."""
    import hashlib

    norm = re.sub(r"\s+", " ", text.strip()).lower()
    return f"{document_id}:{hashlib.md5(norm.encode()).hexdigest()[:KEY_HEX]}"


# Every current forecast with its key, author, source and resolution.
KEYED = f"""
    SELECT f.*, {key_sql("f.document_id", "s.text")} AS forecast_key, s.text AS sentence,
           d.author, d.published_at, src.name AS source_name
    FROM forecasts f JOIN documents d ON d.id = f.document_id
    JOIN sentences s ON s.id = f.sentence_id
    LEFT JOIN sources src ON src.id = d.source_id"""


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = 'main'",
            [name],
        )
    )


# ---- outcomes -------------------------------------------------------------------------------------


def parse_outcome(text: str) -> tuple[str, float | None]:
    """``yes`` / ``no`` / ``ambiguous`` / a number -> (outcome, value); anything else is an error."""
    t = str(text).strip().lower()
    if t in ("yes", "no"):
        return t, 1.0 if t == "yes" else 0.0
    if t == "ambiguous":
        return t, None
    try:
        v = float(t)
    except ValueError:
        raise InputError(f"outcome {text!r} is not yes, no, ambiguous or a number") from None
    if not math.isfinite(v):
        raise InputError(f"outcome {text!r} is not a finite number")
    return repr(v) if not v.is_integer() else str(int(v)), v


def _parse_time(text: str | None) -> datetime:
    if not text or not str(text).strip():
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    t = str(text).strip()
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"resolved_at {text!r} is not a date like 2026-01-31 or 2026-01-31T12:00"
        ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _check_source(source: str | None) -> str:
    s = (source or "").strip() or "manual"
    if s != "manual" and not re.match(r"https?://\S+$", s):
        raise InputError(f"source {source!r} is not a http(s) URL or 'manual'")
    return s


# ---- resolutions ----------------------------------------------------------------------------------


@dataclass
class Resolution:
    key: str
    outcome: str
    value: float | None
    resolved_at: datetime
    source: str = "manual"
    note: str | None = None
    who: str | None = None


def _current(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, tuple[str, str]]:
    """key -> (document_id, sentence) for the keys that match a current forecast."""
    if not keys:
        return {}
    rows = con.execute(
        f"SELECT forecast_key, document_id, sentence FROM ({KEYED}) "
        "WHERE forecast_key IN (SELECT unnest(?))",
        [keys],
    ).fetchall()
    return {k: (d, s) for k, d, s in rows}


def _known(con: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    rows = con.execute(
        "SELECT forecast_key FROM resolutions WHERE forecast_key IN (SELECT unnest(?))", [keys]
    ).fetchall()
    return {r[0] for r in rows}


def write_resolutions(con: duckdb.DuckDBPyConnection, items: list[Resolution]) -> int:
    """Store (or replace) these resolutions in one transaction."""
    current = _current(con, [r.key for r in items])
    con.execute("BEGIN")
    try:
        for r in items:
            doc, sent = current.get(r.key, (r.key.rsplit(":", 1)[0], None))
            con.execute(
                "INSERT INTO resolutions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (forecast_key) "
                "DO UPDATE SET outcome = excluded.outcome, value = excluded.value, "
                "resolved_at = excluded.resolved_at, source = excluded.source, note = excluded.note, "
                "who = excluded.who, sentence = coalesce(excluded.sentence, resolutions.sentence)",
                [r.key, doc, sent, r.outcome, r.value, r.resolved_at, r.source, r.note, r.who],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(items)


def resolve(
    con: duckdb.DuckDBPyConnection,
    key: str,
    outcome: str,
    *,
    source: str | None = None,
    note: str | None = None,
    who: str | None = None,
    resolved_at: str | None = None,
) -> Resolution:
    """Store (or replace) the resolution of the forecast ``key``. Unknown keys raise UnknownKey."""
    key = key.strip()
    if key not in _current(con, [key]) and key not in _known(con, [key]):
        raise UnknownKey(
            f"no forecast has the key {key!r}; `crux forecasts --json` shows each "
            "forecast's forecast_key"
        )
    r = make_resolution(key, outcome, source=source, note=note, who=who, resolved_at=resolved_at)
    write_resolutions(con, [r])
    return r


def make_resolution(
    key: str,
    outcome: str,
    *,
    source: str | None = None,
    note: str | None = None,
    who: str | None = None,
    resolved_at: str | None = None,
) -> Resolution:
    """A checked resolution (bad outcome, date or source: InputError), not yet stored."""
    out, value = parse_outcome(outcome)
    return Resolution(
        key, out, value, _parse_time(resolved_at), _check_source(source), note or None, who or None
    )


def unresolve(con: duckdb.DuckDBPyConnection, key: str) -> bool:
    """Delete the resolution of ``key``; False when there was none."""
    n = scalar(con, "SELECT count(*) FROM resolutions WHERE forecast_key = ?", [key])
    con.execute("DELETE FROM resolutions WHERE forecast_key = ?", [key])
    return bool(n)


def resolutions(con: duckdb.DuckDBPyConnection) -> Table:
    """Every resolution, with ``orphaned`` true when its key matches no current forecast."""
    rows = con.execute(
        f"SELECT r.forecast_key, r.outcome, r.resolved_at, r.source, r.note, r.who, "
        f"k.forecast_key IS NULL AS orphaned, coalesce(k.sentence, r.sentence) AS sentence "
        f"FROM resolutions r LEFT JOIN ({KEYED}) k ON k.forecast_key = r.forecast_key "
        f"ORDER BY r.resolved_at, r.forecast_key"
    ).fetchall()
    return [*CSV_COLUMNS, "orphaned", "sentence"], rows


def export_csv(con: duckdb.DuckDBPyConnection) -> str:
    """The resolutions as CSV (:data:`CSV_COLUMNS`, then orphaned and sentence, ignored on import)."""
    cols, rows = resolutions(con)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(
            [
                ""
                if v is None
                else v.isoformat()
                if isinstance(v, datetime)
                else str(v).lower()
                if isinstance(v, bool)
                else v
                for v in r
            ]
        )
    return buf.getvalue()


def import_csv(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Store the resolutions of a CSV file (header with at least forecast_key and outcome).

    All rows are checked first; any bad row raises InputError listing each bad row on one line
    (file, line, what is wrong) and nothing is stored.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in ("forecast_key", "outcome") if c not in header]
    if missing:
        raise InputError(
            f"{path}:1: the header lacks {', '.join(missing)} (expected {','.join(CSV_COLUMNS)})"
        )
    rows = [(reader.line_num, row) for row in reader]
    keys = [(row.get("forecast_key") or "").strip() for _, row in rows]
    known = set(_current(con, keys)) | _known(con, keys)
    items, errors = [], []
    for (line, row), key in zip(rows, keys, strict=True):
        try:
            if not key:
                raise InputError("forecast_key is empty")
            if key not in known:
                raise InputError(f"no forecast has the key {key!r}")
            out, value = parse_outcome(row.get("outcome") or "")
            items.append(
                Resolution(
                    key,
                    out,
                    value,
                    _parse_time(row.get("resolved_at")),
                    _check_source(row.get("source")),
                    (row.get("note") or None),
                    (row.get("who") or None),
                )
            )
        except InputError as e:
            errors.append(f"{path}:{line}: {e}")
    if errors:
        raise InputError("\n".join([*errors, f"{len(errors)} bad row(s); nothing was imported"]))
    return write_resolutions(con, items)


def apply_by_text(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Resolve the forecasts whose sentence contains each row's ``sentence_contains`` (the demo's
    resolutions, written before its forecast keys are known); rows that match nothing are skipped."""
    n = 0
    with Path(path).open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            keys = [
                r[0]
                for r in con.execute(
                    f"SELECT forecast_key FROM ({KEYED}) WHERE contains(sentence, ?)",
                    [row["sentence_contains"]],
                ).fetchall()
            ]
            for key in keys:
                resolve(
                    con,
                    key,
                    row["outcome"],
                    source=row.get("source"),
                    note=row.get("note"),
                    resolved_at=row.get("resolved_at"),
                )
                n += 1
    return n


# ---- due forecasts --------------------------------------------------------------------------------


def due(con: duckdb.DuckDBPyConnection, today: date | None = None) -> Table:
    """Forecasts whose horizon has passed and that have no resolution, oldest horizon first."""
    today = today or datetime.now(UTC).date()
    rows = con.execute(
        f"SELECT k.forecast_key, k.horizon, k.implied_probability, k.form, k.event, "
        f"coalesce(k.holder, k.author) AS holder, k.author, k.published_at, k.sentence "
        f"FROM ({KEYED}) k LEFT JOIN resolutions r ON r.forecast_key = k.forecast_key "
        f"WHERE k.horizon IS NOT NULL AND k.horizon < ? AND r.forecast_key IS NULL "
        f"ORDER BY k.horizon, k.forecast_key",
        [today],
    ).fetchall()
    return [
        "forecast_key",
        "horizon",
        "implied_probability",
        "form",
        "event",
        "holder",
        "author",
        "published_at",
        "sentence",
    ], rows


# ---- scores ---------------------------------------------------------------------------------------


def scored(con: duckdb.DuckDBPyConnection, by: str | None = None) -> list[tuple[Any, float, float]]:
    """(group, p, outcome) for every forecast resolved yes/no with an implied probability."""
    group = BY[by] if by else "NULL"
    return con.execute(
        f"SELECT {group}, k.implied_probability, r.value FROM ({KEYED}) k "
        f"JOIN resolutions r ON r.forecast_key = k.forecast_key "
        f"WHERE r.outcome IN ('yes', 'no') AND k.implied_probability IS NOT NULL "
        f"ORDER BY k.forecast_key"
    ).fetchall()


def brier(ps: list[float], os_: list[float]) -> float:
    return sum((p - o) ** 2 for p, o in zip(ps, os_, strict=True)) / len(ps)


def log_score(ps: list[float], os_: list[float]) -> float:
    clip = [min(max(p, LOG_CLIP), 1 - LOG_CLIP) for p in ps]
    return sum(math.log(p if o else 1 - p) for p, o in zip(clip, os_, strict=True)) / len(ps)


def bootstrap(
    ps: list[float], os_: list[float], fn: Any, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``fn(ps, os)`` (resampling forecasts, fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    p, o = np.asarray(ps), np.asarray(os_)
    idx = rng.integers(0, len(p), size=(n, len(p)))
    stats = sorted(fn(list(p[i]), list(o[i])) for i in idx)
    lo = stats[int((1 - level) / 2 * n)]
    hi = stats[min(n - 1, int((1 + level) / 2 * n))]
    return float(lo), float(hi)


def scores(con: duckdb.DuckDBPyConnection, by: str = "author", n_boot: int = 1000) -> Table:
    """Brier and log score per group, with counts and 95% bootstrap intervals of the Brier score."""
    groups: dict[Any, tuple[list[float], list[float]]] = {}
    for g, p, o in scored(con, by):
        ps, os_ = groups.setdefault(g, ([], []))
        ps.append(p)
        os_.append(o)
    rows = []
    for g, (ps, os_) in groups.items():
        lo, hi = bootstrap(ps, os_, brier, n_boot)
        rows.append((g, len(ps), sum(os_) / len(os_), brier(ps, os_), lo, hi, log_score(ps, os_)))
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    return [by, "n", "base_rate", "brier", "brier_low", "brier_high", "log_score"], rows


def calibration(
    con: duckdb.DuckDBPyConnection, bins: int = 10, by: str | None = None, group: Any = None
) -> Table:
    """Calibration bins: equal-width bins of p; mean predicted and observed frequency in each.

    A p of exactly 1 falls in the last bin. ``by``/``group``: only one author's (etc.) forecasts.
    """
    counts = [[0, 0.0, 0.0] for _ in range(bins)]
    for g, p, o in scored(con, by):
        if by and g != group:
            continue
        b = min(int(p * bins), bins - 1)
        counts[b][0] += 1
        counts[b][1] += p
        counts[b][2] += o
    rows = [
        (i / bins, (i + 1) / bins, n, sp / n, so / n) for i, (n, sp, so) in enumerate(counts) if n
    ]
    return ["bin_low", "bin_high", "n", "mean_predicted", "observed"], rows


__all__ = [
    "BY",
    "CSV_COLUMNS",
    "KEYED",
    "UnknownKey",
    "bootstrap",
    "brier",
    "calibration",
    "due",
    "export_csv",
    "forecast_key",
    "import_csv",
    "key_sql",
    "log_score",
    "make_resolution",
    "parse_outcome",
    "resolutions",
    "resolve",
    "scores",
    "unresolve",
    "write_resolutions",
]
