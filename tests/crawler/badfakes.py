"""Fake servers that answer badly, for the "bad input at every door" tests.

:class:`ScriptedForum` is a :class:`~tests.crawler.fakes.FakeForum` whose posts query can be
told to return raw bytes (truncated JSON, wrong types, latin-1, oversized...) instead of the
well-formed page; comments and everything else are answered as usual.

:class:`HeaderFeedServer` serves files with per-file extra HTTP headers (the ``Header:``
lines of feedparser's test files), and :func:`feedparser_files` reads them from the corpus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .fakes import FakeForum, FakeServer, Hit, _Handler


class ScriptedForum(FakeForum):
    """A fake forum whose posts answer can be replaced by raw bytes (``answer``)."""

    def __init__(self, posts: list[dict[str, Any]], comments: list[dict[str, Any]] = (),
                 **kw: Any) -> None:
        super().__init__(posts, comments, **kw)
        self.answer: tuple[bytes, str] | None = None   # (body, Content-Type) for posts queries

    def respond(self, h: _Handler, method: str, path: str, body: bytes, hit: Hit) -> None:
        if self.answer is not None and path == "/graphql" and method == "POST" \
                and not re.search(rb"\bcomments\s*\(", body):
            data, ctype = self.answer
            hit.asked = {"collection": "posts", "scripted": True}
            return self._send(h, 200, data, ctype)
        super().respond(h, method, path, body, hit)


def posts_answer(results: Any) -> bytes:
    """A well-formed GraphQL envelope around ``results`` (whatever their type)."""
    return json.dumps({"data": {"posts": {"results": results}}}).encode()


class HeaderFeedServer(FakeServer):
    """Static files, each with its own Content-Type and extra headers; no conditional GET."""

    def __init__(self, files: dict[str, tuple[bytes, dict[str, str]]]) -> None:
        super().__init__()
        self.files = files

    def _matches(self, path: str) -> bool:
        return False  # no fault script here

    def respond(self, h: _Handler, method: str, path: str, body: bytes, hit: Hit) -> None:
        entry = self.files.get(path.split("?")[0])
        if entry is None:
            hit.status = 404
            return self._send(h, 404, b"not found", "text/plain")
        data, headers = entry
        headers = dict(headers)
        ctype = headers.pop("Content-Type", "application/xml")
        self._send(h, 200, data, ctype, headers)


_HEADER = re.compile(r"^Header:\s*([A-Za-z0-9-]+):\s*(.*?)\s*$", re.M)
_SKIP_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection"}


def _comment_text(data: bytes) -> str:
    """The test comment's text, whatever the file's encoding (UTF-16/32 ones included)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encs = ["utf-32"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encs = ["utf-16"]
    elif data[:4] in (b"\x00\x00\x00<", b"<\x00\x00\x00"):
        encs = ["utf-32-be" if data[0] == 0 else "utf-32-le"]
    elif data[:2] in (b"\x00<", b"<\x00"):
        encs = ["utf-16-be" if data[0] == 0 else "utf-16-le"]
    else:
        encs = ["latin-1"]
    try:
        return data.decode(encs[0], "replace")
    except LookupError:  # pragma: no cover
        return data.decode("latin-1")


def feed_headers(data: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines of a feedparser test file, as HTTP headers."""
    out: dict[str, str] = {}
    for name, value in _HEADER.findall(_comment_text(data)[:4000]):
        if name.lower() in _SKIP_HEADERS:
            continue
        canon = "-".join(p.capitalize() for p in name.split("-"))
        out["Content-Type" if canon.lower() == "content-type" else canon] = value
    return out


def feedparser_files(folder: Path) -> dict[str, tuple[bytes, dict[str, str]]]:
    """``{url path: (bytes, headers)}`` for every test file of the feedparser corpus."""
    files: dict[str, tuple[bytes, dict[str, str]]] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name in ("README.md", "LICENSE.feedparser"):
            continue
        data = p.read_bytes()
        headers = feed_headers(data)
        if p.suffix == ".json":
            headers.setdefault("Content-Type", "application/json")
        files["/" + p.relative_to(folder).as_posix()] = (data, headers)
    return files
