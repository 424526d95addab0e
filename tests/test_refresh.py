"""crux refresh: the lock, exit codes, readers during a refresh, schedules."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from crux.cli import cli
from crux.errors import BusyError
from crux.refresh import readonly_copy_path, refresh_lock


def test_second_lock_fails_at_once_with_holder(tmp_path):
    db = tmp_path / "c.duckdb"
    with refresh_lock(db):
        t = time.perf_counter()
        code = ("import sys; from crux.refresh import refresh_lock; from crux.errors import BusyError\n"
                f"try:\n  refresh_lock({str(db)!r}).__enter__()\nexcept BusyError as e:\n  print(e); sys.exit(75)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 75
        assert f"another refresh is running (pid {os.getpid()} since " in out.stdout
        assert time.perf_counter() - t < 10


def test_stale_lock_is_taken_over(tmp_path):
    db = tmp_path / "c.duckdb"
    # a process that takes the lock and dies without cleaning up
    code = f"import os; from crux.refresh import refresh_lock; refresh_lock({str(db)!r}).__enter__(); os._exit(9)"
    subprocess.run([sys.executable, "-c", code])
    assert (tmp_path / "c.duckdb.lock").exists()
    with refresh_lock(db):
        pass


def test_two_refreshes_started_together(tmp_path, demo_dir):
    db = tmp_path / "c.duckdb"
    subprocess.run([sys.executable, "-m", "crux", "ingest", "--db", str(db), str(demo_dir)], check=True,
                   capture_output=True)
    hold = ("import time; from crux.refresh import refresh_lock\n"
            f"with refresh_lock({str(db)!r}):\n  print('held', flush=True); time.sleep(20)")
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = subprocess.run([sys.executable, "-m", "crux", "refresh", "--db", str(db)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 75, out.stderr
        assert "another refresh is running" in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        holder.kill()
        holder.wait()


def test_refresh_quiet_without_terminal_and_reader_copy(tmp_path, demo_dir, runner):
    db = tmp_path / "c.duckdb"
    assert runner.invoke(cli, ["ingest", "--db", str(db), str(demo_dir)]).exit_code == 0
    out = subprocess.run([sys.executable, "-m", "crux", "refresh", "--db", str(db),
                          "--log-file", str(tmp_path / "r.log")], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("\n") == 1 and out.stdout.startswith("refresh done")
    assert out.stderr == ""
    assert "refresh done" in (tmp_path / "r.log").read_text()
    assert readonly_copy_path(db).exists()
    assert (tmp_path / "c.sqlite").exists()
    # while another process writes the database, read commands use the copy and say so
    hold = f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(20)"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        st = subprocess.run([sys.executable, "-m", "crux", "status", "--db", str(db)],
                            capture_output=True, text=True)
        assert st.returncode == 0, st.stderr
        assert "is being refreshed; reading the copy" in st.stderr
        assert "documents" in st.stdout
    finally:
        holder.kill()
        holder.wait()


def test_busy_without_copy_is_one_line(tmp_path):
    db = tmp_path / "c.duckdb"
    hold = f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(20)"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        st = subprocess.run([sys.executable, "-m", "crux", "status", "--db", str(db)],
                            capture_output=True, text=True)
        assert st.returncode == 75
        assert st.stderr.count("\n") == 1 and "in use by another crux process" in st.stderr
    finally:
        holder.kill()
        holder.wait()


def test_schedule_outputs(runner, tmp_path):
    r = runner.invoke(cli, ["schedule", "--cron", "0 * * * *", "--db", str(tmp_path / "c.duckdb")])
    assert r.exit_code == 0
    line = r.output.strip()
    assert line.startswith("0 * * * * cd /") and " refresh --db /" in line and "--log-file /" in line
    assert "HF_HUB_OFFLINE=1" in line
    r = runner.invoke(cli, ["schedule", "--systemd"])
    assert r.exit_code == 0
    assert "Persistent=true" in r.output and "OnCalendar=hourly" in r.output and "[Timer]" in r.output
    assert runner.invoke(cli, ["schedule"]).exit_code == 2
    assert runner.invoke(cli, ["schedule", "--cron", "bad"]).exit_code == 2


def test_busy_error_exit_code():
    assert BusyError("x").exit_code == 75
