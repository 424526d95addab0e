"""Issue 18, item 7: ``running`` rows left by a killed process, local paths in the snapshot's
``_runs.config``, and a full disk during publish said in one line."""

from __future__ import annotations

import errno
import json
import sqlite3

from crux.db import connect, record_run
from crux.site.export import _disk_full, publish


def test_a_dead_process_running_row_is_abandoned_by_the_next_run(tmp_path):
    con = connect(tmp_path / "r.duckdb")
    con.execute("INSERT INTO _runs (command, started_at, status) VALUES ('ingest', now(), 'running')")
    with record_run(con, "outer"):
        with record_run(con, "inner"):  # the same process's open runs stay running
            statuses = dict(con.execute("SELECT command, status FROM _runs").fetchall())
            assert statuses == {"ingest": "abandoned", "outer": "running", "inner": "running"}
    statuses = dict(con.execute("SELECT command, status FROM _runs").fetchall())
    assert statuses == {"ingest": "abandoned", "outer": "ok", "inner": "ok"}
    con.close()


def test_the_snapshot_names_files_not_local_paths(tmp_path):
    db = tmp_path / "r.duckdb"
    con = connect(db)
    with record_run(con, "ingest", config={"paths": [str(tmp_path / "feeds" / "a.xml")],
                                           "db": str(db), "limit": 5}):
        pass
    snap = publish(con, db).path
    con.close()
    with sqlite3.connect(snap) as sq:
        (config,) = sq.execute("SELECT config FROM _runs WHERE command = 'ingest'").fetchone()
    assert json.loads(config) == {"paths": ["a.xml"], "db": "r.duckdb", "limit": 5}
    assert str(tmp_path) not in config


def test_a_full_disk_is_recognised():
    assert _disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert _disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not _disk_full(OSError(errno.EACCES, "Permission denied"))
