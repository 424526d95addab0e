"""``crux publish``: the public tables of the DuckDB store as one SQLite file for Datasette.

The snapshot is written to a temporary file beside the target, checked, then renamed into
place (``os.replace``), so a reader never sees a half-written file; a running ``crux serve``
notices the new file and switches to it (see :mod:`crux.site.swap`). Beside the snapshot go
``<name>.metadata.yml`` (Datasette's metadata, canned queries included) and
``<name>.inspect.json`` (table counts, as ``datasette inspect`` writes them).

What goes in: every public table (documents with their text and their HTML *sanitized* by
nh3 as ``html_safe`` -- the raw HTML stays out), the NLP and debate tables, topics and the
``_runs`` log; ``debate_groups`` and ``debate_members``, the debates of :mod:`crux.analysis.debates`
computed once here (the site's pages read them, ``crux debates`` computes the same); the
claim and document vectors of the ``embed_model`` setting's model as float32 blobs in
``vectors`` (for the site's semantic search, :mod:`crux.site.semantic`; the model and size in
``_meta``); not the other vectors (quotes, sentences, other models), revisions or bookkeeping. ``claims`` and
``forecasts`` get their sentence's text as a ``text`` column so they can be searched.
Full-text search is FTS5 with the porter stemmer. Times become ISO-8601 text, booleans 0/1.
``_meta`` holds one row per fact (``last_refreshed_at``, ``published_at``...).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analysis.tracking import key_sql
from ..errors import StageError, StorageError, UsageError, first_line
from .sanitize import clean_html

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class _Table:
    name: str
    pk: tuple[str, ...]
    skip: tuple[str, ...] = ()
    # extra output columns: name -> DuckDB SQL expression over the table aliased ``t``
    extra: tuple[tuple[str, str], ...] = ()
    # (column read from DuckDB, new column, python function): computed columns
    computed: tuple[tuple[str, str, Callable[[Any], Any]], ...] = ()


# Tables missing from the store are skipped. Order matters only for readability.
PUBLIC_TABLES: list[_Table] = [
    _Table("sources", ("id",), ("etag", "last_modified", "config")),
    _Table(
        "documents", ("id",), ("url_key", "html"), computed=(("html", "html_safe", clean_html),)
    ),
    _Table("links", ("source_id", "position"), ("target_key", "alt_key")),
    _Table("blocks", ("id",)),
    _Table("sentences", ("id",)),
    _Table(
        "claims",
        ("sentence_id",),
        extra=(("text", "(SELECT s.text FROM sentences s WHERE s.id = t.sentence_id)"),),
    ),
    _Table(
        "forecasts",
        ("sentence_id",),
        extra=(
            ("text", "(SELECT s.text FROM sentences s WHERE s.id = t.sentence_id)"),
            (
                "forecast_key",
                key_sql(
                    "t.document_id", "(SELECT s.text FROM sentences s WHERE s.id = t.sentence_id)"
                ),
            ),
        ),
    ),
    _Table("resolutions", ("forecast_key",)),
    _Table("responses", ("source_id", "target_key")),
    _Table("claim_links", ("id",)),
    _Table("topic_runs", ("run_id",)),
    _Table("topics", ("run_id", "topic_id")),
    _Table("topic_assignments", ("run_id", "item_kind", "item_id")),
    _Table("_runs", ("id",)),
]
# Never published as such: the embeddings table (its claim and document vectors of one model go
# into ``vectors``, see _write_vectors), raw revisions (unsanitized HTML), bookkeeping.
PRIVATE_TABLES = (
    "embeddings",
    "document_revisions",
    "_stage_state",
    "_rejects",
    "_migrations",
    "_store_state",
)

# table: columns indexed for facets, sorting and joins
INDEXES: dict[str, tuple[str, ...]] = {
    "documents": ("source_id", "kind", "author", "published_at", "parent_id", "post_id"),
    "links": ("target_id",),
    "blocks": ("document_id",),
    "sentences": ("document_id", "block_id"),
    "claims": ("document_id", "score", "kind"),
    "forecasts": ("document_id", "horizon", "probability", "forecast_key"),
    "forecast_groups": ("group_id",),
    "responses": ("target_id", "relation"),
    "claim_links": (
        "source_sentence_id",
        "target_sentence_id",
        "source_document_id",
        "target_document_id",
        "relation",
    ),
    "topic_assignments": ("item_id", "topic_id"),
    "debate_members": ("node_id",),
    "_runs": ("finished_at",),
}
FTS: dict[str, tuple[str, ...]] = {
    "documents": ("title", "text"),
    "claims": ("text",),
    "forecasts": ("text", "event", "horizon_text"),
    "sentences": ("text",),
}

# The newest topic run for each unit, and each document's / claim's topic in it.
_LATEST_RUN = (
    "(SELECT run_id FROM topic_runs WHERE unit = '{unit}' ORDER BY created_at DESC LIMIT 1)"
)
_DOC_TOPIC = f"""
    (SELECT tp.label FROM topic_assignments ta JOIN topics tp
        ON tp.run_id = ta.run_id AND tp.topic_id = ta.topic_id
     WHERE ta.item_kind = 'document' AND ta.item_id = {{doc}} AND ta.topic_id >= 0
       AND ta.run_id = {_LATEST_RUN.format(unit="documents")})"""
_CLAIM_TOPIC = f"""
    (SELECT tp.label FROM topic_assignments ta JOIN topics tp
        ON tp.run_id = ta.run_id AND tp.topic_id = ta.topic_id
     WHERE ta.item_kind = 'claim' AND ta.item_id = {{claim}} AND ta.topic_id >= 0
       AND ta.run_id = {_LATEST_RUN.format(unit="claims")})"""

# name: (tables it needs, SQL). A view whose tables are missing is left out.
VIEWS: dict[str, tuple[tuple[str, ...], str]] = {
    "posts": (
        ("documents", "sources"),
        f"""
        SELECT d.id, d.title, d.author, s.name AS source, d.published_at,
               substr(d.published_at, 1, 4) AS year, {_DOC_TOPIC.format(doc="d.id")} AS topic,
               d.url, d.score, d.comment_count
        FROM documents d LEFT JOIN sources s ON s.id = d.source_id
        WHERE d.kind = 'post' AND NOT d.deleted""",
    ),
    "claim_details": (
        ("claims", "documents", "sources", "topics"),
        f"""
        SELECT c.sentence_id, c.text, round(c.score, 3) AS score, c.kind,
               c.document_id, d.title, d.author, s.name AS source, d.published_at,
               substr(d.published_at, 1, 4) AS year,
               coalesce({_CLAIM_TOPIC.format(claim="c.sentence_id")},
                        {_DOC_TOPIC.format(doc="c.document_id")}) AS topic,
               (SELECT count(*) FROM claim_links l WHERE l.target_sentence_id = c.sentence_id
                  AND l.relation = 'attacks') AS attacked_by,
               d.url
        FROM claims c JOIN documents d ON d.id = c.document_id
        LEFT JOIN sources s ON s.id = d.source_id""",
    ),
    "debate_links": (
        ("responses", "documents"),
        """
        SELECT r.source_id, src.title AS source_title, src.author AS source_author,
               src.published_at AS source_published_at, r.relation, round(r.score, 3) AS score,
               r.target_id, coalesce(tgt.title, r.target_url) AS target_title,
               tgt.author AS target_author, tgt.published_at AS target_published_at,
               substr(src.published_at, 1, 4) AS year
        FROM responses r JOIN documents src ON src.id = r.source_id
        LEFT JOIN documents tgt ON tgt.id = r.target_id""",
    ),
    "claim_link_details": (
        ("claim_links", "sentences", "documents"),
        """
        SELECT l.id, l.relation, round(l.score, 3) AS score, l.method,
               l.source_document_id, sd.title AS source_title, sd.author AS source_author,
               ss.text AS source_text,
               l.target_document_id, td.title AS target_title, td.author AS target_author,
               coalesce(ts.text, l.target_text) AS target_text
        FROM claim_links l
        LEFT JOIN sentences ss ON ss.id = l.source_sentence_id
        LEFT JOIN sentences ts ON ts.id = l.target_sentence_id
        LEFT JOIN documents sd ON sd.id = l.source_document_id
        LEFT JOIN documents td ON td.id = l.target_document_id""",
    ),
    "forecast_details": (
        ("forecasts", "documents", "sources", "resolutions", "forecast_groups"),
        """
        SELECT f.sentence_id, f.text, f.form, f.probability, f.low, f.high, f.verbal,
               f.implied_probability, f.condition, f.score, f.horizon,
               substr(f.horizon, 1, 4) AS horizon_year, f.horizon_text, f.event, f.holder,
               f.document_id, d.title, d.author, s.name AS source, d.published_at,
               substr(d.published_at, 1, 4) AS year, d.url, f.forecast_key,
               r.outcome, r.resolved_at, r.source AS resolution_source,
               g.group_id, g.size AS group_size
        FROM forecasts f JOIN documents d ON d.id = f.document_id
        LEFT JOIN sources s ON s.id = d.source_id
        LEFT JOIN resolutions r ON r.forecast_key = f.forecast_key
        LEFT JOIN forecast_groups g ON g.forecast_key = f.forecast_key""",
    ),
}


@dataclass
class PublishResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: int = 0

    def summary(self) -> str:
        rows = ", ".join(
            f"{n:,} {t}"
            for t, n in self.counts.items()
            if not t.startswith("_") and (n or t in ("sources", "documents"))
        )
        return f"{rows}; {self.bytes / 1e6:.1f} MB in {self.seconds:.1f}s"


def snapshot_path(db_path: str | os.PathLike[str]) -> Path:
    """Where ``crux publish`` writes the snapshot of ``db_path``: ``<name>.sqlite`` beside it."""
    p = Path(db_path)
    return (
        p.with_suffix(".sqlite") if p.suffix != ".sqlite" else p.with_name(p.stem + "-site.sqlite")
    )


def metadata_path(snapshot: Path) -> Path:
    return snapshot.with_suffix(".metadata.yml")


def inspect_path(snapshot: Path) -> Path:
    """The ``datasette inspect`` counts for ``snapshot``, passed to Datasette's ``--inspect-file``."""
    return snapshot.with_suffix(".inspect.json")


