"""``crux ingest``: feeds, ForumMagnum JSON and JSON Lines from files into the store.

Each file is one transaction: a file that fails changes nothing already stored. Items that
fail validation inside a readable file are skipped and recorded in ``_rejects``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..db import Doc, SaveResult, doc_problem, ensure_source, reject, save_documents
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
        return (
            f"{len(self.files)} files: {t.summary()} documents, {rejected} items rejected, "
            f"{len(self.failed)} files failed"
        )


def shown(path: str | os.PathLike[str]) -> str:
    """A path as text that can be printed and stored: bytes that are not UTF-8 (a file name
    from another system) become ``\\xNN`` escapes instead of failing the file."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _skipped(child: Path, top: Path) -> bool:
    return (
        any(part.startswith(".") for part in child.relative_to(top).parts)
        or child.suffix.lower() in {".md", ".txt", ".py"}
        or child.name == "LICENSE.feedparser"
    )


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and the files below folders named (sorted; hidden files skipped).

    A folder that cannot be listed is yielded itself, so that reading it reports it."""
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            yield path
            continue
        found: list[Path] = []

        def unreadable(e: OSError, found: list[Path] = found) -> None:
            found.append(Path(str(e.filename)))

        for folder, dirs, names in os.walk(path, onerror=unreadable):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [Path(folder) / n for n in names]
        for child in sorted(found):
            if child.is_dir() or not _skipped(child, path):
                yield child


def read_capped(path: Path, cap: int) -> bytes:
    """The bytes of a regular file, at most ``cap``: a device, a FIFO or a socket is refused
    before anything is read (so ``/dev/zero`` or a pipe never fills memory or hangs), and the
    cap counts what is read, not what ``stat`` says."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{shown(path)}: cannot list this folder; check its permissions")
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{shown(path)}: not a regular file (a device, pipe or socket); "
                "copy it to a file first"
            )
        data = f.read(cap + 1)
    if len(data) > cap:
        raise InputError(
            f"{shown(path)}: over the {cap:,}-byte cap (set CRUX_MAX_RESPONSE_BYTES to raise it)"
        )
    return data


