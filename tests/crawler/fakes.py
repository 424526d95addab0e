"""Fake servers on 127.0.0.1 for crawler tests: a ForumMagnum GraphQL API and a feed host.

Both run ``http.server`` in a thread of the test process, log every request (time, method,
path, headers, what was asked) and can be told to misbehave: answer 429 with Retry-After,
500, or slowly. The GraphQL query is parsed loosely (it's a fake): the collection from the
query text, the view/terms from the variables, in the legacy (``input: {terms}``) or the
modern (``selector: {view: terms}``) argument style.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


@dataclass
class Hit:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    asked: dict[str, Any] = field(default_factory=dict)
    status: int = 200


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()  # no Nagle: headers and body go out at once, no 40 ms delayed-ACK stall
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.owner._handle(self, "GET", b"")

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.server.owner._handle(self, "POST", self.rfile.read(n))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeServer


class FakeServer:
    """Base: a threaded HTTP server with a request log and a fault script."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.faults: list[tuple[str, Any]] = []   # consumed by the next matching requests
        self.fail_always: set[str] = set()        # paths that always answer 500
        self.slow: dict[str, float] = {}          # path -> seconds to sleep before answering
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [h.path for h in self.hits if method is None or h.method == method]

    def _send(self, h: _Handler, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _handle(self, h: _Handler, method: str, body: bytes) -> None:
        path = h.path
        hit = Hit(time.monotonic(), method, path, {k.lower(): v for k, v in h.headers.items()})
        with self._lock:
            self.hits.append(hit)
        if path == "/robots.txt":
            return self._send(h, 200, ROBOTS, "text/plain")
        if path in self.slow:
            time.sleep(self.slow[path])
        if path in self.fail_always:
            hit.status = 500
            return self._send(h, 500, b"broken", "text/plain")
        with self._lock:
            fault = self.faults.pop(0) if self.faults and self._matches(path) else None
        if fault:
            kind, arg = fault
            hit.status = int(kind)
            headers = {"Retry-After": str(arg)} if arg is not None else {}
            return self._send(h, int(kind), b'{"error": "fault"}', headers=headers)
        self.respond(h, method, path, body, hit)

    def _matches(self, path: str) -> bool:
        return path != "/robots.txt"

    def respond(self, h: _Handler, method: str, path: str, body: bytes, hit: Hit) -> None:
        raise NotImplementedError


class FakeForum(FakeServer):
    """ForumMagnum's ``/graphql``: posts paged by postedAt (after/before/limit/offset), comments by post."""

    def __init__(self, posts: list[dict[str, Any]], comments: list[dict[str, Any]] = (),
                 styles: tuple[str, ...] = ("legacy", "selector")) -> None:
        super().__init__()
        self.posts = {p["_id"]: copy.deepcopy(p) for p in posts}
        self.comments = {c["_id"]: copy.deepcopy(c) for c in comments}
        self.styles = styles

    def _matches(self, path: str) -> bool:
        return path == "/graphql"

    def respond(self, h: _Handler, method: str, path: str, body: bytes, hit: Hit) -> None:
        if path != "/graphql" or method != "POST":
            return self._send(h, 404, b"not found", "text/plain")
        req = json.loads(body or b"{}")
        query, variables = req.get("query", ""), req.get("variables") or {}
        collection = "comments" if re.search(r"\bcomments\s*\(", query) else "posts"
        if "input" in variables or re.search(r"\binput\s*:", query):
            style = "legacy"
            terms = dict(((variables.get("input") or {}).get("terms")) or {})
            view = terms.pop("view", None)
            limit, offset = terms.pop("limit", 10), terms.pop("offset", 0)
        else:
            style = "selector"
            selector = variables.get("selector") or {}
            view, terms = next(iter(selector.items())) if selector else (None, {})
            terms = dict(terms or {})
            limit, offset = variables.get("limit", 10), variables.get("offset", 0)
        hit.asked = {"collection": collection, "style": style, "view": view, "terms": terms,
                     "limit": limit, "offset": offset}
        if style not in self.styles:
            hit.status = 400
            msg = f'Unknown argument "{"selector" if style == "selector" else "input"}" on field "Query.{collection}".'
            return self._send(h, 400, json.dumps({"errors": [{"message": msg}]}).encode())
        if offset and offset > 2000:
            return self._send(h, 200, json.dumps({"errors": [{"message": "Exceeded maximum value for skip"}],
                                                  "data": {collection: None}}).encode())
        with self._lock:
            if collection == "posts":
                rows = sorted(self.posts.values(), key=lambda p: (p["postedAt"], p["_id"]),
                              reverse=view == "new")
                if terms.get("after"):
                    rows = [p for p in rows if _t(p["postedAt"]) >= _t(terms["after"])]
                if terms.get("before"):
                    rows = [p for p in rows if _t(p["postedAt"]) < _t(terms["before"])]
            else:
                rows = sorted((c for c in self.comments.values() if c["postId"] == terms.get("postId")),
                              key=lambda c: (c["postedAt"], c["_id"]), reverse=view == "postCommentsNew")
            page = copy.deepcopy(rows[offset:offset + limit])
        data = json.dumps({"data": {collection: {"results": page}}}).encode()
        self._send(h, 200, data)

    # -- edits for incremental tests -----------------------------------------------------
    def edit_post(self, post_id: str, html: str) -> None:
        with self._lock:
            self.posts[post_id]["htmlBody"] = html

    def delete_post(self, post_id: str) -> None:
        with self._lock:
            del self.posts[post_id]

    def add_comment(self, comment: dict[str, Any]) -> None:
        with self._lock:
            self.comments[comment["_id"]] = comment
            post = self.posts[comment["postId"]]
            post["commentCount"] = (post.get("commentCount") or 0) + 1


def _t(value: str) -> str:
    """Comparable form of an ISO time (the fake compares at millisecond precision)."""
    v = value.replace("Z", "")
    if "." not in v:
        v += ".000"
    return v[:23]


class FeedServer(FakeServer):
    """Static files with ETag/Last-Modified, 304 on a match, gzip when asked for."""

    def __init__(self, files: dict[str, tuple[bytes, str]]) -> None:
        super().__init__()
        self.files = dict(files)
        self.modified: dict[str, float] = {p: 1_700_000_000.0 for p in files}

    def put(self, path: str, body: bytes, ctype: str = "application/rss+xml") -> None:
        with self._lock:
            self.files[path] = (body, ctype)
            self.modified[path] = self.modified.get(path, 1_700_000_000.0) + 3600

    def respond(self, h: _Handler, method: str, path: str, body: bytes, hit: Hit) -> None:
        with self._lock:
            entry = self.files.get(path)
            modified = self.modified.get(path)
        if entry is None:
            hit.status = 404
            return self._send(h, 404, b"not found", "text/plain")
        data, ctype = entry
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        last_mod = formatdate(modified, usegmt=True)
        inm, ims = hit.headers.get("if-none-match"), hit.headers.get("if-modified-since")
        fresh = (inm == etag) if inm is not None else (
            ims is not None and parsedate_to_datetime(ims).timestamp() >= (modified or 0))
        headers = {"ETag": etag, "Last-Modified": last_mod}
        if fresh:
            hit.status = 304
            try:
                h.send_response(304)
                for k, v in headers.items():
                    h.send_header(k, v)
                h.send_header("Content-Length", "0")
                h.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if "gzip" in (hit.headers.get("accept-encoding") or ""):
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        self._send(h, 200, data, ctype, headers)


# -- running crux in a subprocess ------------------------------------------------------------

SRC = Path(__file__).resolve().parents[2] / "src"

CRAWL_ENV = {
    "CRUX_DOWNLOAD_DELAY": "0",
    "CRUX_RETRY_BACKOFF": "0.2",
    "CRUX_RETRY_TIMES": "2",
    "CRUX_DOWNLOAD_TIMEOUT": "10",
    "CRUX_USER_AGENT": "crux-test/0.1 (+http://127.0.0.1/contact)",
    "CRUX_CRAWL_ALLOW_PRIVATE": "1",  # the stand-ins listen on 127.0.0.1
    "NO_PROXY": "*",
}


def crux_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("CRUX_")}
    env.update(CRAWL_ENV)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    if os.environ.get("CRUX_SHARED"):
        env["CRUX_SHARED"] = os.environ["CRUX_SHARED"]
    env.update(extra)
    return env


def run_crux(db: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``crux --db DB ARGS...`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "crux", "--db", str(db), *args],
                          env=crux_env(**env), capture_output=True, text=True, timeout=timeout)


def limit_file_size(limit: int):
    """A ``preexec_fn``: the child may write files of at most ``limit`` bytes (a full disk)."""
    import resource
    import signal

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def demo_forum() -> tuple[list[dict], list[dict]]:
    from crux.demo import DEMO_DIR
    posts = json.loads((DEMO_DIR / "forum.json").read_text())["data"]["posts"]["results"]
    comments = json.loads((DEMO_DIR / "forum-comments.json").read_text())["data"]["comments"]["results"]
    return posts, comments