_AFFINITY = {
    "BOOLEAN": "INTEGER",
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "INTEGER",
    "HUGEINT": "INTEGER",
    "UBIGINT": "INTEGER",
    "DOUBLE": "REAL",
    "FLOAT": "REAL",
    "REAL": "REAL",
    "DECIMAL": "REAL",
}


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
        return json.dumps(value, default=str)
    return value


def _copy_table(con: duckdb.DuckDBPyConnection, out: sqlite3.Connection, spec: _Table) -> int:
    all_cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = 'main' ORDER BY ordinal_position",
        [spec.name],
    ).fetchall()
    cols = [(name, typ) for name, typ in all_cols if name not in spec.skip]
    have = {name for name, _ in all_cols}
    computed = [(src, dst, fn) for src, dst, fn in spec.computed if src in have]
    out_defs = [f'"{c}" {_sqlite_type(t)}' for c, t in cols]
    out_defs += [f'"{name}" TEXT' for name, _ in spec.extra]
    out_defs += [f'"{dst}" TEXT' for _, dst, _ in computed]
    pk_sql = f", PRIMARY KEY ({', '.join(spec.pk)})" if spec.pk else ""
    out.execute(f'CREATE TABLE "{spec.name}" ({", ".join(out_defs)}{pk_sql})')
    select = [f't."{c}"' for c, _ in cols] + [f'{expr} AS "{name}"' for name, expr in spec.extra]
    select += [f't."{src}"' for src, _, _ in computed]
    order = f" ORDER BY {', '.join('t.' + k for k in spec.pk)}" if spec.pk else ""
    try:
        cur = con.execute(f'SELECT {", ".join(select)} FROM "{spec.name}" t{order}')
    except Exception as e:  # an extra column needs a table this store lacks
        raise StageError(f"cannot export {spec.name}: {str(e).splitlines()[0]}") from None
    n_plain = len(cols) + len(spec.extra)
    width = n_plain + len(computed)
    insert = f'INSERT INTO "{spec.name}" VALUES ({", ".join("?" for _ in range(width))})'
    n = 0
    while True:
        rows = cur.fetchmany(2000)
        if not rows:
            break
        batch = []
        for r in rows:
            plain = [_convert(v) for v in r[:n_plain]]
            plain += [fn(v) for (_, _, fn), v in zip(computed, r[n_plain:], strict=True)]
            batch.append(plain)
        out.executemany(insert, batch)
        n += len(rows)
    return n


