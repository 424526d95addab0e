"""ForumMagnum sites (LessWrong, EA Forum, Alignment Forum): GraphQL POSTs to ``/graphql``.

Posts are paged oldest first by ``postedAt``: each page asks ``after = <last postedAt seen>``
(the API refuses an offset above 2000, so offsets are used only while many posts share one
timestamp). The first crawl starts at the source's ``since`` (or the beginning); later crawls
start at ``watermark - lookback_days`` (default 7), so edits and new comments on recent posts
are seen. A post's comments are fetched when the post is new or its ``commentCount``
differs from the stored one (``refetch_comments = "always"`` fetches them for every post in
the window). Stored posts inside the window that the site no longer returns, and stored
comments missing from a re-fetched thread, are marked deleted, never dropped.

A post is stored together with its comments, after the last comment page arrived: if the
comments fail, the post is not stored and the watermark stays before it, so the next crawl
asks again.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

from scrapy.http import JsonRequest

from ...db import Doc
from ..forummagnum import parse_forum_json, parse_time
from ..graphql import MAX_OFFSET, comments_payload, graphql_results, posts_payload
from . import CruxSpider, guarded

MAX_PAGES = 100_000  # a guard against a server that never stops answering full pages


def decode_json(response: Any) -> tuple[Any, str | None]:
    """``(object, None)`` from a JSON response, or ``(None, one-line reason)``.

    The body is decoded with the charset the ``Content-Type`` declares, else as UTF-8 (JSON's
    own encoding); bytes that are not valid there are refused, not guessed at.
    """
    ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
    body: bytes = response.body
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", ctype, re.I)
    charset = m[1] if m else None
    if charset and charset.lower().replace("-", "").replace("_", "") == "utf8":
        charset = "utf-8-sig"  # a BOM is not an error
    try:
        text = body.decode(charset) if charset else body  # json.loads: UTF-8/16/32 by its BOM rules
    except LookupError:
        return None, (f"HTTP {response.status}: unknown charset {charset!r} in the Content-Type; "
                      "crux cannot decode the answer")
    except UnicodeDecodeError as e:
        return None, (f"HTTP {response.status}: not valid {charset} at byte {e.start} though the "
                      "Content-Type says so; the answer is broken, the next crawl asks again")
    try:
        return json.loads(text), None
    except UnicodeDecodeError as e:
        bad = body[e.start:e.start + 1].hex()
        return None, (f"HTTP {response.status}: not UTF-8 JSON (byte 0x{bad} at offset {e.start}) and "
                      "no charset declared; the site sent another encoding")
    except RecursionError:
        return None, f"HTTP {response.status}: JSON nested too deeply to read"
    except ValueError as e:
        head = body.lstrip()[:1]
        if "json" not in ctype.lower() and head not in (b"{", b"["):
            return None, (f"HTTP {response.status}, not JSON ({ctype or 'no type'}); the site may "
                          "block crawlers or the URL is not a ForumMagnum site")
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        cut = " (cut off?)" if isinstance(e, json.JSONDecodeError) and (
            e.pos >= len(text) - 1 or e.msg.startswith("Unterminated")) else ""
        msg = e.msg.removesuffix(" at") if isinstance(e, json.JSONDecodeError) else str(e)[:100]
        return None, (f"HTTP {response.status}: invalid JSON{cut}: {msg}{where} "
                      f"({len(body):,} bytes); the answer is broken, the next crawl asks again")


def iso(dt: datetime) -> str:
    """Naive UTC datetime to the API's ISO form (``2020-03-31T23:31:23.249Z``)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class ForumMagnumSpider(CruxSpider):
    name = "forummagnum"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._latest: dict[str, datetime] = {}
        self._failed_before: dict[str, datetime] = {}
        self._pages: dict[str, int] = {}

    # -- configuration ------------------------------------------------------------------
    def _cfg(self, name: str, key: str, default: Any) -> Any:
        value = self.state(name).config.get(key)
        return default if value is None else value

    def _endpoint(self, name: str) -> str:
        return self._cfg(name, "endpoint", self.state(name).url.rstrip("/") + "/graphql")

    def _start_after(self, name: str) -> datetime | None:
        state = self.state(name)
        if self.since is not None:
            return self.since
        if state.watermark:
            days = float(self._cfg(name, "lookback_days", 7))
            return parse_time(state.watermark) - timedelta(days=days)  # type: ignore[operator]
        since = state.config.get("since")
        return parse_time(since) if since else None

    def _request(self, name: str, payload: dict[str, Any], callback: Any, **meta: Any) -> JsonRequest:
        return JsonRequest(self._endpoint(name), data=payload, callback=callback,
                           errback=self.errback, dont_filter=True,
                           meta={"source": name, "handle_httpstatus_list": [400], **meta})

    def _posts_request(self, name: str, after: datetime | None, offset: int) -> JsonRequest:
        payload = posts_payload(self._cfg(name, "api_style", "legacy"),
                                after=iso(after) if after else None,
                                limit=int(self._cfg(name, "page_size", 50)), offset=offset,
                                extra_terms=self._cfg(name, "terms", {}))
        return self._request(name, payload, self.parse_posts, after=after, offset=offset)

    def _comments_request(self, name: str, post: Doc, offset: int, acc: list[Doc]) -> JsonRequest:
        payload = comments_payload(self._cfg(name, "api_style", "legacy"), post_id=post.id,
                                   limit=int(self._cfg(name, "comment_page_size", 500)), offset=offset)
        return self._request(name, payload, self.parse_comments, post=post, offset=offset, acc=acc)

    # -- crawl ----------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for name in self.source_names:
            after = self._start_after(name)
            self.state(name).window_start = after
            yield self._posts_request(name, after, 0)

    def _results(self, response: Any, collection: str) -> list[Any] | None:
        name = response.meta["source"]
        obj, problem = decode_json(response)
        if problem is None:
            results, error = graphql_results(obj, collection)
            if error and results is None:
                hint = "; if it names 'selector' or 'input', switch the source's api_style" \
                    if "GraphQL error" in error else "; the site's API may have changed"
                problem = f"{error}{hint}"
            elif error:  # partial data and errors: not trusted (the source's error, as before)
                self.store.error(name, f"{response.url}: {error}")
                self.on_source_failure(response.meta)
                return None
            else:
                return results
        self.store.reject_response(name, response.url, f"{response.url}: {problem}")
        self.on_source_failure(response.meta)
        return None

    @guarded
    def parse_posts(self, response: Any) -> Iterator[Any]:
        name, meta = response.meta["source"], response.meta
        state = self.state(name)
        results = self._results(response, "posts")
        if results is None:
            return
        parsed = parse_forum_json(results, location=response.url)
        for where, reason in parsed.rejected:
            self.store.add_reject(name, where, reason)
        for doc in parsed.docs:  # posts are paged and watermarked by postedAt: one without is unusable
            if doc.kind == "post" and doc.published_at is None:
                self.store.add_reject(name, f"{response.url}#{doc.id}",
                                      "post has no postedAt; crux pages posts by it")
        fresh = [d for d in parsed.docs if d.kind == "post" and d.id not in state.seen_posts
                 and d.published_at is not None]
        room = self.store.room(name)
        if room is not None and len(fresh) >= room:
            fresh, state.truncated = fresh[:room], True
        for doc in fresh:
            state.seen_posts.add(doc.id)
            if doc.published_at and (name not in self._latest or doc.published_at > self._latest[name]):
                self._latest[name] = doc.published_at
        yield from self._with_comments(name, fresh)
        # next page
        limit = int(self._cfg(name, "page_size", 50))
        self._pages[name] = self._pages.get(name, 0) + 1
        if state.truncated:
            return
        if len(results) < limit:
            state.posts_complete = True
            return
        last = None
        for obj in reversed(results):
            if isinstance(obj, dict) and obj.get("postedAt"):
                try:
                    last = parse_time(obj["postedAt"])
                except (ValueError, TypeError):  # rejected above; page on from the one before
                    continue
                break
        after, offset = meta["after"], meta["offset"]
        if last is not None and (after is None or last > after):
            after, offset = last, 0
        else:
            offset += limit
        if offset > MAX_OFFSET:
            self.store.error(name, f"{response.url}: more than {MAX_OFFSET} posts share one postedAt; "
                                   "the API cannot page past them")
            return
        if self._pages[name] >= MAX_PAGES:
            self.store.error(name, f"{response.url}: stopped after {MAX_PAGES} pages")
            return
        yield self._posts_request(name, after, offset)

    def _with_comments(self, name: str, posts: list[Doc]) -> Iterator[Any]:
        """Posts that need their comments fetched become requests; the others items."""
        if not self._cfg(name, "comments", True):
            for doc in posts:
                yield {"source": name, "doc": doc}
            return
        always = self._cfg(name, "refetch_comments", "changed") == "always"
        stored = self.store.stored([d.id for d in posts])
        for doc in posts:
            old = stored.get(doc.id)
            if doc.deleted or (old is not None and not always and old[0] == doc.comment_count):
                yield {"source": name, "doc": doc}
            else:
                yield self._comments_request(name, doc, 0, [])

    @guarded
    def parse_comments(self, response: Any) -> Iterator[Any]:
        name, meta = response.meta["source"], response.meta
        post: Doc = meta["post"]
        results = self._results(response, "comments")
        if results is None:
            return
        parsed = parse_forum_json(results, location=response.url)
        for where, reason in parsed.rejected:
            self.store.add_reject(name, where, reason)
        acc: list[Doc] = meta["acc"] + [d for d in parsed.docs if d.kind == "comment"]
        limit = int(self._cfg(name, "comment_page_size", 500))
        offset = meta["offset"] + limit
        if len(results) >= limit and offset <= MAX_OFFSET:
            yield self._comments_request(name, post, offset, acc)
            return
        complete = len(results) < limit
        thread = [d for d in acc if d.post_id == post.id] or acc
        if complete:
            self.state(name).comment_threads[post.id] = {d.id for d in thread}
        else:
            self.state(name).warnings.append(f"post {post.id}: more than {MAX_OFFSET} comments; "
                                             "stored the first ones")
        yield {"source": name, "doc": post}
        for doc in thread:
            yield {"source": name, "doc": doc}

    # -- bookkeeping -------------------------------------------------------------------
    def on_source_failure(self, meta: dict[str, Any]) -> None:
        post = meta.get("post")
        name = meta.get("source")
        if post is not None and post.published_at is not None and name:
            old = self._failed_before.get(name)
            if old is None or post.published_at < old:
                self._failed_before[name] = post.published_at

    def before_finish(self) -> None:
        for name in self.source_names:
            latest = self._latest.get(name)
            failed = self._failed_before.get(name)
            if failed is not None and (latest is None or failed < latest):
                latest = failed - timedelta(microseconds=1000)
            if latest is not None:
                self.state(name).new_watermark = iso(latest)
