"""Shared fixtures. Data from ../shared comes through CRUX_SHARED: tests that need it skip
when the variable is unset and fail when it is set but a file is missing."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Numba code compiled by one test's topic fit seeds the next new database's cache (see
# crux.analysis.jit_cache): shared for the session, never the user's own ~/.cache.
os.environ.setdefault("CRUX_NUMBA_USER_CACHE", tempfile.mkdtemp(prefix="crux-test-numba-"))

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def shared_path(rel: str) -> Path:
    """A path under CRUX_SHARED: skip when unset, fail when set but missing."""
    base = os.environ.get("CRUX_SHARED")
    if not base:
        pytest.skip("CRUX_SHARED is not set (the shared corpora live beside the checkout)")
    path = Path(base) / rel
    if not path.exists():
        pytest.fail(f"CRUX_SHARED={base} is set but {rel} is missing from it")
    return path


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture
def con():
    from crux.db import connect
    c = connect(":memory:")
    yield c
    c.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    from crux.demo import DEMO_DIR
    return DEMO_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
