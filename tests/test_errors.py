"""Each error class, raised by a real case through the CLI: one line on stderr, its exit code."""

from __future__ import annotations

import subprocess
import sys

from crux import errors


def crux(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "crux", *args], capture_output=True, text=True, cwd=cwd)


def _one_line(out, code: int, text: str) -> None:
    """One error line (after click's usage lines, for a wrong option), no traceback."""
    assert out.returncode == code, (out.returncode, out.stderr)
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    errors_ = [line for line in lines if line.startswith("Error: ")]
    assert len(errors_) == 1 and errors_[0] == lines[-1] and text in errors_[0], out.stderr
    assert "Traceback" not in out.stderr


def test_exit_codes():
    assert {c.__name__: c.exit_code for c in (errors.CruxError, errors.UsageError, errors.SchemaError,
                                              errors.StageError, errors.InputError, errors.StorageError,
                                              errors.TemporaryError, errors.BusyError, errors.MissingExtra)} == {
        "CruxError": 1, "UsageError": 2, "SchemaError": 1, "StageError": 1, "InputError": 1,
        "StorageError": 1, "TemporaryError": 75, "BusyError": 75, "MissingExtra": 1}


def test_usage_error_unknown_stage(tmp_path):
    _one_line(crux("--db", str(tmp_path / "x.duckdb"), "process", "--stage", "nosuch"), 2,
              "unknown stage 'nosuch'; choose from: segment, claims")


def test_input_error_no_database(tmp_path):
    _one_line(crux("--db", str(tmp_path / "none.duckdb"), "status"), 1, "no such database; create it with")


def test_schema_error_not_a_database(tmp_path):
    bad = tmp_path / "text.duckdb"
    bad.write_text("this is not a database\n" * 100)
    _one_line(crux("--db", str(bad), "status"), 1, "not a usable DuckDB database")


def test_stage_error_search_before_processing(tmp_path):
    db = tmp_path / "x.duckdb"
    assert crux("--db", str(db), "init").returncode == 0
    _one_line(crux("--db", str(db), "claims", "search", "anything"), 1, "no claim embeddings yet: run crux process")


# StorageError (a full disk, a read-only file): tests/db/test_storage_failures.py.


def test_busy_error_is_temporary(tmp_path):
    db = tmp_path / "x.duckdb"
    assert crux("--db", str(db), "init").returncode == 0
    hold = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                             "print('held', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        _one_line(crux("--db", str(db), "process"), 75, "is in use by another crux process")
    finally:
        hold.kill()
        hold.wait()


def test_missing_extra_names_the_pip_command():
    err = errors.MissingExtra("Claim and forecast extraction", "nlp", "spacy")
    assert str(err) == "Claim and forecast extraction needs: pip install 'crux[nlp]' (spacy is not installed)"
    from crux.pipeline.features import _needs
    assert "spacy is not installed" in str(_needs("X", "nlp", "spacy"))
