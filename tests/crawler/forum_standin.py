"""A ForumMagnum stand-in on 127.0.0.1, written from the API's documented shapes, not from crux.

It parses each query as GraphQL (operation, variables, arguments, nested selections; no
fragments), validates it against a small schema and answers only the fields asked for, the
way the real ``/graphql`` does (ECOSYSTEM-NOTES §3.11):

* ``posts`` / ``comments``: the legacy style ``(input: {terms: {view, limit, offset, ...}})``
  and the selector style ``(selector: {<view>: {...}}, limit, offset)``; ``styles`` chooses
  which the server speaks, the other is refused with Apollo's HTTP 400 validation error.
* ``post``: one post, ``(input: {selector: {_id}})`` or ``(selector: {_id})``.
* Views: ``old``/``new`` (``after`` >=, ``before`` <), ``postCommentsOld``/``postCommentsNew``.
  Lists leave out deleted drafts (``list_deleted_drafts`` shows them, flagged); a page holds
  at most 1,000; an offset above 2,000 is an error.

Every request is counted in ``requests`` (robots.txt too).
"""

from __future__ import annotations

import copy
import json
import random
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POST_FIELDS = {"_id", "title", "slug", "legacyId", "agentFoundationsId", "pageUrl", "url", "postedAt",
               "modifiedAt", "baseScore", "voteCount", "commentCount", "question", "af", "deletedDraft",
               "htmlBody", "wordCount", "user", "tags"}
COMMENT_FIELDS = {"_id", "postId", "parentCommentId", "postedAt", "deleted", "htmlBody", "baseScore",
                  "voteCount", "pageUrl", "user", "post"}
OBJECT_FIELDS = {"user": {"username", "displayName", "slug"}, "tags": {"name"}, "post": POST_FIELDS}
MAX_LIMIT, MAX_SKIP = 1000, 2000