def _write_debates(con: duckdb.DuckDBPyConnection, out: sqlite3.Connection) -> dict[str, int]:
    """The debates of :mod:`crux.analysis.debates`, computed once here for every page."""
    from ..analysis.debates import DEBATE_COLUMNS, MEMBER_COLUMNS, debate_rows

    heads, members = debate_rows(con)
    ints = {
        "rank",
        "nodes",
        "documents",
        "posts",
        "comments",
        "outside",
        "responses",
        "claim_links",
        "rebuttals",
    }
    out.execute(
        "CREATE TABLE debate_groups ("
        + ", ".join(f'"{c}" {"INTEGER" if c in ints else "TEXT"}' for c in DEBATE_COLUMNS)
        + ", PRIMARY KEY (id))"
    )
    out.execute(
        "CREATE TABLE debate_members ("
        + ", ".join(f'"{c}" TEXT' for c in MEMBER_COLUMNS)
        + ", PRIMARY KEY (debate_id, node_id))"
    )
    out.executemany(
        f"INSERT INTO debate_groups VALUES ({', '.join('?' for _ in DEBATE_COLUMNS)})", heads
    )
    out.executemany(
        f"INSERT INTO debate_members VALUES ({', '.join('?' for _ in MEMBER_COLUMNS)})", members
    )
    return {"debate_groups": len(heads), "debate_members": len(members)}


