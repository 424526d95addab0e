"""Bounds on what one request can cost the served site: value and result sizes, time, concurrency.

Datasette runs any read-only SQL a visitor sends (``?sql=``, ``?_where=``). Its own time limit
(``sql_time_limit_ms``) stops a query that computes for too long, but not one that builds a huge
value quickly (``printf('%.*c', 500000000, 'x')``, ``zeroblob``, ``randomblob``, ``replace`` or
``group_concat`` blow-ups), nor the time spent rendering a huge result, nor a CSV stream that runs
page after page. The plugin (``plugins/crux_site.py``) applies these bounds:

- :func:`bound_connection` (``prepare_connection``): SQLite's ``SQLITE_LIMIT_LENGTH`` caps every
  string or blob a query makes at ``site_max_bytes`` ("string or blob too big"), and a row
  factory counts the bytes of the rows a query returns and stops it past the same figure.
- SQLite's ``printf`` (and ``format``) pads inside one VM step, which neither the length limit
  nor the time limit interrupts (``printf('%.*c', 2000000000, 'x')`` computes for 27 s and
  returns NULL): :func:`bound_connection` replaces both with a wrapper that refuses widths and
  precisions above ``site_max_bytes`` ("string or blob too big", as for any value) and hands the rest to SQLite's own printf.
- :func:`quiet_errors`: no rich tracebacks on the event loop for each failed query.
- ``crux serve`` turns Datasette's CSV streaming off (``allow_csv_stream``): a stream of a whole
  table is written on the event loop and stalled every other request.
- :class:`Guard` (``asgi_wrapper``): the whole response to visitor SQL (``?sql=``, ``?_where=``;
  a stream included) must finish within the SQL time limit plus :data:`GRACE_S` (503 before it
  starts, a last line in a stream; crux's own pages and plain table pages are not timed), and
  at most ``site_sql_at_once`` requests with visitor SQL (default 1) run at once (429 for the
  next), so a few expensive queries cannot take every SQL thread from the pages.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import weakref
from typing import Any
from urllib.parse import parse_qsl

from .. import config


def quiet_errors() -> None:
    """Stop Datasette printing each error with rich's traceback and locals when rich is installed.

    It prints them on the event loop, 0.5 to 1.5 s per error here, so a visitor repeating a
    query that times out would stall every other request; the error page is unchanged.
    """
    import datasette.handle_exception as handler

    handler.rich = None  # type: ignore[attr-defined]


GRACE_S = 1.0  # seconds a response may take past the SQL time limit (rendering, sending)
SQL_THREADS = 6  # Datasette's num_sql_threads: room for the pages beside the visitor SQL
# Paths that stream a file rather than run SQL: no deadline (a big download takes its time).
_UNTIMED = re.compile(r"^/(-/static/|-/crux/static/|[^/]+\.db$)")
_VISITOR_SQL = ("sql", "_where")


def max_bytes() -> int:
    """``site_max_bytes``: the largest value, and the most bytes of rows, one query may return."""
    return int(config.get("site_max_bytes"))


def _too_big(limit: int) -> sqlite3.DataError:
    return sqlite3.DataError(
        f"query result too large: more than {limit:,} bytes of values (this site's limit, the "
        "site_max_bytes setting); select fewer rows or columns, or page with _size and _next"
    )


# one printf conversion: flags, width (digits or *), precision (digits or *), size, type
_SPEC = re.compile(r"%([-+ #0!,]*)(\*|\d+)?(?:\.(\*|\d+))?(?:ll|l)?(.)", re.S)


def _as_int(value: Any) -> int:
    try:
        n = float(value if not isinstance(value, bytes) else value.decode("latin-1"))
    except (TypeError, ValueError):
        return 0
    return abs(int(n)) if n == n and abs(n) != float("inf") else 1 << 62


def printf_padding(fmt: Any, args: tuple[Any, ...]) -> int:
    """The characters of padding (widths and precisions) that ``printf(fmt, *args)`` asks for."""
    if not isinstance(fmt, (str, bytes)):
        return 0
    text = fmt if isinstance(fmt, str) else fmt.decode("utf-8", "replace")
    total = used = 0
    for m in _SPEC.finditer(text):
        if m.group(4) == "%":
            continue
        for part in (m.group(2), m.group(3)):
            if part == "*":
                total += _as_int(args[used]) if used < len(args) else 0
                used += 1
            elif part:
                total += int(part)
        used += 1
    return total


def _bounded_printf(limit: int) -> Any:
    plain = sqlite3.connect(":memory:", check_same_thread=False)  # SQLite's own printf
    plain.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)

    def printf(fmt: Any, *args: Any) -> Any:
        if printf_padding(fmt, args) > limit:
            # too long for the limit: SQLite refuses it before copying ("string or blob too big");
            # bytes() of zeros costs no memory until touched
            return bytes(limit + 1)
        marks = ", ".join("?" * (1 + len(args)))
        return plain.execute(f"SELECT printf({marks})", (fmt, *args)).fetchone()[0]

    return printf


def bound_connection(conn: sqlite3.Connection, limit: int | None = None) -> None:
    """Cap the values and the rows a query on ``conn`` can make (see the module's docstring)."""
    limit = max_bytes() if limit is None else limit
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    printf = _bounded_printf(limit)
    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, deterministic=True)
    seen: weakref.WeakKeyDictionary[sqlite3.Cursor, int] = weakref.WeakKeyDictionary()

    def row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> sqlite3.Row:
        size = seen.get(cursor, 0)
        for v in values:
            size += len(v) if isinstance(v, (str, bytes)) else 8
        if size > limit:
            raise _too_big(limit)
        seen[cursor] = size
        return sqlite3.Row(cursor, values)

    conn.row_factory = row


