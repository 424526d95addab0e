"""The README documents every command and every table column; every command has help."""

from __future__ import annotations

import re

import click
import pytest

from crux.cli import cli
from crux.db import connect
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "crux"):
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        yield full, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, full)


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_with_example(name, cmd):
    assert cmd.help and cmd.help.strip(), f"{name} has no help"
    assert "Example:" in cmd.help, f"{name}'s help has no 'Example:' line"


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_command_is_in_readme(name):
    assert re.search(re.escape(name) + r"\b", README), f"README does not mention `{name}`"


def _schema():
    con = connect(":memory:")
    tables = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall():
        tables.setdefault(table, []).append(column)
    con.close()
    return tables


SCHEMA = _schema()


@pytest.mark.parametrize("table", sorted(SCHEMA))
def test_table_is_documented(table):
    m = re.search(rf"^### {re.escape(table)}\n(.*?)(?=^#|\Z)", README, re.M | re.S)
    assert m, f"README has no '### {table}' section"
    section = m.group(1)
    missing = [c for c in SCHEMA[table] if f"`{c}`" not in section]
    assert not missing, f"README's {table} section does not document {missing}"


def test_use_from_python_example_runs(tmp_path, monkeypatch):
    """The README's "Use from Python" block, run as written on a demo feed."""
    import shutil
    import subprocess
    import sys

    m = re.search(r"^## Use from Python\n.*?```python\n(.*?)```", README, re.M | re.S)
    assert m, "README has no 'Use from Python' example"
    shutil.copy(ROOT / "src" / "crux" / "data" / "demo" / "blog.rss.xml", tmp_path / "feed.xml")
    out = subprocess.run([sys.executable, "-c", m.group(1)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(r"\d+ new", out.stdout), out.stdout
    assert re.search(r"segment: \d+ documents processed", out.stdout), out.stdout
    assert int(re.search(r"^(\d+) sentences$", out.stdout, re.M).group(1)) > 10


def test_demo_files_ignored_and_cleaned():
    """Every file `make demo` writes beside demo.duckdb is git-ignored and removed by `make clean`."""
    from crux.analysis.topics import data_dir
    from crux.refresh import lock_path, readonly_copy_path
    from crux.site.export import inspect_path, metadata_path, snapshot_path

    db = ROOT / "demo.duckdb"
    snap = snapshot_path(db)
    written = [db, db.with_name("demo.duckdb.wal"), lock_path(db), readonly_copy_path(db), snap, metadata_path(snap),
               inspect_path(snap), data_dir(db)]
    ignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    clean = re.search(r"^clean:\n((?:\t.*\n?)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert clean, "Makefile has no clean target"
    clean_words = clean.group(1).replace("\\\n", " ").split()
    for p in written:
        name = p.name
        assert f"/{name}" in ignore or f"/{name}/" in ignore, f"{name} is not in .gitignore"
        assert name in clean_words, f"make clean does not remove {name}"
