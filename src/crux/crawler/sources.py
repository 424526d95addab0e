"""The ``sources`` table as the crawl's to-do list: add, remove, OPML in and out.

A feed source is ``kind = 'feed'`` with its URL; its config holds ``fetch_articles`` and,
after a crawl, the feed's ``title`` and ``site_url``. A forum source is
``kind = 'forummagnum'`` with the site's base URL; its config holds ``api_style``
(``legacy`` or ``selector``), ``since``, ``comments``, ``lookback_days``, ``page_size``,
``sweep_every_days`` (0: sweep on every crawl; a negative number: never) and optional extra
``terms``; after a crawl, ``api_style_detected`` (when the site refused the other style) and
``last_sweep``. :func:`forum_notes` says them in words for ``crux sources``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from ..db import ensure_source
from ..errors import InputError

if TYPE_CHECKING:
    import duckdb

FORUMS = {
    "lesswrong": ("https://www.lesswrong.com", "selector"),
    "eaforum": ("https://forum.effectivealtruism.org", "legacy"),
    "alignmentforum": ("https://www.alignmentforum.org", "selector"),
}


def check_url(url: str, what: str = "URL") -> str:
    """An http(s) URL with a host and no credentials, or :class:`InputError`.

    Addresses are checked when the crawl fetches (:mod:`crux.crawler.outbound`), not here.
    """
    from .outbound import refusal

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"{url!r} is not an http(s) {what}; give the full address, "
            "e.g. https://example.org/feed.xml"
        )
    reason = refusal(url.strip(), allow_private=True)
    if reason is not None:
        raise InputError(f"{url.strip()}: {reason}")
    return url.strip()


def parse_date(value: str, flag: str = "--since") -> datetime:
    """``YYYY-MM-DD`` or ISO-8601 (naive = UTC) to a naive UTC datetime."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{flag} {value!r} is not a date; use YYYY-MM-DD or 2024-05-01T12:00:00Z"
        ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _default_name(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    path = parts.path.rstrip("/")
    return host + path if path else host


def _upsert(
    con: duckdb.DuckDBPyConnection, kind: str, name: str, url: str, config: dict[str, Any]
) -> tuple[str, bool]:
    """``(id, created)``; a source with this name and URL is updated, another URL refused."""
    row = con.execute("SELECT id, kind, url, config FROM sources WHERE name = ?", [name]).fetchone()
    if row is None:
        same = con.execute(
            "SELECT name FROM sources WHERE url = ? AND kind = ?", [url, kind]
        ).fetchone()
        if same is not None:
            raise InputError(
                f"{url} is already a source, named {same[0]!r}; "
                f"use that name, or crux remove-source {same[0]!r} first"
            )
        return ensure_source(con, kind, name, url, config), True
    if row[1] != kind or row[2] != url:
        raise InputError(
            f"a source named {name!r} already exists ({row[1]}, {row[2]}); "
            "choose another --name or crux remove-source it first"
        )
    merged = {**json.loads(row[3] or "{}"), **config}
    con.execute(
        "UPDATE sources SET config = ?, enabled = true WHERE id = ?", [json.dumps(merged), row[0]]
    )
    return str(row[0]), False


def add_feed(
    con: duckdb.DuckDBPyConnection,
    url: str,
    *,
    name: str | None = None,
    fetch_articles: bool = False,
) -> tuple[str, bool]:
    url = check_url(url, "feed URL")
    return _upsert(con, "feed", name or _default_name(url), url, {"fetch_articles": fetch_articles})


def add_forum(
    con: duckdb.DuckDBPyConnection,
    site: str,
    *,
    name: str | None = None,
    since: datetime | None = None,
    comments: bool = True,
    api_style: str | None = None,
    lookback_days: float | None = None,
    sweep_every_days: float | None = None,
) -> tuple[str, bool]:
    known = FORUMS.get(site.lower())
    if known:
        url, style = known
        default_name = site.lower()
    else:
        if "://" not in site:
            raise InputError(
                f"unknown forum {site!r}; use one of {', '.join(FORUMS)} or the site's "
                "URL (https://...)"
            )
        url, style = check_url(site, "forum URL").rstrip("/"), "legacy"
        default_name = _default_name(url)
    config: dict[str, Any] = {"api_style": api_style or style, "comments": comments}
    if since is not None:
        config["since"] = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if lookback_days is not None:
        config["lookback_days"] = lookback_days
    if sweep_every_days is not None:
        config["sweep_every_days"] = sweep_every_days
    return _upsert(con, "forummagnum", name or default_name, url, config)


def forum_notes(config: dict[str, Any]) -> list[str]:
    """What ``crux sources`` says about a forum source: its argument style and its last sweep."""
    style = config.get("api_style") or "legacy"
    detected = config.get("api_style_detected")
    if isinstance(detected, dict):
        line = (
            f"api style: {style} (detected {_short(detected.get('at'))}: the site refused "
            f"{detected.get('refused', 'the other style')})"
        )
    else:
        line = f"api style: {style}"
    notes = [line]
    try:
        every = float(config.get("sweep_every_days") or 0)
    except (TypeError, ValueError):
        every = 0.0
    schedule = "never" if every < 0 else "every crawl" if every == 0 else f"every {every:g} days"
    last = config.get("last_sweep")
    if not isinstance(last, dict):
        notes.append(f"sweep ({schedule}): not yet (the first crawl reads everything)")
        return notes
    state = (
        "complete"
        if last.get("complete")
        else "incomplete, nothing marked deleted; again next crawl"
    )
    notes.append(
        f"last sweep ({schedule}): {_short(last.get('at'))}, {last.get('listed', 0)} posts listed "
        f"before {_short(last.get('before'))}, {last.get('refetched', 0)} fetched again, "
        f"{last.get('threads', 0)} threads re-read, {last.get('gone', 0)} gone; "
        f"{last.get('requests', 0)} requests, {last.get('seconds', 0):.1f} s; {state}"
    )
    return notes


def _short(stamp: Any) -> str:
    """``2026-12-02T13:50:01.000Z`` as ``2026-12-02 13:50``."""
    return str(stamp or "?")[:16].replace("T", " ")


@dataclass
class Removed:
    name: str
    documents: int = 0
    purged: int = 0
    other_rows: dict[str, int] = field(default_factory=dict)


def remove_source(con: duckdb.DuckDBPyConnection, name: str, *, purge: bool = False) -> Removed:
    """Delete the source; its documents stay (``purge`` deletes them and what was derived from them)."""
    row = con.execute("SELECT id FROM sources WHERE name = ?", [name]).fetchone()
    if row is None:
        names = [r[0] for r in con.execute("SELECT name FROM sources ORDER BY name").fetchall()]
        raise InputError(
            f"no source named {name!r}; crux sources lists them"
            + (f" ({', '.join(names[:10])})" if names else "")
        )
    sid = row[0]
    out = Removed(name=name)
    con.execute("BEGIN TRANSACTION")
    try:
        ids = [
            r[0]
            for r in con.execute("SELECT id FROM documents WHERE source_id = ?", [sid]).fetchall()
        ]
        out.documents = len(ids)
        if purge and ids:
            tables = con.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'main' "
                "AND column_name = 'document_id' AND table_name NOT LIKE '\\_%' ESCAPE '\\'"
            ).fetchall()
            for (table,) in tables:
                n = con.execute(
                    f'DELETE FROM "{table}" WHERE document_id IN (SELECT unnest(?)) RETURNING 1',
                    [ids],
                ).fetchall()
                if n:
                    out.other_rows[table] = len(n)
            if _has_table(con, "_stage_state"):
                con.execute(
                    'DELETE FROM "_stage_state" WHERE document_id IN (SELECT unnest(?))', [ids]
                )
            con.execute("DELETE FROM links WHERE source_id IN (SELECT unnest(?))", [ids])
            con.execute(
                "UPDATE links SET target_id = NULL WHERE target_id IN (SELECT unnest(?))", [ids]
            )
            out.purged = len(
                con.execute(
                    "DELETE FROM documents WHERE id IN (SELECT unnest(?)) RETURNING 1", [ids]
                ).fetchall()
            )
        con.execute("DELETE FROM sources WHERE id = ?", [sid])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return out


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