def _write_groups(con: duckdb.DuckDBPyConnection, out: sqlite3.Connection) -> dict[str, int]:
    """Same-event forecast groups (:mod:`crux.analysis.event_groups`), one row per member."""
    from ..analysis.event_groups import group_rows

    rows = group_rows(con)
    out.execute(
        "CREATE TABLE forecast_groups (group_id TEXT NOT NULL, forecast_key TEXT NOT NULL, "
        "sentence_id TEXT NOT NULL, document_id TEXT NOT NULL, size INTEGER NOT NULL, "
        "PRIMARY KEY (forecast_key))"
    )
    out.executemany("INSERT INTO forecast_groups VALUES (?, ?, ?, ?, ?)", rows)
    return {"forecast_groups": len(rows)}


VECTOR_KINDS = ("claim", "document")  # the embeddings.item_kind values the site searches


def _write_vectors(
    con: duckdb.DuckDBPyConnection, out: sqlite3.Connection, existing: set[str]
) -> tuple[int, list[tuple[str, str | None]]]:
    """The claims' and documents' vectors of the ``embed_model`` setting's model as
    ``vectors(item_kind, item_id, vector)``, one little-endian float32 blob per row, in rowid
    order (the site reads the table once into one matrix); and the ``_meta`` rows naming the
    model and the size. Only vectors of claims and documents that are published go in."""
    import numpy as np

    from .. import config

    out.execute(
        "CREATE TABLE vectors (item_kind TEXT NOT NULL, item_id TEXT NOT NULL, "
        "vector BLOB NOT NULL)"
    )
    if not {"embeddings", "claims", "documents"} <= existing:
        return 0, []
    model = str(config.get("embed_model"))
    cur = con.execute(
        "SELECT e.item_kind, e.item_id, e.vector FROM embeddings e WHERE e.model = ? AND ("
        "(e.item_kind = 'claim' AND e.item_id IN (SELECT sentence_id FROM claims)) OR "
        "(e.item_kind = 'document' AND e.item_id IN (SELECT id FROM documents WHERE NOT deleted))) "
        "ORDER BY e.item_kind, e.item_id",
        [model],
    )
    dim, n = 0, 0
    while rows := cur.fetchmany(2000):
        mat = np.asarray([r[2] for r in rows], dtype="<f4")
        if mat.ndim != 2 or (dim and mat.shape[1] != dim):  # mixed sizes under one model name
            raise StageError(
                f"the stored {model} vectors have different sizes; "
                "run crux process --stage embed --force"
            )
        dim = dim or mat.shape[1]
        out.executemany(
            "INSERT INTO vectors VALUES (?, ?, ?)",
            [(r[0], r[1], v.tobytes()) for r, v in zip(rows, mat, strict=True)],
        )
        n += len(rows)
    if not n:
        return 0, []
    return n, [("vectors_model", model), ("vectors_dim", str(dim)), ("vectors_dtype", "float32")]