def sniff(path: Path, data: bytes) -> str:
    """``feed``, ``forum`` (GraphQL JSON) or ``jsonl``, from the suffix and the first bytes."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in FEED_SUFFIXES:
        return "feed"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if suffix == ".json" and head not in (b"{", b"["):
        return "forum"  # JSON that holds no posts: said so, not taken for a feed
    if head in (b"{", b"["):
        text = data.decode("utf-8", "replace")
        if b"jsonfeed.org/version" in data[:2000]:
            return "feed"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and all(
            ln.lstrip().startswith("{") and ln.rstrip().endswith("}") for ln in lines[:3]
        ):
            try:
                json.loads(text)
            except ValueError:
                return "jsonl"
        return "forum"
    return "feed"


def jsonl_docs(data: bytes, location: str) -> tuple[list[Doc], list[tuple[str, str]]]:
    """One document a line: ``id, title, url, author, published_at, html`` or ``text``, ``parent_id``.

    Each line stands alone: a line that is not UTF-8, not JSON, nested too deeply or has a
    bad value is rejected with its reason, and its neighbours are still read."""
    docs, rejected = [], []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        where = f"{location}:{n}"
        try:
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as e:
            rejected.append((where, f"not UTF-8 (byte {e.start + 1}); re-encode the file as UTF-8"))
            continue
        try:
            docs.append(_jsonl_doc(json.loads(line)))
        except RecursionError:
            rejected.append((where, "nested too deeply to parse"))
        except (ValueError, TypeError, OverflowError) as e:
            rejected.append((where, str(e)))
    return docs, rejected


def _jsonl_doc(obj: Any) -> Doc:
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    doc_id = obj.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or doc_id == "":
        raise ValueError("missing 'id' (a string or an integer)")
    html, body = obj.get("html"), obj.get("text")
    for k in ("html", "text", "title", "url", "author", "kind", "parent_id", "post_id"):
        v = obj.get(k)
        if (
            v is not None
            and not isinstance(v, str)
            and not (k.endswith("_id") and isinstance(v, int) and not isinstance(v, bool))
        ):
            raise ValueError(f"field {k!r} is a {type(v).__name__}, not a string")
    if html is None and body is None and obj.get("title") is None:
        raise ValueError("needs 'html', 'text' or 'title'")
    tags = obj.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("field 'tags' is not a list of strings")
    parent = obj.get("parent_id")
    post = obj.get("post_id")
    return Doc(
        id=str(doc_id),
        kind=obj.get("kind") or ("comment" if parent else "post"),
        url=obj.get("url"),
        title=obj.get("title"),
        author=obj.get("author"),
        published_at=parse_time(obj.get("published_at")),
        html=html,
        text=body if html is None else None,
        parent_id=str(parent) if parent else None,
        post_id=str(post) if post else (str(parent) if parent else None),
        tags=list(tags),
    )


def _json_text(data: bytes) -> bytes:
    """JSON in UTF-16 or UTF-32 (as RFC 8259 lets old tools write it) as UTF-8 bytes."""
    try:
        enc = json.detect_encoding(data)
    except Exception:
        return data
    if enc.startswith("utf-16") or enc.startswith("utf-32"):
        try:
            return data.decode(enc).lstrip("\ufeff").encode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data
    return data


def _parse(
    path: Path, data: bytes, kind: str
) -> tuple[str, str | None, list[Doc], list[tuple[str, str]], str | None]:
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
        obj = json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise InputError(f"{loc}: nested too deeply to parse") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{loc}: not UTF-8 JSON (byte {e.start}); re-encode it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise InputError(
            f"{loc}: invalid JSON at line {e.lineno} column {e.colno} ({e.msg}); "
            "is the file complete?"
        ) from None
    if obj is None or isinstance(obj, str | int | float | bool):
        raise InputError(
            f"{loc}: the JSON holds a single {json.dumps(obj)[:20]}, not posts; "
            "expected a ForumMagnum GraphQL response, a list of posts or JSON Lines"
        )
    try:
        fres = parse_forum_json(obj, location=loc)
    except InputError as e:
        raise InputError(f"{loc}: {e}") from None
    return fres.host or path.stem, None, fres.docs, fres.rejected, None


def _checked(docs: list[Doc], location: str, rejected: list[tuple[str, str]]) -> list[Doc]:
    """The documents that can be stored; the others, and earlier copies of a repeated id,
    join ``rejected`` with their reason."""
    last = {d.id: i for i, d in enumerate(docs)}
    out = []
    for i, d in enumerate(docs):
        if last[d.id] != i:
            rejected.append(
                (
                    f"{location}#{d.id[:80]}",
                    "the id appears again later in the file; the last one is stored",
                )
            )
            continue
        problem = doc_problem(d)
        if problem:
            rejected.append((f"{location}#{shown(d.id)[:80]}", problem))
        else:
            out.append(d)
    return out


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    source: str | None = None,
    run_id: int | None = None,
) -> FileOutcome:
    """Ingest one file in one transaction; never raises for bad input."""
    out = FileOutcome(path=shown(path))
    loc = out.path
    try:
        if not os.path.lexists(path):
            raise InputError(f"{loc}: no such file or folder")
        data = read_capped(path, int(config.get("max_response_bytes")))
        if not data.strip():
            raise InputError(f"{loc}: the file is empty")
        if (
            path.suffix.lower() in (".json", *JSONL_SUFFIXES)
            or data[:1] in (b"\xff", b"\xfe", b"\x00")
            or data[1:2] == b"\x00"
        ):
            data = _json_text(data)
        out.kind = sniff(path, data)
        name, url, docs, out.rejected, out.warning = _parse(Path(loc), data, out.kind)
        docs = _checked(docs, loc, out.rejected)
    except InputError as e:
        out.error = str(e)
    except OSError as e:
        out.error = f"{loc}: cannot read ({e.strerror or e}); check the path and permissions"
    except RecursionError:
        out.error = f"{loc}: nested too deeply to parse"
    except (ValueError, TypeError, OverflowError) as e:  # a parser's own surprise: this file only
        out.error = f"{loc}: cannot be read ({type(e).__name__}: {str(e)[:200]})"
    if out.error:
        _record_reject(con, loc, out.error, run_id)
        return out
    try:
        with transaction(con):
            out.source_id = ensure_source(
                con, "file", source or name, url, {"path": loc, "format": out.kind}
            )
            out.saved = save_documents(con, out.source_id, docs)
            for where, reason in out.rejected:
                reject(con, where, reason, run_id=run_id, source_id=out.source_id)
            con.execute(
                "UPDATE sources SET items = (SELECT count(*) FROM documents WHERE source_id = ?) "
                "WHERE id = ?",
                [out.source_id, out.source_id],
            )
    except StorageError:
        raise  # the disk is full or the file read-only: no point trying the next file
    except Exception as e:
        out.saved = SaveResult()
        out.error = f"{loc}: not stored ({type(e).__name__}: {str(e).splitlines()[0][:300]})"
        _record_reject(con, out.path, out.error, run_id)
    return out


def _record_reject(
    con: duckdb.DuckDBPyConnection, location: str, reason: str, run_id: int | None
) -> None:
    try:
        reject(con, location, reason, run_id=run_id)
    except Exception:
        pass  # recording the reason must never hide the reason itself


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike[str]],
    *,
    source: str | None = None,
    run_id: int | None = None,
    progress: Callable[[FileOutcome], Any] | None = None,
) -> IngestReport:
    report = IngestReport()
    for path in iter_files(paths):
        outcome = ingest_file(con, path, source=source, run_id=run_id)
        report.files.append(outcome)
        if progress:
            progress(outcome)
    return report