def limit_response(datasette: Any, request: Any, exception: Exception) -> Any:
    """A 400 page for a query past a limit where Datasette would answer 500.

    A value or result over ``site_max_bytes`` on a table page (``?_where=``), and a query past
    the time limit on a CSV page, reach Datasette's error handler as they are.
    """
    from datasette.database import QueryInterrupted
    from datasette.handle_exception import handle_exception
    from datasette.views.base import DatasetteError

    if isinstance(exception, sqlite3.DataError):
        error = DatasetteError(str(exception), title="Too large", status=400)
    elif isinstance(exception, QueryInterrupted):
        limit = datasette.setting("sql_time_limit_ms")
        error = DatasetteError(
            f"SQL query took too long: this site's time limit is {limit} ms (sql_time_limit_ms)",
            title="SQL interrupted",
            status=400,
        )
    else:
        return None
    return handle_exception(datasette, request, error)


def visitor_sql(scope: dict[str, Any]) -> bool:
    """Whether the request carries SQL of the visitor's own (``?sql=`` or ``?_where=``)."""
    qs = scope.get("query_string", b"").decode("latin-1")
    return any(k in _VISITOR_SQL and v.strip() for k, v in parse_qsl(qs, keep_blank_values=True))


async def _refuse(
    scope: dict[str, Any],
    send: Any,
    status: int,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if scope.get("path", "").split("?")[0].endswith(".json"):
        body = json.dumps({"ok": False, "error": message, "status": status, "title": None}).encode()
        kind = b"application/json; charset=utf-8"
    else:
        body = (message + "\n").encode()
        kind = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: the response deadline and the visitor-SQL concurrency cap."""

    def __init__(self, app: Any, datasette: Any) -> None:
        self.app = app
        self.datasette = datasette
        self.running = 0  # visitor-SQL requests in progress (one event loop: no lock needed)
        self.at_once = int(config.get("site_sql_at_once"))

    def deadline_s(self) -> float:
        return float(self.datasette.setting("sql_time_limit_ms")) / 1000 + GRACE_S

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or _UNTIMED.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        mine = visitor_sql(scope)
        if mine and self.running >= self.at_once:
            many = "1 visitor's query" if self.at_once == 1 else f"{self.at_once} visitors' queries"
            await _refuse(
                scope,
                send,
                429,
                f"too many SQL queries at once: this site runs {many} at a time; "
                "try again in a few seconds",
                [(b"retry-after", b"3")],
            )
            return
        if not mine:
            # crux's own pages and Datasette's table pages run bounded queries (each under the
            # SQL time limit, rows capped by max_bytes); a whole-response deadline on them would
            # turn a slow moment of a busy machine, or the semantic page's first query (which
            # loads the model), into 503s. The deadline is for visitors' SQL.
            await self.app(scope, receive, send)
            return
        self.running += mine
        try:
            await self._timed(scope, receive, send)
        finally:
            self.running -= mine

    async def _timed(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = finished = False

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        limit = self.deadline_s()
        try:
            await asyncio.wait_for(self.app(scope, receive, watched), limit)
        except TimeoutError:
            text = (
                f"the response took longer than {limit:g} s, this site's time limit "
                "(sql_time_limit_ms plus rendering); ask for fewer rows or a cheaper query"
            )
            if not started:
                await _refuse(scope, send, 503, text)
            elif (
                not finished
            ):  # a stream (CSV): end it with the reason, as Datasette's own limits do
                await send({"type": "http.response.body", "body": f"\n{text}\n".encode()})