# -- OPML ---------------------------------------------------------------------------------


@dataclass
class OpmlFeed:
    url: str
    title: str | None = None
    html_url: str | None = None


def read_opml(data: bytes, location: str) -> list[OpmlFeed]:
    """The feeds (``outline`` elements with ``xmlUrl``, at any depth) of an OPML 1.0/2.0 file."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise InputError(
            f"{location}: not well-formed XML (line {e.lineno}: {e.msg}); is it an OPML file?"
        ) from None
    if etree.QName(root).localname.lower() != "opml":
        raise InputError(
            f"{location}: the root element is <{etree.QName(root).localname}>, not <opml>; "
            "export an OPML file from your feed reader"
        )
    feeds = []
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).localname != "outline":
            continue
        attrs = {k.lower(): v for k, v in el.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        if not url:
            continue
        title = attrs.get("title") or attrs.get("text") or None
        feeds.append(
            OpmlFeed(
                url=url,
                title=title.strip() if title else None,
                html_url=attrs.get("htmlurl") or None,
            )
        )
    return feeds


@dataclass
class OpmlImport:
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def import_opml(con: duckdb.DuckDBPyConnection, path: Path) -> OpmlImport:
    """Add each feed of the OPML file as a feed source (feeds already present are left alone)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e}); check the path") from None
    feeds = read_opml(data, str(path))
    out = OpmlImport()
    con.execute("BEGIN TRANSACTION")
    try:
        for f in feeds:
            try:
                url = check_url(f.url, "feed URL")
            except InputError as e:
                out.skipped.append((f.url, str(e)))
                continue
            if con.execute("SELECT 1 FROM sources WHERE url = ?", [url]).fetchone():
                out.present.append(url)
                continue
            name = f.title or _default_name(url)
            if con.execute("SELECT 1 FROM sources WHERE name = ?", [name]).fetchone():
                name = f"{name} ({_default_name(url)})"
            cfg: dict[str, Any] = {"fetch_articles": False}
            if f.title:
                cfg["title"] = f.title
            if f.html_url:
                cfg["site_url"] = f.html_url
            ensure_source(con, "feed", name, url, cfg)
            out.added.append(url)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return out


def export_opml(con: duckdb.DuckDBPyConnection, title: str = "crux feeds") -> str:
    """OPML 2.0 listing every feed source (``text``/``title``, ``xmlUrl``, ``htmlUrl``)."""
    rows = con.execute(
        "SELECT name, url, config FROM sources WHERE kind = 'feed' ORDER BY name"
    ).fetchall()
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_esc(title)}</title>",
        f"    <dateCreated>{now}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for name, url, cfg in rows:
        config = json.loads(cfg or "{}")
        label = config.get("title") or name
        attrs = (
            f'type="rss" text={quoteattr(label)} title={quoteattr(label)} xmlUrl={quoteattr(url)}'
        )
        if config.get("site_url"):
            attrs += f" htmlUrl={quoteattr(config['site_url'])}"
        lines.append(f"    <outline {attrs}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
