"""crux's Datasette plugin: the site's pages, the home page's refresh time, snapshot swaps.

``crux serve`` passes this folder with ``--plugins-dir``. The work is done in
:mod:`crux.site.pages` (routes) and :mod:`crux.site.swap` (picking up a republished file).
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from crux.site import pages
from crux.site.swap import SnapshotWatcher


@hookimpl
def register_routes() -> list[Any]:
    return pages.ROUTES


@hookimpl
def extra_template_vars(template: str, datasette: Any) -> Any:
    if template != "index.html":
        return None

    async def inner() -> dict[str, Any]:
        return await pages.home_vars(datasette)

    return inner


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


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def checked(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                w = _watcher(datasette)
                if w is not None:
                    w.maybe_swap()
            await app(scope, receive, send)
        return checked
    return wrap