# The commands that bring content in: the corpus was "last refreshed" when one of them last
# finished, not when `crux process` or `crux topics` last ran over the same posts.
CONTENT_COMMANDS = ("ingest", "crawl", "refresh", "demo")


def _meta_rows(con: duckdb.DuckDBPyConnection, existing: set[str]) -> list[tuple[str, str | None]]:
    refreshed = None
    if "_runs" in existing:
        row = con.execute(
            "SELECT max(finished_at) FROM _runs WHERE status IN ('ok', 'partial') "
            "AND command IN (SELECT unnest(?))",
            [list(CONTENT_COMMANDS)],
        ).fetchone()
        refreshed = row[0] if row else None
    from ..db.schema import SCHEMA_VERSION

    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        ("last_refreshed_at", _convert(refreshed) if refreshed else None),
        ("published_at", _convert(now)),
        ("schema_version", SCHEMA_VERSION),
    ]


def _write_inspect(sq: sqlite3.Connection, tmp: Path, target: Path, counts: dict[str, int]) -> Path:
    """``datasette inspect``'s JSON for the finished ``tmp`` file, named for ``target``."""
    tables = {}
    for (name,) in sq.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if name in counts:
            tables[name] = {"count": counts[name]}
        else:
            tables[name] = {"count": sq.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]}
    h = hashlib.sha256()
    with tmp.open("rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            h.update(chunk)
    data = {
        target.stem: {
            "hash": h.hexdigest(),
            "size": tmp.stat().st_size,
            "file": target.name,
            "tables": tables,
        }
    }
    path = inspect_path(target)
    itmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    itmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(itmp, path)
    return path


def publish(
    con: duckdb.DuckDBPyConnection,
    db_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
) -> PublishResult:
    """Write the snapshot of the store behind ``con`` and swap it into place."""
    import importlib.util

    import sqlite_utils

    from ..errors import MissingExtra

    if importlib.util.find_spec("nh3") is None:
        raise MissingExtra("Publishing the site", "site", "nh3")
    t0 = time.perf_counter()
    target = Path(out) if out else snapshot_path(db_path)
    if not target.parent.exists():
        raise UsageError(
            f"{target.parent}: folder does not exist; create it or choose another --out"
        )
    if target.exists() and target.is_dir():
        raise UsageError(f"{target}: is a folder; choose a file name with --out")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    existing = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    result = PublishResult(path=target)
    sq = sqlite3.connect(tmp)
    try:
        sq.execute("PRAGMA journal_mode = OFF")
        sq.execute("PRAGMA synchronous = OFF")
        for spec in PUBLIC_TABLES:
            if spec.name in existing:
                result.counts[spec.name] = _copy_table(con, sq, spec)
        if "responses" in existing or "claim_links" in existing:
            result.counts.update(_write_debates(con, sq))
        if "forecasts" in result.counts and "embeddings" in existing:
            result.counts.update(_write_groups(con, sq))
        result.counts["vectors"], vector_meta = _write_vectors(con, sq, existing)
        for table, cols in INDEXES.items():
            if table in result.counts:
                for c in cols:
                    sq.execute(f'CREATE INDEX "idx_{table}_{c}" ON "{table}" ("{c}")')
        if "_runs" in result.counts:
            _scrub_run_paths(sq)
        sq.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)")
        sq.executemany("INSERT INTO _meta VALUES (?, ?)", _meta_rows(con, existing) + vector_meta)
        sq.commit()
        db = sqlite_utils.Database(sq)
        for table, cols in FTS.items():
            if table in result.counts:
                db.table(table).enable_fts(
                    list(cols), tokenize="porter", create_triggers=False, replace=True
                )
        for name, (needs, sql) in VIEWS.items():
            if all(t in result.counts for t in needs):
                db.create_view(name, sql, replace=True)
        sq.execute("ANALYZE")
        check = sq.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise StorageError(
                f"the new snapshot failed its integrity check ({check}); the old one is kept"
            )
        sq.commit()
        sq.close()
        # metadata and counts first: a server that sees the new file finds them ready
        write_metadata(target)
        sq = sqlite3.connect(f"file:{tmp}?mode=ro", uri=True)
        _write_inspect(sq, tmp, target, result.counts)
        sq.close()
        os.replace(tmp, target)
    except BaseException as e:
        sq.close()
        tmp.unlink(missing_ok=True)
        if _disk_full(e):
            raise StorageError(
                f"{target.parent}: no space left on the device while writing the "
                "snapshot; free some space and run crux publish again (the old "
                "snapshot is kept)"
            ) from None
        if _write_failed(e):
            raise StorageError(
                f"{target.parent}: cannot write the snapshot ({first_line(e)}): the disk is "
                "full or the file is past a size limit; free some space and run crux publish "
                "again (the old snapshot is kept)"
            ) from None
        raise
    result.seconds = time.perf_counter() - t0
    result.bytes = target.stat().st_size
    return result


