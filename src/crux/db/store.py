"""Writing documents: upserts keyed by stable ids, revisions of changed documents, links.

Every stage that brings documents in (``crux ingest``, the spiders) hands :class:`Doc`
records to :func:`save_documents`; it decides what is new, changed or unchanged by
``content_hash`` and never loses an earlier version.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..htmltext import FM_ID, content_hash, forum_site, text_and_links, url_host, url_key, url_keys
from .tx import utcnow as _now

if TYPE_CHECKING:
    import duckdb

DOC_COLUMNS = (
    "id",
    "source_id",
    "kind",
    "parent_id",
    "post_id",
    "url",
    "url_key",
    "title",
    "author",
    "published_at",
    "updated_at",
    "html",
    "text",
    "content_hash",
    "fetched_at",
    "deleted",
    "score",
    "vote_count",
    "comment_count",
    "tags",
    "extra",
)


@dataclass
class Doc:
    """One post or comment, as a source gave it."""

    id: str
    kind: str = "post"
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    html: str | None = None
    text: str | None = None
    parent_id: str | None = None
    post_id: str | None = None
    score: int | None = None
    vote_count: int | None = None
    comment_count: int | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    keys: list[str] = field(default_factory=list)  # more keys links reach it by (forum_keys)

    def hash(self) -> str:
        return content_hash(self.title, self.html if self.html is not None else self.text)


_INT_FIELDS = ("score", "vote_count", "comment_count")
_STR_FIELDS = ("id", "kind", "url", "title", "author", "html", "text", "parent_id", "post_id")


def doc_problem(d: Doc) -> str | None:
    """Why ``d`` cannot be stored as it is (a lone surrogate, a number past the INTEGER
    columns, a kind other than post/comment), or None. Checked item by item, so one bad value
    costs its item only."""
    if d.kind not in ("post", "comment"):
        return f"kind {str(d.kind)[:40]!r} is neither 'post' nor 'comment'"
    for name in _STR_FIELDS:
        v = getattr(d, name)
        if v is not None and not isinstance(v, str):
            return f"field {name!r} is a {type(v).__name__}, not a string"
        text = v or ""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"field {name!r} holds a lone surrogate ({text[e.start]!r} at {e.start}); it is not text"
    for name in _INT_FIELDS:
        v = getattr(d, name)
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, int) or not -(2**31) <= v < 2**31
        ):
            return f"field {name!r} is out of range: {str(v)[:40]}"
    for t in d.tags:
        if not isinstance(t, str):
            return f"a tag is a {type(t).__name__}, not a string"
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            return "a tag holds a lone surrogate; it is not text"
    try:
        json.dumps(d.extra, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError) as e:
        return f"extra fields cannot be stored ({type(e).__name__})"
    return None


@dataclass
class SaveResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    links: int = 0
    held: int = 0  # forum ids another source holds with a better claim: not written
    ids: list[str] = field(default_factory=list)  # new and changed

    def __iadd__(self, other: SaveResult) -> SaveResult:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.links += other.links
        self.held += other.held
        self.ids.extend(other.ids)
        return self

    def summary(self) -> str:
        held = f", {self.held} held by other sources" if self.held else ""
        return f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged{held}"


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "source"


def bulk_insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    suffix: str = "",
) -> None:
    """Insert many rows in one statement (one list parameter per column, zipped by unnest)."""
    if not rows:
        return
    cols = [list(c) for c in zip(*rows, strict=True)]
    select = ", ".join(f"unnest(?) AS {c}" for c in columns)
    names = ", ".join(columns)
    con.execute(f"INSERT INTO {table} ({names}) SELECT {select} {suffix}", cols)


def ensure_source(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    name: str,
    url: str | None = None,
    config: dict[str, Any] | None = None,
) -> str:
    """The id of the source called ``name``, creating it when missing."""
    row = con.execute("SELECT id FROM sources WHERE name = ?", [name]).fetchone()
    if row:
        return str(row[0])
    base = slugify(name)
    sid, n = base, 1
    while con.execute("SELECT 1 FROM sources WHERE id = ?", [sid]).fetchone():
        n += 1
        sid = f"{base}-{n}"
    con.execute(
        "INSERT INTO sources (id, kind, name, url, config, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [sid, kind, name, url, json.dumps(config or {}), _now()],
    )
    return sid


# save_documents sends documents to DuckDB in parts of at most this many characters of HTML and
# text, or this many documents: a 200 MB file's rows are not built all at once (peak RSS of its
# ingest 2.8 GB -> 1.4 GB; 16 MB parts gave 1.6 GB).
SAVE_CHUNK_CHARS = 4_000_000
SAVE_CHUNK_DOCS = 2_000


def save_documents(
    con: duckdb.DuckDBPyConnection,
    source_id: str,
    docs: Iterable[Doc],
    *,
    fetched_at: datetime | None = None,
) -> SaveResult:
    """Upsert documents; keep the previous version of each changed one; refresh its links.

    Runs inside the caller's transaction (if any). Ingesting the same documents twice
    changes nothing.
    """
    fetched_at = fetched_at or _now()
    batch: dict[str, Doc] = {}
    for d in docs:
        batch[d.id] = d  # the last one of an id wins
    result = SaveResult()
    if not batch:
        return result
    batch = _claim(con, source_id, batch, result)
    chunk: dict[str, Doc] = {}
    size = 0
    written: tuple[list[str], list[str]] = ([], [])  # ids and URL keys written
    for d in batch.values():
        chunk[d.id] = d
        size += len(d.html or "") + len(d.text or "")
        if size >= SAVE_CHUNK_CHARS or len(chunk) >= SAVE_CHUNK_DOCS:
            _save_chunk(con, source_id, chunk, fetched_at, result, written)
            chunk, size = {}, 0
    if chunk:
        _save_chunk(con, source_id, chunk, fetched_at, result, written)
    if written[0]:  # once, after every part: a link resolves as if the file were one part
        resolve_links(con, ids=written[0], keys=written[1])
    return result


LINK_COLUMNS = ("source_id", "position", "target_url", "target_key", "anchor_text", "alt_key")


def links_rows(doc_id: str, links: Sequence[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """The ``links`` rows (:data:`LINK_COLUMNS`) of a document's ``(url, anchor text)`` links
    (:func:`~crux.htmltext.text_and_links`), keyed by :func:`~crux.htmltext.url_keys`."""
    rows: list[tuple[Any, ...]] = []
    for pos, (target, anchor) in enumerate(links):
        key, alt = url_keys(target)
        rows.append((doc_id, pos, target, key, anchor, alt))
    return rows


def _save_chunk(
    con: duckdb.DuckDBPyConnection,
    source_id: str,
    batch: dict[str, Doc],
    fetched_at: datetime,
    result: SaveResult,
    written: tuple[list[str], list[str]],
) -> None:
    """:func:`save_documents` for part of its documents (the rows of a part are built, sent to
    DuckDB and dropped before the next part, so memory follows the part, not the file)."""
    ids = list(batch)
    existing = {
        r[0]: (r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        for r in con.execute(
            "SELECT id, content_hash, title, html, score, vote_count, comment_count, deleted, updated_at "
            "FROM documents WHERE id IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
    }
    write_rows, revisions, meta_updates, link_rows, changed_ids = [], [], [], [], []
    key_rows: list[tuple[str, str]] = []
    for d in batch.values():
        h = d.hash()
        old = existing.get(d.id)
        if old is not None and old[0] == h:
            result.unchanged += 1
            # the text is the same; the counts, the flag and the source's modification time may not be
            updated = d.updated_at if d.updated_at is not None else old[7]
            if (d.score, d.vote_count, d.comment_count, d.deleted, updated) != old[3:8]:
                meta_updates.append(
                    (d.id, d.score, d.vote_count, d.comment_count, d.deleted, updated)
                )
            continue
        if old is None:
            result.new += 1
        else:
            result.changed += 1
            revisions.append((d.id, old[0], old[1], old[2], fetched_at))
            changed_ids.append(d.id)
        result.ids.append(d.id)
        text, links = text_and_links(d.html, d.url)
        if d.text is not None:
            text = d.text
        write_rows.append(
            (
                d.id,
                source_id,
                d.kind,
                d.parent_id,
                d.post_id,
                d.url,
                url_key(d.url),
                d.title,
                d.author,
                d.published_at,
                d.updated_at,
                d.html,
                text,
                h,
                fetched_at,
                d.deleted,
                d.score,
                d.vote_count,
                d.comment_count,
                json.dumps(d.tags),
                json.dumps(d.extra, default=str),
            )
        )
        link_rows += links_rows(d.id, links)
        own = url_key(d.url)
        key_rows += [(k, d.id) for k in dict.fromkeys([own, *d.keys]) if k]
    bulk_insert(
        con,
        "document_revisions",
        ("document_id", "content_hash", "title", "html", "seen_at"),
        revisions,
        "ON CONFLICT DO NOTHING",
    )
    if changed_ids:
        con.execute("DELETE FROM links WHERE source_id IN (SELECT unnest(?))", [changed_ids])
    updates = ", ".join(f"{c} = excluded.{c}" for c in DOC_COLUMNS if c != "id")
    bulk_insert(
        con, "documents", DOC_COLUMNS, write_rows, f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )
    if meta_updates:
        cols = [list(c) for c in zip(*meta_updates, strict=True)]
        con.execute(
            "UPDATE documents SET score = u.score, vote_count = u.vote_count, "
            "comment_count = u.comment_count, deleted = u.deleted, updated_at = u.updated_at "
            "FROM (SELECT unnest(?) AS id, unnest(?) AS score, unnest(?) AS vote_count, "
            "unnest(?) AS comment_count, unnest(?) AS deleted, unnest(?::TIMESTAMP[]) AS updated_at) u "
            "WHERE documents.id = u.id",
            cols,
        )
    bulk_insert(con, "links", LINK_COLUMNS, link_rows)
    result.links += len(link_rows)
    if write_rows:
        con.execute(
            "DELETE FROM document_keys WHERE document_id IN (SELECT unnest(?))",
            [[r[0] for r in write_rows]],
        )
        bulk_insert(
            con, "document_keys", ("key", "document_id"), key_rows, "ON CONFLICT DO NOTHING"
        )
        written[0].extend(r[0] for r in write_rows)
        written[1].extend(k for k, _ in key_rows)


_HASHED_ID = re.compile(r"[fm][0-9a-f]{16}")  # crux's own hash ids (feeds, id-less posts)


def source_claims(
    con: duckdb.DuckDBPyConnection, source_ids: Iterable[str]
) -> dict[str, tuple[int, str | None]]:
    """``{source id: (rank, forum site)}``: how strongly each source may claim a forum post's id.

    3: a ForumMagnum source on a known forum host (:func:`~crux.htmltext.forum_site` gives its
    site); 2: a ForumMagnum source elsewhere (its site is its host); 1: a ForumMagnum JSON file;
    0: feeds and JSON Lines."""
    out: dict[str, tuple[int, str | None]] = {}
    rows = con.execute(
        "SELECT id, kind, url, coalesce(json_extract_string(config, '$.format'), '') "
        "FROM sources WHERE id IN (SELECT unnest(?))",
        [list(source_ids)],
    ).fetchall()
    for sid, kind, url, fmt in rows:
        if kind == "forummagnum":
            host = url_host(url)
            site = forum_site(host)
            out[sid] = (3, site) if site else (2, host or None)
        else:
            out[sid] = (1 if fmt == "forum" else 0, None)
    return out


def _claim(
    con: duckdb.DuckDBPyConnection, source_id: str, batch: dict[str, Doc], result: SaveResult
) -> dict[str, Doc]:
    """No source overwrites another's document. An id another source holds is taken over only
    when it is a forum id and this source's claim is stronger (:func:`source_claims`; two
    ForumMagnum sources of one site share their posts); another forum id is left to its holder
    (``held``); any other id (a feed's or a JSON Lines file's) is scoped to this source as
    ``<id>@<source id>``, so two feeds carrying one link keep one document each."""
    owners = dict(
        con.execute(
            "SELECT id, source_id FROM documents WHERE id IN (SELECT unnest(?)) "
            "AND source_id IS DISTINCT FROM ?",
            [list(batch), source_id],
        ).fetchall()
    )
    if not owners:
        return batch
    claims = source_claims(con, {source_id, *owners.values()})
    mine = claims.get(source_id, (0, None))
    renamed: dict[str, str] = {}
    out: dict[str, Doc] = {}
    for doc_id, d in batch.items():
        owner = owners.get(doc_id)
        if owner is None:
            out[doc_id] = d
            continue
        theirs = claims.get(owner, (0, None))
        if FM_ID.fullmatch(doc_id) and not _HASHED_ID.fullmatch(doc_id):
            if mine[0] > theirs[0] or (mine[0] >= 2 and mine == theirs):
                out[doc_id] = d
            else:
                result.held += 1
            continue
        renamed[doc_id] = f"{doc_id}@{source_id}"
    if renamed:
        taken = {
            r[0]
            for r in con.execute(
                "SELECT id FROM documents WHERE id IN (SELECT unnest(?)) AND source_id IS DISTINCT FROM ?",
                [list(renamed.values()), source_id],
            ).fetchall()
        }
        for old, new in renamed.items():
            if new in taken:
                result.held += 1
                continue
            batch[old].id = new
            out[new] = batch[old]
        for d in out.values():  # replies follow their renamed parents
            d.parent_id = renamed.get(d.parent_id or "", d.parent_id)
            d.post_id = renamed.get(d.post_id or "", d.post_id)
    return out


def resolve_links(
    con: duckdb.DuckDBPyConnection,
    *,
    ids: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
) -> int:
    """Fill ``links.target_id`` for every link whose target is now in the corpus.

    With ``ids``/``keys`` (the documents just written and their URL keys), only the links
    those documents make and the links pointing at them are looked at: the work grows with
    the batch, not with the corpus.
    """
    scope = ""
    params: dict[str, Any] | None = None
    if ids is not None or keys is not None:
        scope = (
            "AND (l.source_id IN (SELECT unnest($ids)) OR l.target_key IN (SELECT unnest($keys)) "
            "OR l.alt_key IN (SELECT unnest($keys))) "
        )
        params = {"ids": list(ids or []), "keys": list(keys or [])}
    # A link resolves through its key (to the forum post itself before a copy carrying its
    # URL); failing that, through its weaker second key.
    row = con.execute(
        "WITH hits AS (SELECT l.source_id, l.position, coalesce("
        "min(k.document_id) FILTER (WHERE l.target_key = 'fm:' || k.document_id), "
        "min(k.document_id), min(a.document_id)) AS target FROM links l "
        "LEFT JOIN document_keys k ON k.key = l.target_key AND k.document_id <> l.source_id "
        "LEFT JOIN document_keys a ON a.key = l.alt_key AND a.document_id <> l.source_id "
        "WHERE l.target_id IS NULL AND (k.document_id IS NOT NULL OR a.document_id IS NOT NULL) "
        + scope
        + "GROUP BY ALL) "
        "UPDATE links SET target_id = hits.target FROM hits "
        "WHERE links.source_id = hits.source_id AND links.position = hits.position "
        "RETURNING 1",
        params,
    ).fetchall()
    return len(row)


def mark_deleted(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> int:
    """Mark documents deleted upstream; they are never dropped."""
    if not ids:
        return 0
    rows = con.execute(
        "UPDATE documents SET deleted = true WHERE id IN (SELECT unnest(?)) AND NOT deleted "
        "RETURNING 1",
        [list(ids)],
    ).fetchall()
    return len(rows)


def reject(
    con: duckdb.DuckDBPyConnection,
    location: str,
    reason: str,
    *,
    run_id: int | None = None,
    source_id: str | None = None,
) -> None:
    """Record why an input was not stored."""
    con.execute(
        "INSERT INTO _rejects (run_id, source_id, location, reason, rejected_at) VALUES (?, ?, ?, ?, ?)",
        [run_id, source_id, location, reason[:2000], _now()],
    )
