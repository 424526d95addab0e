from __future__ import annotations

import subprocess
import sys
import time

from crux import __version__
from crux.cli import cli


def test_version_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "crux", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, time; t=time.perf_counter(); from crux.cli import cli; "
            "heavy=[m for m in ('torch','spacy','sentence_transformers','bertopic','datasette','scrapy','twisted') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "crux", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - t < 5  # generous: the benchmark measures it; this catches a heavy import


def test_init_and_status(runner, db_path):
    r = runner.invoke(cli, ["--db", str(db_path), "init"])
    assert r.exit_code == 0 and "applied" in r.output
    r = runner.invoke(cli, ["init", "--db", str(db_path)])
    assert r.exit_code == 0 and "schema is current" in r.output
    r = runner.invoke(cli, ["status", "--db", str(db_path)])
    assert r.exit_code == 0 and "documents" in r.output


def test_db_from_environment(runner, tmp_path, monkeypatch):
    path = tmp_path / "env.duckdb"
    monkeypatch.setenv("CRUX_DB", str(path))
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert path.exists()


def test_bad_db_path_is_one_line(runner, tmp_path):
    r = runner.invoke(cli, ["status", "--db", str(tmp_path / "no" / "such" / "x.duckdb")])
    assert r.exit_code == 1
    assert r.output.count("\n") == 1 and "no such database" in r.output


def test_not_a_database_is_one_line(runner, tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    r = runner.invoke(cli, ["status", "--db", str(junk)])
    assert r.exit_code == 1 and r.output.startswith("Error: ") and "Traceback" not in r.output


def test_missing_file_to_ingest(runner, db_path):
    r = runner.invoke(cli, ["ingest", "--db", str(db_path), "/no/such/file.xml"])
    assert r.exit_code == 1 and "no such file or folder" in r.output


def test_serve_without_snapshot(runner, db_path):
    r = runner.invoke(cli, ["serve", "--db", str(db_path)])
    assert r.exit_code == 1 and "run: crux publish" in r.output


def test_db_given_to_a_subgroup_reaches_its_commands(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRUX_DB", raising=False)
    db = tmp_path / "corpus.duckdb"
    assert runner.invoke(cli, ["--db", str(db), "init"]).exit_code == 0
    for args in (["debates", "--db", str(db), "show", "nosuchdoc"],
                 ["--db", str(db), "debates", "show", "nosuchdoc"],
                 ["debates", "show", "nosuchdoc", "--db", str(db)]):
        r = runner.invoke(cli, args)
        assert "crux.duckdb" not in r.output, (args, r.output)
        assert "nosuchdoc" in r.output, (args, r.output)
    assert not (tmp_path / "crux.duckdb").exists()


def test_wrong_option_values_exit_2(runner, tmp_path):
    """A wrong option value is a usage error (exit 2), as the README says, before any work."""
    db = str(tmp_path / "x.duckdb")
    for args in (["process", "--stage", "nosuch"], ["process", "--device", "bogus"],
                 ["crawl", "--since", "notadate"], ["add-forum", "lesswrong", "--since", "soon"]):
        r = runner.invoke(cli, ["--db", db, *args])
        assert r.exit_code == 2, (args, r.output)
        assert "Invalid value" in r.output and "Traceback" not in r.output
