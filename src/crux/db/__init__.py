"""The DuckDB store: schema migrations, connections, run records, document upserts."""

from __future__ import annotations

from .connect import Run, connect, record_run, table_counts
from .relinking import links_version, relink
from .schema import MIGRATIONS, SCHEMA_VERSION, ensure_schema
from .store import (
    Doc,
    SaveResult,
    doc_problem,
    ensure_source,
    mark_deleted,
    reject,
    resolve_links,
    save_documents,
)
from .tx import transaction, utcnow

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Doc",
    "Run",
    "SaveResult",
    "connect",
    "doc_problem",
    "ensure_schema",
    "ensure_source",
    "mark_deleted",
    "links_version",
    "record_run",
    "reject",
    "relink",
    "resolve_links",
    "save_documents",
    "table_counts",
    "transaction",
    "utcnow",
]
