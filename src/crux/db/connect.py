"""Opening the DuckDB file, with one-line errors for the ways that fails."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..errors import BusyError, InputError, SchemaError, StorageError
from .schema import ensure_schema
from .tx import _first_line, transaction  # noqa: F401 (transaction: re-exported)
from .tx import utcnow as _now


def connect(
    path: str | os.PathLike[str], *, read_only: bool = False, migrate: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open (or create) the corpus database and bring its schema up to date; a writable open
    also re-extracts the links when link extraction changed since they were made
    (:func:`crux.db.relinking.relink`).

    ``path`` may be ``":memory:"``. Raises :class:`BusyError` when another process is
    writing the file and :class:`CruxError` when it can't be opened.
    """
    path = str(path)
    if path != ":memory:":
        p = Path(path)
        if read_only and not p.exists():
            raise InputError(f"{path}: no such database; create it with: crux --db {path} init")
        if not read_only and p.parent and not p.parent.exists():
            raise InputError(
                f"{path}: folder {p.parent} does not exist; create it or choose another --db"
            )
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" in msg.lower():
            m = re.search(r"PID (\d+)", msg)
            who = f" (pid {m.group(1)})" if m else ""
            raise BusyError(
                f"{path} is in use by another crux process{who}; wait for it to finish, "
                "or read the published snapshot instead"
            ) from None
        if "not a valid duckdb database" in msg.lower():
            raise SchemaError(
                f"{path}: not a usable DuckDB database (the file is something else); "
                "choose another --db"
            ) from None
        if any(w in msg.lower() for w in ("read-only", "permission", "not permitted")):
            raise StorageError(
                f"{path}: cannot write to this file ({_first_line(msg)}); "
                "check its permissions or use --db elsewhere"
            ) from None
        raise StorageError(f"{path}: cannot open the database: {_first_line(msg)}") from None
    except duckdb.Error as e:
        raise SchemaError(f"{path}: not a usable DuckDB database: {_first_line(str(e))}") from None
    if migrate and not read_only:
        try:
            ensure_schema(con)
            # links made by an older link extractor are re-extracted before any writing work
            from .relinking import relink

            relink(con)
        except Exception:
            con.close()
            raise
    return con


def open_for_reading(
    path: str | os.PathLike[str], *, notice: Any = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection; while a refresh holds the file, its last read-only copy.

    ``notice`` (a callable) is told when the copy is used. Raises :class:`BusyError` when the
    database is busy and there is no copy yet.
    """
    try:
        return connect(path, read_only=True)
    except BusyError:
        copy = Path(path).with_name(Path(path).stem + ".readonly.duckdb")
        if not copy.exists():
            raise
        con = connect(copy, read_only=True)
        if notice:
            row = con.execute("SELECT max(finished_at) FROM _runs").fetchone()
            notice(f"note: {path} is being refreshed; reading the copy of {row[0] if row else '?'}")
        return con


@dataclass
class Run:
    """A ``_runs`` row being written; set ``rows_in``/``rows_out``/``status`` before it ends."""

    id: int
    rows_in: int = 0
    rows_out: int = 0
    status: str = "ok"
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_ACTIVE_RUNS: set[int] = set()  # ids of the _runs rows this process has open (nested runs)


@contextmanager
def record_run(
    con: duckdb.DuckDBPyConnection,
    command: str,
    stage: str | None = None,
    config: dict[str, Any] | None = None,
) -> Iterator[Run]:
    """Write a ``_runs`` row at start (``running``) and finish it on exit (``ok``/``failed``).

    DuckDB lets one process write a file, so a ``running`` row this process did not open was
    left by a process that died (killed, power cut): it becomes ``abandoned`` here, at the
    next run of any command, not only at the next ``crux refresh``.
    """
    mine = sorted(_ACTIVE_RUNS) or [-1]
    con.execute(
        "UPDATE _runs SET status = 'abandoned', finished_at = ? WHERE status = 'running' "
        f"AND id NOT IN ({', '.join('?' * len(mine))})",
        [_now(), *mine],
    )
    row = con.execute(
        "INSERT INTO _runs (command, stage, started_at, status, config) VALUES (?, ?, ?, 'running', ?) "
        "RETURNING id",
        [command, stage, _now(), json.dumps(config or {}, default=str)],
    ).fetchone()
    assert row is not None
    run = Run(id=row[0])
    _ACTIVE_RUNS.add(run.id)
    try:
        yield run
    except BaseException as e:
        run.status = "failed"
        run.error = str(e)[:1000] or type(e).__name__
        _finish(con, run)
        raise
    finally:
        _ACTIVE_RUNS.discard(run.id)
    _finish(con, run)


def _finish(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    try:
        con.execute(
            "UPDATE _runs SET finished_at = ?, status = ?, rows_in = ?, rows_out = ?, error = ? "
            "WHERE id = ?",
            [_now(), run.status, run.rows_in, run.rows_out, run.error, run.id],
        )
    except duckdb.Error:
        pass  # a failed transaction already rolled back; the row stays 'running'


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per table of the main schema."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    counts = {}
    for n in names:
        row = con.execute(f'SELECT count(*) FROM "{n}"').fetchone()
        counts[n] = row[0] if row else 0
    return counts
