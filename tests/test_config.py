"""The settings registry: one list, typed values, and the order in which sources win."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from crux import config
from crux.errors import InputError


@pytest.fixture
def toml(tmp_path, monkeypatch):
    path = tmp_path / "crux.toml"
    monkeypatch.setenv("CRUX_CONFIG", str(path))
    for s in config.SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    return path


def test_later_sources_win(toml, monkeypatch):
    assert config.lookup("threads") == (0, "default")
    toml.write_text("[crux]\nthreads = 3\n")
    assert config.lookup("threads") == (3, str(toml))
    monkeypatch.setenv("CRUX_THREADS", "4")
    assert config.lookup("threads") == (4, "env CRUX_THREADS")
    with config.using(threads=5, device=None):
        assert config.lookup("threads") == (5, "flag")
        assert config.get("device") == "cpu"  # None leaves a setting alone
        assert config.get("threads", 6) == 6
    assert config.get("threads") == 4


def test_values_are_typed_and_checked(toml, monkeypatch):
    monkeypatch.setenv("CRUX_DOWNLOAD_DELAY", "0.5")
    assert config.get("download_delay") == 0.5
    monkeypatch.setenv("CRUX_NUMBA_CACHE_ALL", "0")
    assert config.get("numba_cache_all") is False
    monkeypatch.setenv("CRUX_RETRY_TIMES", "-1")
    with pytest.raises(InputError, match=r"retry_times = '-1' \(from CRUX_RETRY_TIMES\) must be at least 0"):
        config.get("retry_times")
    toml.write_text('[crux]\nbatch_size = "many"\n')
    with pytest.raises(InputError, match="batch_size = 'many'.*is not a whole number; fix"):
        config.get("batch_size")
    toml.write_text("[crux\n")
    with pytest.raises(InputError, match="cannot read the settings file"):
        config.get("batch_size")


def test_unknown_names(toml):
    toml.write_text("[crux]\nthredz = 2\n")
    assert config.unknown_keys() == ["thredz"]
    with pytest.raises(KeyError, match="no crux setting 'thredz'"):
        config.get("thredz")
    with pytest.raises(KeyError):
        with config.using(thredz=1):
            pass


def test_every_crux_variable_the_code_reads_is_registered():
    """No CRUX_* variable is read behind the registry's back (tests' own variables aside)."""
    import re
    from pathlib import Path

    src = Path(config.__file__).parent
    names = set()
    for path in src.rglob("*.py"):
        names |= set(re.findall(r"""["']CRUX_([A-Z_]+)["']""", path.read_text()))
    registered = {s.name.upper() for s in config.SETTINGS}
    outside = {"CONFIG", "SHARED", "BROWSER", "DB", "DEMO_DB"}  # the file's name; test switches; flag envvars
    assert names - registered - outside == set()


def test_crux_config_shows_values_and_sources(toml, tmp_path):
    toml.write_text('[crux]\ndb = "from-toml.duckdb"\nthredz = 1\n')
    env = {**os.environ, "CRUX_CONFIG": str(toml), "CRUX_BATCH_SIZE": "16"}
    env.pop("CRUX_DB", None)
    out = subprocess.run([sys.executable, "-m", "crux", "config", "--json"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["batch_size"]["value"] == 16 and rows["batch_size"]["source"] == "env CRUX_BATCH_SIZE"
    assert rows["db"]["value"] == "from-toml.duckdb" and rows["db"]["source"] == str(toml)
    assert "thredz is no crux setting" in out.stderr
    # crux.toml's db is the database every command uses when --db is not given
    st = subprocess.run([sys.executable, "-m", "crux", "init"], capture_output=True, text=True,
                        env=env, cwd=tmp_path)
    assert st.returncode == 0, st.stderr
    assert (tmp_path / "from-toml.duckdb").exists()


def test_a_settings_file_that_cannot_be_looked_at(tmp_path, monkeypatch):
    """A working folder whose crux.toml cannot even be stat'ed (its folder is not searchable by
    this user; Python 3.11's is_file raises) has no settings file; a CRUX_CONFIG that cannot be
    stat'ed is one line."""
    too_long = tmp_path / ("x" * 300) / "crux.toml"  # ENAMETOOLONG: an OSError from stat
    monkeypatch.delenv("CRUX_CONFIG", raising=False)
    monkeypatch.delenv("CRUX_BATCH_SIZE", raising=False)
    monkeypatch.setattr(config, "_config_path", lambda: too_long)
    assert config.lookup("batch_size") == (64, "default")
    monkeypatch.undo()
    monkeypatch.delenv("CRUX_BATCH_SIZE", raising=False)
    monkeypatch.setenv("CRUX_CONFIG", str(too_long))
    with pytest.raises(InputError, match=r"cannot read the settings file \(File name too long\)"):
        config.get("batch_size")