def _disk_full(e: BaseException) -> bool:
    import errno

    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(e, sqlite3.Error) and "disk is full" in str(e).lower()


def _write_failed(e: BaseException) -> bool:
    """A write refused by the file system (past ``ulimit -f`` or the file system's largest
    file: EFBIG; SQLite says only "disk I/O error"), not a fault of crux."""
    import errno

    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        return True
    return isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorname", "") in (
        "SQLITE_IOERR_WRITE",
        "SQLITE_FULL",
    )


def _scrub_run_paths(sq: sqlite3.Connection) -> None:
    """``_runs.config`` in the snapshot names files by their name, never their local path."""

    def short(v: Any) -> Any:
        if isinstance(v, str) and os.path.isabs(v):
            return Path(v).name
        if isinstance(v, list):
            return [short(x) for x in v]
        if isinstance(v, dict):
            return {k: short(x) for k, x in v.items()}
        return v

    rows = sq.execute("SELECT id, config FROM _runs WHERE config IS NOT NULL").fetchall()
    fixed = []
    for run_id, config in rows:
        try:
            value = json.loads(config)
        except (TypeError, ValueError):
            continue
        new = json.dumps(short(value))
        if new != config:
            fixed.append((new, run_id))
    sq.executemany("UPDATE _runs SET config = ? WHERE id = ?", fixed)


def write_metadata(snapshot: Path) -> Path:
    """Datasette's metadata.yml for this snapshot (the template, keyed by the database name)."""
    template = (Path(__file__).parent / "metadata.yml").read_text(encoding="utf-8")
    path = metadata_path(snapshot)
    text = template.replace("__DATABASE__", snapshot.stem)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
