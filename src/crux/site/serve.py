"""``crux serve``: Datasette 0.65 on the published snapshot, read-only and immutable."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ..errors import InputError, MissingExtra, StageError, UsageError
from .export import inspect_path, metadata_path, write_metadata
from .limits import SQL_THREADS

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
PLUGINS = HERE / "plugins"


def datasette_command(snapshot: Path, *, host: str, port: int) -> list[str]:
    """Datasette's command line for ``snapshot``: immutable, with crux's pages and plugin.

    The plugin (``site/plugins/crux_site.py``) serves the pages and switches to a new
    snapshot when ``crux publish`` replaces the file, so the server never needs a restart.
    """
    meta = metadata_path(snapshot)
    if not meta.exists():
        write_metadata(snapshot)
    cmd = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "-i",
        str(snapshot),
        "-m",
        str(meta),
        "--template-dir",
        str(TEMPLATES),
        "--plugins-dir",
        str(PLUGINS),
        "--host",
        host,
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "3000",
        "--setting",
        "facet_time_limit_ms",
        "500",
        "--setting",
        "truncate_cells_html",
        "300",
        "--setting",
        "num_sql_threads",
        str(SQL_THREADS),
        # suggested facets run a GROUP BY per column on every table page and _search: at 16x
        # (benchmarks/site_scale.py) they were 85-95% of a facet page's and a search's time;
        # the metadata's own facets are still computed
        "--setting",
        "suggest_facets",
        "off",
        "--setting",
        "max_csv_mb",
        "50",
        # a CSV stream of a whole table is written on the event loop: it stalled every
        # other request (make bench, site_hostile), so it is refused; page with _next instead
        "--setting",
        "allow_csv_stream",
        "off",
    ]
    counts = inspect_path(snapshot)
    if counts.exists():
        cmd += ["--inspect-file", str(counts)]
    return cmd


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UsageError(
                f"cannot listen on {host}:{port} ({e.strerror}); choose another with --port"
            ) from None


def _check_snapshot(snapshot: Path) -> None:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise InputError(
            f"{snapshot}: not a SQLite snapshot ({e}); write one with: crux publish"
        ) from None


def _check_settings() -> None:
    """The site's settings, read here so a bad value is one line, not the server's traceback."""
    from .. import config
    from .semantic import QUERY_PATHS

    for name in ("site_max_bytes", "site_sql_at_once", "semantic_batch"):
        config.get(name)
    how = str(config.get("query_encoder")).strip().lower()
    if how not in QUERY_PATHS:
        raise UsageError(
            f"setting query_encoder = {how!r} is not a query encoder; "
            f"use one of {', '.join(QUERY_PATHS)}"
        )


def serve(snapshot: Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Run Datasette until Ctrl-C."""
    if importlib.util.find_spec("datasette") is None:
        raise MissingExtra("Serving the site", "site", "datasette")
    if not snapshot.exists():
        raise InputError(f"{snapshot}: no published snapshot; run: crux publish")
    if snapshot.is_dir():
        raise UsageError(
            f"{snapshot}: is a folder, not a snapshot; pass the .sqlite file with --snapshot"
        )
    _check_snapshot(snapshot)
    _check_settings()
    _check_port(host, port)
    cmd = datasette_command(snapshot, host=host, port=port)
    print(f"Serving {snapshot.name} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    proc = subprocess.Popen(cmd)
    stopping = []

    def _forward(signum: int, frame: object) -> None:  # SIGTERM: stop Datasette too
        stopping.append(signum)
        proc.terminate()

    previous = signal.signal(signal.SIGTERM, _forward)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code and not stopping:
        raise StageError(f"Datasette exited with status {code}")
