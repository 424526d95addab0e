"""``crux publish``: the public tables of the DuckDB store as one SQLite file for Datasette.

The snapshot is written to a temporary file beside the target, checked, then renamed into
place (``os.replace``), so a reader never sees a half-written file. Full-text search is
FTS5 with the porter stemmer. Times become ISO-8601 text, booleans 0/1.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CruxError

if TYPE_CHECKING:
    import duckdb

# (table, primary key, columns to leave out). Tables missing from the store are skipped.
PUBLIC_TABLES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("sources", ("id",), ("etag", "last_modified", "config")),
    ("documents", ("id",), ("url_key",)),
    ("links", ("source_id", "position"), ("target_key",)),
    ("_runs", ("id",), ()),
]
# table: (columns indexed for facets and joins)
INDEXES: dict[str, tuple[str, ...]] = {
    "documents": ("source_id", "kind", "author", "published_at", "parent_id", "post_id"),
    "links": ("target_id",),
}
FTS: dict[str, tuple[str, ...]] = {
    "documents": ("title", "text"),
}
VIEWS: dict[str, str] = {
    "posts": """
        SELECT d.id, d.title, d.author, s.name AS source, d.published_at, d.url, d.score,
               d.comment_count, substr(d.published_at, 1, 4) AS year
        FROM documents d LEFT JOIN sources s ON s.id = d.source_id
        WHERE d.kind = 'post' AND NOT d.deleted
    """,
}


@dataclass
class PublishResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: int = 0

    def summary(self) -> str:
        rows = ", ".join(f"{n:,} {t}" for t, n in self.counts.items() if not t.startswith("_"))
        return f"{rows}; {self.bytes / 1e6:.1f} MB in {self.seconds:.1f}s"


def snapshot_path(db_path: str | os.PathLike[str]) -> Path:
    """Where ``crux publish`` writes the snapshot of ``db_path``: ``<name>.sqlite`` beside it."""
    p = Path(db_path)
    return p.with_suffix(".sqlite") if p.suffix != ".sqlite" else p.with_name(p.stem + "-site.sqlite")


def metadata_path(snapshot: Path) -> Path:
    return snapshot.with_suffix(".metadata.yml")


_AFFINITY = {"BOOLEAN": "INTEGER", "TINYINT": "INTEGER", "SMALLINT": "INTEGER", "INTEGER": "INTEGER",
             "BIGINT": "INTEGER", "HUGEINT": "INTEGER", "UBIGINT": "INTEGER", "DOUBLE": "REAL",
             "FLOAT": "REAL", "REAL": "REAL", "DECIMAL": "REAL"}


def _sqlite_type(duck_type: str) -> str:
    base = duck_type.split("(")[0].upper()
    return _AFFINITY.get(base, "TEXT")


def _convert(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | tuple | dict):
        import json
        return json.dumps(value, default=str)
    return value


def _copy_table(con: duckdb.DuckDBPyConnection, out: sqlite3.Connection, table: str,
                pk: tuple[str, ...], skip: tuple[str, ...]) -> int:
    cols = [(name, typ) for name, typ in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall() if name not in skip]
    names = [c for c, _ in cols]
    defs = ", ".join(f'"{c}" {_sqlite_type(t)}' for c, t in cols)
    pk_sql = f", PRIMARY KEY ({', '.join(pk)})" if pk else ""
    out.execute(f'CREATE TABLE "{table}" ({defs}{pk_sql})')
    select = ", ".join(f'"{c}"' for c in names)
    order = f" ORDER BY {', '.join(pk)}" if pk else ""
    cur = con.execute(f'SELECT {select} FROM "{table}"{order}')
    insert = f'INSERT INTO "{table}" VALUES ({", ".join("?" for _ in names)})'
    n = 0
    while True:
        rows = cur.fetchmany(5000)
        if not rows:
            break
        out.executemany(insert, [tuple(_convert(v) for v in r) for r in rows])
        n += len(rows)
    return n


def publish(con: duckdb.DuckDBPyConnection, db_path: str | os.PathLike[str],
            out: str | os.PathLike[str] | None = None) -> PublishResult:
    """Write the snapshot of the store behind ``con`` and swap it into place."""
    import sqlite_utils

    t0 = time.perf_counter()
    target = Path(out) if out else snapshot_path(db_path)
    if not target.parent.exists():
        raise CruxError(f"{target.parent}: folder does not exist; create it or choose another --out")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    result = PublishResult(path=target)
    sq = sqlite3.connect(tmp)
    try:
        sq.execute("PRAGMA journal_mode = OFF")
        sq.execute("PRAGMA synchronous = OFF")
        for table, pk, skip in PUBLIC_TABLES:
            if table in existing:
                result.counts[table] = _copy_table(con, sq, table, pk, skip)
        for table, cols in INDEXES.items():
            if table in result.counts:
                for c in cols:
                    sq.execute(f'CREATE INDEX "idx_{table}_{c}" ON "{table}" ("{c}")')
        sq.commit()
        db = sqlite_utils.Database(sq)
        for table, cols in FTS.items():
            if table in result.counts:
                db[table].enable_fts(list(cols), tokenize="porter", create_triggers=False, replace=True)
        for name, sql in VIEWS.items():
            db.create_view(name, sql, replace=True)
        check = sq.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise CruxError(f"the new snapshot failed its integrity check ({check}); the old one is kept")
        sq.commit()
        sq.close()
        os.replace(tmp, target)
    except BaseException:
        sq.close()
        tmp.unlink(missing_ok=True)
        raise
    write_metadata(target)
    result.seconds = time.perf_counter() - t0
    result.bytes = target.stat().st_size
    return result


def write_metadata(snapshot: Path) -> Path:
    """Datasette's metadata.yml for this snapshot (the template, keyed by the database name)."""
    template = (Path(__file__).parent / "metadata.yml").read_text(encoding="utf-8")
    path = metadata_path(snapshot)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(template.replace("__DATABASE__", snapshot.stem), encoding="utf-8")
    os.replace(tmp, path)
    return path
