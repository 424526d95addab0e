"""crux's Datasette plugin: the site's pages, the home page's refresh time, snapshot swaps.

The limits on what one request may cost (value and result sizes, the response deadline, how
many visitors' queries run at once) are :mod:`crux.site.limits`.

``crux serve`` passes this folder with ``--plugins-dir``. The work is done in
:mod:`crux.site.pages` (routes) and :mod:`crux.site.swap` (picking up a republished file).
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from crux.site import limits, pages, search, semantic
from crux.site.swap import SnapshotWatcher

limits.quiet_errors()


@hookimpl
def register_routes() -> list[Any]:
    # the search pages live in their own modules (they use pages' helpers; pages does not
    # import them)
    return [
        *pages.ROUTES,
        (r"^/search$", search.search_page),
        (r"^/semantic(?P<format>\.json)?$", semantic.semantic_page),
    ]


@hookimpl
def extra_template_vars(template: str, datasette: Any) -> Any:
    if template != "index.html":
        return None

    async def inner() -> dict[str, Any]:
        return await pages.home_vars(datasette)

    return inner


# Reads of the immutable snapshot through a memory map (the OS's page cache, shared by every
# SQL thread) instead of a read() per page into each connection's 2 MB cache: at 16x
# (benchmarks/site_scale.py) the row lookups of a full-text search took 30-40% less time.
# SQLite caps it at its SQLITE_MAX_MMAP_SIZE (2 GB in the usual builds).
MMAP_BYTES = 1 << 31


@hookimpl
def prepare_connection(conn: Any) -> None:
    limits.bound_connection(conn)
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


@hookimpl
def handle_exception(datasette: Any, request: Any, exception: Exception) -> Any:
    return limits.limit_response(datasette, request, exception)


@hookimpl
def extra_css_urls() -> list[str]:
    return ["/-/crux/static/crux.css"]


def _watcher(datasette: Any) -> SnapshotWatcher | None:
    w = getattr(datasette, "_crux_watcher", None)
    if w is None:
        for name, db in datasette.databases.items():
            if name != "_internal" and db.path and not db.is_mutable and not db.is_memory:
                w = SnapshotWatcher(datasette, name)
                w.install()
                break
        datasette._crux_watcher = w or False
    return w or None


# Long columns a table's HTML page hides unless the URL picks columns (_col/_nocol) or asks
# for them all (_crux_all=1); the JSON and CSV views keep every column.
HIDDEN_COLUMNS = {"documents": ("text", "html_safe", "content_hash", "extra")}


def hide_long_columns(scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` with ``_nocol=`` added for :data:`HIDDEN_COLUMNS` on a table's HTML page."""
    from urllib.parse import parse_qsl, urlencode

    parts = scope.get("path", "").strip("/").split("/")
    if len(parts) != 2 or parts[1] not in HIDDEN_COLUMNS or parts[0].startswith("-"):
        return scope
    args = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if any(k in ("_col", "_nocol", "_crux_all") for k, _ in args):
        return scope
    used = {v for _, v in args} | {k.split("__")[0] for k, _ in args}
    extra = [("_nocol", c) for c in HIDDEN_COLUMNS[parts[1]] if c not in used]
    if not extra:
        return scope
    return {**scope, "query_string": urlencode(args + extra).encode("latin-1")}


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def checked(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                w = _watcher(datasette)
                if w is not None:
                    w.maybe_swap()
                scope = hide_long_columns(scope)
            await app(scope, receive, send)

        return limits.Guard(checked, datasette)

    return wrap
