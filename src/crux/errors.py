"""The errors crux raises on purpose.

Every message says what happened and what to do about it, in one line, so the CLI can
print it without a traceback.

    CruxError
     ├── UsageError      a wrong option or argument: an unknown name, a bad value (exit 2)
     ├── SchemaError     the database is newer than this crux, or not a crux database
     ├── StageError      a pipeline stage could not run
     ├── InputError      a file or response could not be read or parsed
     ├── StorageError    the database could not be written (disk full, read-only file)
     ├── TemporaryError  worth retrying later: network down (exit 75)
     │    └── BusyError  another process holds the database or the refresh lock
     └── MissingExtra    an optional dependency is not installed
"""

from __future__ import annotations


class CruxError(Exception):
    """Base class; ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class UsageError(CruxError):
    exit_code = 2


class SchemaError(CruxError):
    pass


class StageError(CruxError):
    pass


class InputError(CruxError):
    pass


class StorageError(CruxError):
    pass


class TemporaryError(CruxError):
    exit_code = 75


class BusyError(TemporaryError):
    pass


class MissingExtra(CruxError):
    """An optional dependency is missing; the message names the pip command."""

    def __init__(self, what: str, extra: str, package: str | None = None) -> None:
        pkg = f" ({package} is not installed)" if package else ""
        super().__init__(f"{what} needs: pip install 'crux[{extra}]'{pkg}")


def first_line(e: BaseException) -> str:
    """The first line of a library's error (at most 200 characters), or its class name: what a
    one-line message quotes from an exception it wraps."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
