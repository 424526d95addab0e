"""The leaf of ``crux.db``: transactions and the clock, imported by every other db module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb

from ..errors import StorageError


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first column of the first row of ``sql`` (None when there is no row)."""
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def utcnow() -> datetime:
    """Now in UTC, naive (DuckDB's TIMESTAMP has no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on error. A failed write (disk full, read-only file)
    becomes a :class:`StorageError`; nothing of the transaction is stored."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException as e:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the failed COMMIT already ended the transaction
        if _is_storage_failure(e):
            raise StorageError(
                f"cannot write to the database ({_first_line(str(e))}); "
                "free disk space or check the file's permissions, then run again: "
                "nothing of the failed batch was stored"
            ) from None
        raise


def _is_storage_failure(e: BaseException) -> bool:
    if isinstance(e, duckdb.IOException | duckdb.FatalException):
        return True
    msg = str(e)
    return isinstance(e, duckdb.Error) and any(
        m in msg
        for m in ("Could not write file", "No space left", "File too large", "Failed to commit")
    )


def _first_line(msg: str) -> str:
    return msg.strip().splitlines()[0] if msg.strip() else msg
