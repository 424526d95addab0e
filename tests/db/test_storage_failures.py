"""A full disk or a read-only database file: one line, and nothing stored is lost."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest

from crux.db import connect


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _crux(*args, **kw):
    return subprocess.run([sys.executable, "-m", "crux", *args], capture_output=True, text=True, **kw)


def _snapshot(db):
    con = connect(db, read_only=True)
    rows = con.execute("SELECT id, content_hash FROM documents ORDER BY id").fetchall()
    con.close()
    return rows


def test_full_disk_is_one_line_and_loses_nothing(tmp_path, demo_dir):
    db = tmp_path / "c.duckdb"
    assert _crux("--db", str(db), "ingest", str(demo_dir / "blog.rss.xml")).returncode == 0
    before = _snapshot(db)
    # the "disk" fills up: no file may grow past 50 kB (the database is already larger)
    out = _crux("--db", str(db), "ingest", str(demo_dir), preexec_fn=_limit_file_size(50_000))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("Error:")]
    assert errors and "cannot write to the database" in errors[-1] and "free disk space" in errors[-1]
    after = _snapshot(db)
    assert set(before) <= set(after)  # nothing stored was lost
    # with space again, the same command completes
    again = _crux("--db", str(db), "ingest", str(demo_dir))
    assert again.returncode == 0, again.stderr
    assert len(_snapshot(db)) == 176


def test_read_only_database_file(tmp_path, demo_dir):
    db = tmp_path / "c.duckdb"
    assert _crux("--db", str(db), "ingest", str(demo_dir / "blog.rss.xml")).returncode == 0
    before = _snapshot(db)
    made_read_only = subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode == 0
    if not made_read_only:
        os.chmod(db, 0o444)
        if os.access(db, os.W_OK):  # root ignores modes; without chattr we cannot make it read-only
            pytest.skip("cannot make a file read-only here (no chattr on this filesystem and running as root)")
    try:
        out = _crux("--db", str(db), "ingest", str(demo_dir))
        assert out.returncode == 1
        assert out.stderr.count("\n") == 1 and "cannot write to this file" in out.stderr
        status = _crux("--db", str(db), "status")  # reading still works
        assert status.returncode == 0 and "documents" in status.stdout
    finally:
        if made_read_only:
            subprocess.run(["chattr", "-i", str(db)])
        os.chmod(db, 0o644)
    assert _snapshot(db) == before
