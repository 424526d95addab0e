"""``crux ingest``: feeds, ForumMagnum JSON and JSON Lines from files into the store.

Each file is one transaction: a file that fails changes nothing already stored. Items that
fail validation inside a readable file are skipped and recorded in ``_rejects``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..db import Doc, SaveResult, ensure_source, reject, save_documents
from ..db.connect import transaction
from ..errors import InputError, StorageError
from .feeds import parse_feed
from .forummagnum import parse_forum_json, parse_time

if TYPE_CHECKING:
    import duckdb

FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".feed"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass
class FileOutcome:
    path: str
    kind: str = ""
    source_id: str | None = None
    saved: SaveResult = field(default_factory=SaveResult)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    warning: str | None = None
    error: str | None = None


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error]

    @property
    def totals(self) -> SaveResult:
        total = SaveResult()
        for f in self.files:
            total += f.saved
        return total

    def summary(self) -> str:
        t = self.totals
        rejected = sum(len(f.rejected) for f in self.files)
        return (f"{len(self.files)} files: {t.summary()} documents, {rejected} items rejected, "
                f"{len(self.failed)} files failed")


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and the files below folders named (sorted; hidden files skipped)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts) \
                        and child.suffix.lower() not in {".md", ".txt", ".py"} and child.name != "LICENSE.feedparser":
                    yield child
        else:
            yield path


def sniff(path: Path, data: bytes) -> str:
    """``feed``, ``forum`` (GraphQL JSON) or ``jsonl``, from the suffix and the first bytes."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in FEED_SUFFIXES:
        return "feed"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        text = data.decode("utf-8", "replace")
        if b"jsonfeed.org/version" in data[:2000]:
            return "feed"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip().startswith("{") and ln.rstrip().endswith("}") for ln in lines[:3]):
            try:
                json.loads(text)
            except ValueError:
                return "jsonl"
        return "forum"
    return "feed"


def jsonl_docs(data: bytes, location: str) -> tuple[list[Doc], list[tuple[str, str]]]:
    """One document a line: ``id, title, url, author, published_at, html`` or ``text``, ``parent_id``."""
    docs, rejected = [], []
    text = data.decode("utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{location}:{n}"
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("line is not a JSON object")
            doc_id = obj.get("id")
            if not isinstance(doc_id, str | int) or doc_id == "":
                raise ValueError("missing 'id'")
            html, body = obj.get("html"), obj.get("text")
            for k, v in (("html", html), ("text", body), ("title", obj.get("title")),
                         ("url", obj.get("url")), ("author", obj.get("author"))):
                if v is not None and not isinstance(v, str):
                    raise ValueError(f"field {k!r} is a {type(v).__name__}, not a string")
            if html is None and body is None and obj.get("title") is None:
                raise ValueError("needs 'html', 'text' or 'title'")
            parent = obj.get("parent_id")
            docs.append(Doc(
                id=str(doc_id), kind=obj.get("kind") or ("comment" if parent else "post"),
                url=obj.get("url"), title=obj.get("title"), author=obj.get("author"),
                published_at=parse_time(obj.get("published_at")), html=html,
                text=body if html is None else None, parent_id=str(parent) if parent else None,
                post_id=obj.get("post_id") or (str(parent) if parent else None),
                tags=[str(t) for t in obj.get("tags") or []],
            ))
        except (ValueError, TypeError) as e:
            rejected.append((where, str(e)))
    return docs, rejected


def _parse(path: Path, data: bytes, kind: str) -> tuple[str, str | None, list[Doc], list[tuple[str, str]], str | None]:
    """``(source name, source url, docs, rejected, warning)`` of one file."""
    loc = str(path)
    if kind == "feed":
        res = parse_feed(data, location=loc)
        name = res.title or path.stem
        return name, res.link, res.docs, res.rejected, res.warning
    if kind == "jsonl":
        docs, rejected = jsonl_docs(data, loc)
        return path.stem, None, docs, rejected, None
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"{loc}: not UTF-8 JSON (byte {e.start}); re-encode it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{loc}: invalid JSON at line {e.lineno} column {e.colno} ({e.msg}); "
                         "is the file complete?") from None
    try:
        fres = parse_forum_json(obj, location=loc)
    except InputError as e:
        raise InputError(f"{loc}: {e}") from None
    return fres.host or path.stem, None, fres.docs, fres.rejected, None


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, *, source: str | None = None,
                run_id: int | None = None) -> FileOutcome:
    """Ingest one file in one transaction; never raises for bad input."""
    out = FileOutcome(path=str(path))
    try:
        size = path.stat().st_size
        cap = int(config.get("max_response_bytes"))
        if size > cap:
            raise InputError(f"{path}: {size:,} bytes is over the {cap:,}-byte cap "
                             "(set CRUX_MAX_RESPONSE_BYTES to raise it)")
        data = path.read_bytes()
        if not data.strip():
            raise InputError(f"{path}: the file is empty")
        out.kind = sniff(path, data)
        name, url, docs, out.rejected, out.warning = _parse(path, data, out.kind)
    except InputError as e:
        out.error = str(e)
    except OSError as e:
        out.error = f"{path}: cannot read ({e.strerror or e}); check the path and permissions"
    except RecursionError:
        out.error = f"{path}: nested too deeply to parse"
    if out.error:
        _record_reject(con, out.path, out.error, run_id)
        return out
    try:
        with transaction(con):
            out.source_id = ensure_source(con, "file", source or name, url, {"path": str(path.resolve())})
            out.saved = save_documents(con, out.source_id, docs)
            for where, reason in out.rejected:
                reject(con, where, reason, run_id=run_id, source_id=out.source_id)
            con.execute("UPDATE sources SET items = (SELECT count(*) FROM documents WHERE source_id = ?) "
                        "WHERE id = ?", [out.source_id, out.source_id])
    except StorageError:
        raise  # the disk is full or the file read-only: no point trying the next file
    except Exception as e:
        out.saved = SaveResult()
        out.error = f"{path}: not stored ({type(e).__name__}: {str(e).splitlines()[0][:300]})"
        _record_reject(con, out.path, out.error, run_id)
    return out


def _record_reject(con: duckdb.DuckDBPyConnection, location: str, reason: str, run_id: int | None) -> None:
    try:
        reject(con, location, reason, run_id=run_id)
    except Exception:
        pass  # recording the reason must never hide the reason itself


def ingest_paths(con: duckdb.DuckDBPyConnection, paths: Iterable[str | os.PathLike[str]], *,
                 source: str | None = None, run_id: int | None = None,
                 progress: Callable[[FileOutcome], Any] | None = None) -> IngestReport:
    report = IngestReport()
    for path in iter_files(paths):
        outcome = ingest_file(con, path, source=source, run_id=run_id)
        report.files.append(outcome)
        if progress:
            progress(outcome)
    return report