class GraphQLError(Exception):
    """A query the server refuses: the message and the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- a small GraphQL reader ------------------------------------------------------------------

_TOKEN = re.compile(r'\s+|,|#[^\n]*|(?P<p>\.\.\.|[{}()\[\]:!$=@])|(?P<s>"(?:[^"\\]|\\.)*")|'
                    r"(?P<n>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<w>[_A-Za-z][_0-9A-Za-z]*)")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GraphQLError(f'Syntax Error: Unexpected character "{text[pos]}".')
        pos = m.end()
        if m["p"]:
            out.append(("p", m["p"]))
        elif m["s"]:
            out.append(("v", json.loads(m["s"])))
        elif m["n"]:
            out.append(("v", float(m["n"]) if re.search(r"[.eE]", m["n"]) else int(m["n"])))
        elif m["w"]:
            out.append(("w", m["w"]))
    return out + [("eof", None)]


class _Reader:
    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.toks, self.i, self.vars = _tokens(text), 0, variables

    def peek(self, value: Any = None) -> bool:
        kind, v = self.toks[self.i]
        return value is None or v == value and kind in ("p", "w")

    def take(self, value: Any = None) -> Any:
        kind, v = self.toks[self.i]
        if value is not None and v != value:
            raise GraphQLError(f'Syntax Error: Expected "{value}", found "{v}".')
        self.i += 1
        return v

    def document(self) -> list[dict[str, Any]]:
        if self.peek("query"):
            self.take()
            if self.toks[self.i][0] == "w":
                self.take()
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    self.take("$")
                    name = self.take()
                    self.take(":")
                    self._type()
                    if self.peek("=") and self.take("="):
                        self.vars.setdefault(name, self.value())
                self.take(")")
        elif self.peek("mutation"):
            raise GraphQLError("This stand-in serves queries only.")
        fields = self.selection()
        if self.toks[self.i][0] != "eof":
            raise GraphQLError("Syntax Error: one operation per request.")
        return fields

    def _type(self) -> None:
        if self.peek("["):
            self.take("[")
            self._type()
            self.take("]")
        else:
            self.take()
        if self.peek("!"):
            self.take("!")

    def selection(self) -> list[dict[str, Any]]:
        self.take("{")
        fields = []
        while not self.peek("}"):
            if self.peek("..."):
                raise GraphQLError("This stand-in does not serve fragments.")
            name = self.take()
            alias = name
            if self.peek(":"):
                self.take(":")
                name = self.take()
            args = {}
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    key = self.take()
                    self.take(":")
                    args[key] = self.value()
                self.take(")")
            sub = self.selection() if self.peek("{") else None
            fields.append({"name": name, "alias": alias, "args": args, "fields": sub})
        self.take("}")
        return fields

    def value(self) -> Any:
        kind, v = self.toks[self.i]
        if kind == "p" and v == "$":
            self.take()
            return self.vars.get(self.take())
        if kind == "p" and v == "[":
            self.take()
            out = []
            while not self.peek("]"):
                out.append(self.value())
            self.take("]")
            return out
        if kind == "p" and v == "{":
            self.take()
            obj = {}
            while not self.peek("}"):
                key = self.take()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.take()
        if kind == "w":
            return {"true": True, "false": False, "null": None}.get(v, v)
        return v


# -- the server --------------------------------------------------------------------------------

class ForumStandIn:
    """A forum of posts and comments behind ``/graphql``; edits through the methods below."""

    def __init__(self, posts: list[dict[str, Any]], comments: list[dict[str, Any]],
                 styles: tuple[str, ...] = ("legacy", "selector"), list_deleted_drafts: bool = False) -> None:
        self.posts = {p["_id"]: copy.deepcopy(p) for p in posts}
        self.comments = {c["_id"]: copy.deepcopy(c) for c in comments}
        self.styles = styles
        self.list_deleted_drafts = list_deleted_drafts
        self.fail_limit: int | None = None  # a list query asking for this many answers HTTP 500
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner._count({"path": self.path, "method": "GET"})
                if self.path == "/robots.txt":
                    return owner._send(self, 200, b"User-agent: *\nAllow: /\n", "text/plain")
                owner._send(self, 404, b"not found", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner._post(self, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ForumStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _count(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(entry)
        return entry

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        entry = self._count({"path": h.path, "method": "POST", "bytes": len(body)})
        if h.path != "/graphql":
            return self._send(h, 404, b"not found", "text/plain")
        try:
            req = json.loads(body)
            fields = _Reader(str(req.get("query") or ""), dict(req.get("variables") or {})).document()
            with self._lock:
                data = {f["alias"]: self._root(f, entry) for f in fields}
            status, out = 200, {"data": data}
        except GraphQLError as e:
            status = e.status
            out = {"errors": [{"message": str(e), "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"
                                                                  if e.status == 400 else "BAD_USER_INPUT"}}]}
            if e.status == 200:
                out["data"] = {fields[0]["alias"]: None} if "fields" in locals() else None
        except ValueError:
            status, out = 400, {"errors": [{"message": "POST body is not JSON"}]}
        entry["status"] = status
        self._send(h, status, json.dumps(out).encode())

    # -- resolvers ---------------------------------------------------------------------------
    def _root(self, field: dict[str, Any], entry: dict[str, Any]) -> Any:
        name, args = field["name"], field["args"]
        if name not in ("posts", "comments", "post"):
            raise GraphQLError(f'Cannot query field "{name}" on type "Query".')
        allowed = {"legacy": {"input"}, "selector": {"selector", "limit", "offset", "enableTotal"}}
        entry.update(collection=name, style="legacy" if "input" in args else "selector")
        for arg in args:
            style = "legacy" if arg == "input" else "selector" if arg in allowed["selector"] else None
            if style is None or style not in self.styles:
                raise GraphQLError(f'Unknown argument "{arg}" on field "Query.{name}".')
        style = entry["style"]
        sub = {f["name"]: f for f in field["fields"] or []}
        if name == "post":
            selector = (args.get("input") or {}).get("selector") if style == "legacy" else args.get("selector")
            post = self.posts.get((selector or {}).get("_id"))
            entry["post_id"] = (selector or {}).get("_id")
            result = sub.get("result")
            if result is None:
                raise GraphQLError('Field "post" of type "SinglePostOutput" must have a selection of subfields.')
            return {"result": self._project(post, result["fields"], POST_FIELDS, "Post") if post else None}
        if style == "legacy":
            terms = dict((args.get("input") or {}).get("terms") or {})
            view = terms.pop("view", "default")
            limit, offset = terms.pop("limit", 10), terms.pop("offset", 0)
        else:
            selector = args.get("selector") or {}
            view, terms = next(iter(selector.items())) if selector else ("default", {})
            terms = dict(terms or {})
            limit, offset = args.get("limit", 10), args.get("offset", 0)
        entry.update(view=view, terms=terms, limit=limit, offset=offset)
        if self.fail_limit is not None and limit == self.fail_limit:
            raise GraphQLError("Internal server error", status=500)
        if offset and offset > MAX_SKIP:
            raise GraphQLError("Exceeded maximum value for skip", status=200)
        rows = self._posts(view, terms) if name == "posts" else self._comments(view, terms)
        page = rows[offset:offset + min(int(limit), MAX_LIMIT)]
        results = sub.get("results")
        if results is None:
            raise GraphQLError(f'Field "{name}" must have a selection of subfields.')
        kind, known = ("Post", POST_FIELDS) if name == "posts" else ("Comment", COMMENT_FIELDS)
        return {"results": [self._project(r, results["fields"], known, kind) for r in page]}

    def _posts(self, view: str, terms: dict[str, Any]) -> list[dict[str, Any]]:
        if view not in ("old", "new", "default"):
            raise GraphQLError(f'Unknown view "{view}" for posts', status=200)
        rows = [p for p in self.posts.values() if self.list_deleted_drafts or not p.get("deletedDraft")]
        if terms.get("after"):
            rows = [p for p in rows if _ms(p["postedAt"]) >= _ms(terms["after"])]
        if terms.get("before"):
            rows = [p for p in rows if _ms(p["postedAt"]) < _ms(terms["before"])]
        return sorted(rows, key=lambda p: (p["postedAt"], p["_id"]), reverse=view != "old")

    def _comments(self, view: str, terms: dict[str, Any]) -> list[dict[str, Any]]:
        if view not in ("postCommentsOld", "postCommentsNew"):
            raise GraphQLError(f'Unknown view "{view}" for comments', status=200)
        rows = [c for c in self.comments.values() if c["postId"] == terms.get("postId")]
        return sorted(rows, key=lambda c: (c["postedAt"], c["_id"]), reverse=view == "postCommentsNew")

    def _project(self, obj: dict[str, Any] | None, fields: list[dict[str, Any]] | None,
                 known: set[str], kind: str) -> Any:
        if obj is None:
            return None
        out: dict[str, Any] = {}
        for f in fields or []:
            if f["name"] not in known:
                raise GraphQLError(f'Cannot query field "{f["name"]}" on type "{kind}".')
            value = self.posts.get(obj["postId"]) if f["name"] == "post" else obj.get(f["name"])
            if f["name"] == "pageUrl" and isinstance(value, str):  # the site's own address
                value = value.replace("https://forum.example", self.url)
            if f["name"] in OBJECT_FIELDS:
                if not f["fields"]:
                    raise GraphQLError(f'Field "{f["name"]}" must have a selection of subfields.')
                sub = OBJECT_FIELDS[f["name"]]
                if isinstance(value, list):
                    value = [self._project(v, f["fields"], sub, f["name"]) for v in value]
                else:
                    value = self._project(value, f["fields"], sub, f["name"])
            out[f["alias"]] = value
        return out

    # -- what happens upstream -------------------------------------------------------------
    def edit_post(self, post_id: str, html: str, at: str) -> None:
        with self._lock:
            self.posts[post_id].update(htmlBody=html, modifiedAt=at)

    def add_comment(self, post_id: str, comment_id: str, html: str, at: str) -> None:
        with self._lock:
            self.comments[comment_id] = {"_id": comment_id, "postId": post_id, "parentCommentId": None,
                                         "postedAt": at, "deleted": False, "htmlBody": html, "baseScore": 1,
                                         "voteCount": 1, "user": {"username": "late", "displayName": "Late"}}
            self.posts[post_id]["commentCount"] = sum(
                1 for c in self.comments.values() if c["postId"] == post_id)

    def delete_post(self, post_id: str, *, as_draft: bool = False) -> None:
        """Gone from the site, or (``as_draft``) turned into a deleted draft."""
        with self._lock:
            if as_draft:
                self.posts[post_id]["deletedDraft"] = True
            else:
                del self.posts[post_id]


def _ms(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_forum(n_posts: int = 200, seed: int = 18) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n_posts`` posts a day apart (the last on 2026-11-30) with 0-5 comments each."""
    rng = random.Random(seed)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    end = datetime(2026, 11, 30, 12, tzinfo=UTC)
    posts, comments = [], []
    for i in range(n_posts):
        pid = "".join(rng.choice(alphabet) for _ in range(17))
        at = end - timedelta(days=n_posts - 1 - i, minutes=rng.randrange(600))
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}Z"
        slug = f"post-number-{i}"
        n_comments = rng.randrange(6)
        posts.append({"_id": pid, "title": f"Post number {i}", "slug": slug,
                      "pageUrl": f"https://forum.example/posts/{pid}/{slug}", "postedAt": stamp,
                      "modifiedAt": stamp, "baseScore": rng.randrange(200), "voteCount": rng.randrange(90),
                      "commentCount": n_comments, "deletedDraft": False, "af": False, "question": False,
                      "htmlBody": f"<p>Post {i} argues that {rng.random():.3f} is the answer.</p>"
                                  f"<p>Second paragraph of post {i}.</p>",
                      "user": {"username": f"user{i % 17}", "displayName": f"User {i % 17}"},
                      "tags": [{"name": "Testing"}]})
        parent = None
        for j in range(n_comments):
            cid = "".join(rng.choice(alphabet) for _ in range(17))
            cat = (at + timedelta(hours=j + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            comments.append({"_id": cid, "postId": pid, "parentCommentId": parent, "postedAt": cat,
                             "deleted": False, "htmlBody": f"<p>Reply {j} to post {i}.</p>",
                             "baseScore": rng.randrange(20), "voteCount": rng.randrange(9),
                             "pageUrl": f"https://forum.example/posts/{pid}/{slug}?commentId={cid}",
                             "user": {"username": f"c{j}", "displayName": f"Commenter {j}"}})
            parent = cid if j % 2 == 0 else None
    return posts, comments
