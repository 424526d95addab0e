from __future__ import annotations

import duckdb
import pytest

from crux.db import MIGRATIONS, connect, ensure_schema
from crux.errors import BusyError, SchemaError


def test_migrations_are_recorded_once(db_path):
    con = connect(db_path)
    names = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]
    assert names == [n for n, _ in MIGRATIONS]
    assert ensure_schema(con) == []  # idempotent
    con.close()
    con = connect(db_path)  # reopening migrates nothing
    assert con.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    con.close()


def test_public_tables_and_columns(con):
    cols = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns").fetchall():
        cols.setdefault(table, set()).add(column)
    assert {"id", "kind", "name", "url"} <= cols["sources"]
    assert {"id", "source_id", "kind", "parent_id", "url", "title", "author", "published_at",
            "updated_at", "html", "text", "content_hash", "fetched_at", "deleted"} <= cols["documents"]
    assert {"document_id", "content_hash", "title", "html", "seen_at"} <= cols["document_revisions"]
    assert {"source_id", "target_url", "target_id", "anchor_text"} <= cols["links"]
    assert {"id", "command", "stage", "started_at", "finished_at", "status", "rows_in",
            "rows_out", "error"} <= cols["_runs"]


def test_unknown_migration_refused(db_path):
    con = connect(db_path)
    con.execute("INSERT INTO _migrations VALUES ('9999_future', now())")
    con.close()
    with pytest.raises(SchemaError, match="upgrade crux"):
        connect(db_path)


def test_foreign_duckdb_file_refused(db_path):
    raw = duckdb.connect(str(db_path))
    raw.execute("CREATE TABLE something_else (x INT)")
    raw.close()
    with pytest.raises(SchemaError, match="not a crux database"):
        connect(db_path)


def test_second_writer_gets_busy_error(db_path, tmp_path):
    import subprocess
    import sys
    import time
    con = connect(db_path)
    con.close()
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb,time; c=duckdb.connect({str(db_path)!r}); print('held', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(0.2)
        with pytest.raises(BusyError, match="in use by another crux process"):
            connect(db_path)
    finally:
        holder.kill()
        holder.wait()
