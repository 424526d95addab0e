"""The per-user numba cache that seeds each database's cache folder (crux.analysis.jit_cache)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from crux.analysis.jit_cache import sync, user_cache


def test_sync_copies_missing_and_newer_files_only(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "umap").mkdir(parents=True)
    (src / "umap" / "a.nbi").write_bytes(b"index")
    (src / "umap" / "a.nbc").write_bytes(b"code")
    (src / "umap" / "notes.txt").write_text("not a cache file")
    assert sync(src, dst) == 2
    assert (dst / "umap" / "a.nbc").read_bytes() == b"code"
    assert not (dst / "umap" / "notes.txt").exists()
    assert sync(src, dst) == 0  # nothing newer
    assert not [p for p in dst.rglob(".sync-*")]


def test_sync_never_raises_on_an_unwritable_target(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.nbi").write_bytes(b"index")
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    assert sync(src, blocker / "cache") == 0
    assert sync(tmp_path / "missing", tmp_path / "x") == 0


def test_user_cache_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("CRUX_NUMBA_USER_CACHE", "0")
    assert user_cache() is None
    monkeypatch.setenv("CRUX_NUMBA_USER_CACHE", str(tmp_path))
    assert user_cache() == tmp_path
    monkeypatch.delenv("CRUX_NUMBA_USER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache() == tmp_path / "xdg" / "crux" / "numba"


def test_a_new_database_is_seeded_and_what_it_compiles_goes_back(tmp_path):
    shared = tmp_path / "user"
    (shared / "pkg").mkdir(parents=True)
    (shared / "pkg" / "old.nbi").write_bytes(b"compiled before")
    db_cache = tmp_path / "db-data" / "numba-cache"
    code = textwrap.dedent(f"""
        from pathlib import Path
        from crux.analysis import jit_cache
        cache = jit_cache.prepare({str(db_cache)!r})
        assert (cache / "pkg" / "old.nbi").read_bytes() == b"compiled before"
        (cache / "pkg" / "new.nbc").write_bytes(b"compiled here")
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["CRUX_NUMBA_USER_CACHE"] = str(shared)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (shared / "pkg" / "new.nbc").read_bytes() == b"compiled here"
