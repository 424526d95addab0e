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

**The sweep** covers what the window does not: every post before it. A cheap listing
(``_id``, ``postedAt``, ``modifiedAt``, ``commentCount``, ``deletedDraft``; pages of 1,000) is
compared with the store; a post that is missing, whose ``modifiedAt`` moved, or whose
``commentCount`` moved is fetched again (and then its comments, when the count moved); a stored
post the complete listing no longer shows, or shows as ``deletedDraft``, is marked deleted with
its comments. It runs on every crawl after the first that has stored posts before the window,
or every ``sweep_every_days`` (a source setting); what it did is stored in the source's
``config["last_sweep"]``.

**The argument style** is tried, not trusted: when the site refuses a query's arguments
(a GraphQL validation error), the request is sent once more in the other style; if that works,
the crawl goes on in it and the source's ``api_style`` is stored with ``api_style_detected``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.http import JsonRequest

from ...db import Doc
from ..forummagnum import parse_forum_json, parse_time
from ..graphql import (
    MAX_LIMIT,
    MAX_OFFSET,
    comments_payload,
    graphql_results,
    listing_payload,
    other_style,
    post_payload,
    posts_payload,
    schema_error,
)
from . import CruxSpider, guarded

log = logging.getLogger(__name__)
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
        return None, (
            f"HTTP {response.status}: unknown charset {charset!r} in the Content-Type; "
            "crux cannot decode the answer"
        )
    except UnicodeDecodeError as e:
        return None, (
            f"HTTP {response.status}: not valid {charset} at byte {e.start} though the "
            "Content-Type says so; the answer is broken, the next crawl asks again"
        )
    try:
        return json.loads(text), None
    except UnicodeDecodeError as e:
        bad = body[e.start : e.start + 1].hex()
        return None, (
            f"HTTP {response.status}: not UTF-8 JSON (byte 0x{bad} at offset {e.start}) and "
            "no charset declared; the site sent another encoding"
        )
    except RecursionError:
        return None, f"HTTP {response.status}: JSON nested too deeply to read"
    except ValueError as e:
        head = body.lstrip()[:1]
        if "json" not in ctype.lower() and head not in (b"{", b"["):
            return None, (
                f"HTTP {response.status}, not JSON ({ctype or 'no type'}); the site may "
                "block crawlers or the URL is not a ForumMagnum site"
            )
        where = (
            f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        )
        cut = (
            " (cut off?)"
            if isinstance(e, json.JSONDecodeError)
            and (e.pos >= len(text) - 1 or e.msg.startswith("Unterminated"))
            else ""
        )
        msg = e.msg.removesuffix(" at") if isinstance(e, json.JSONDecodeError) else str(e)[:100]
        return None, (
            f"HTTP {response.status}: invalid JSON{cut}: {msg}{where} "
            f"({len(body):,} bytes); the answer is broken, the next crawl asks again"
        )


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
        self._style: dict[str, str] = {}  # the argument style in use, per source
        self._style_error: dict[str, str] = {}  # the first style's refusal, once switched
        self._sweep_started: dict[str, float] = {}

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
            start = parse_time(state.watermark)
            return start - timedelta(days=days) if start is not None else None
        since = state.config.get("since")
        return parse_time(since) if since else None

    def _api_style(self, name: str) -> str:
        if name not in self._style:
            self._style[name] = str(self._cfg(name, "api_style", "legacy"))
        return self._style[name]

    def _request(
        self,
        name: str,
        payload: dict[str, Any],
        callback: Any,
        remake: tuple[Any, ...],
        **meta: Any,
    ) -> JsonRequest:
        """A POST to the source's endpoint; ``remake`` (method name, args) builds it again."""
        sweep = self.state(name).sweep
        if meta.get("sweep") and sweep is not None:
            sweep["requests"] += 1
        return JsonRequest(
            self._endpoint(name),
            data=payload,
            callback=callback,
            errback=self.errback,
            dont_filter=True,
            meta={
                "source": name,
                "handle_httpstatus_list": [400],
                "remake": remake,
                "style": self._api_style(name),
                **meta,
            },
        )

    def _posts_request(self, name: str, after: datetime | None, offset: int) -> JsonRequest:
        payload = posts_payload(
            self._api_style(name),
            after=iso(after) if after else None,
            limit=int(self._cfg(name, "page_size", 50)),
            offset=offset,
            extra_terms=self._cfg(name, "terms", {}),
        )
        return self._request(
            name,
            payload,
            self.parse_posts,
            ("_posts_request", after, offset),
            after=after,
            offset=offset,
        )

    def _comments_request(
        self, name: str, post: Doc, offset: int, acc: list[Doc], sweep: bool = False
    ) -> JsonRequest:
        payload = comments_payload(
            self._api_style(name),
            post_id=post.id,
            limit=int(self._cfg(name, "comment_page_size", 500)),
            offset=offset,
        )
        return self._request(
            name,
            payload,
            self.parse_comments,
            ("_comments_request", post, offset, acc, sweep),
            post=post,
            offset=offset,
            acc=acc,
            sweep=sweep,
        )

    def _listing_request(self, name: str, after: datetime | None, offset: int) -> JsonRequest:
        payload = listing_payload(
            self._api_style(name),
            after=iso(after) if after else None,
            limit=self._listing_limit(name),
            offset=offset,
            extra_terms=self._cfg(name, "terms", {}),
        )
        return self._request(
            name,
            payload,
            self.parse_listing,
            ("_listing_request", after, offset),
            after=after,
            offset=offset,
            sweep=True,
        )

    def _post_request(self, name: str, post_id: str) -> JsonRequest:
        payload = post_payload(self._api_style(name), post_id=post_id)
        return self._request(
            name, payload, self.parse_post, ("_post_request", post_id), post_id=post_id, sweep=True
        )

    def _listing_limit(self, name: str) -> int:
        return max(1, min(MAX_LIMIT, int(self._cfg(name, "sweep_page_size", MAX_LIMIT))))

    # -- crawl ----------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for name in self.source_names:
            after = self._start_after(name)
            self.state(name).window_start = after
            yield self._posts_request(name, after, 0)
            if (
                after is not None
                and self._sweep_due(name)
                and self.store.posts_before(self.state(name).id, after)
            ):  # else nothing to sweep
                yield self._start_sweep(name, after)

    def _results(self, response: Any, collection: str) -> list[Any] | JsonRequest | None:
        """The results of a response; a request to send instead (the other argument style); or
        None when the response failed (recorded on the source)."""
        name = response.meta["source"]
        obj, problem = decode_json(response)
        refused = schema_error(obj, response.status) if problem is None else None
        if refused is not None:
            again = self._other_style(response, refused)
            if again is not None:
                return again
            first = self._style_error.get(name)
            problem = (
                f"GraphQL error: the site refused both argument styles "
                f"({other_style(self._api_style(name))}: {first}; {self._api_style(name)}: "
                f"{refused}); the site's API may have changed"
                if first
                else f"GraphQL error: {refused}"
            )
        elif problem is None:
            self._style_worked(name, response.meta)
            results, error = graphql_results(obj, collection)
            if error and results is None:
                problem = f"{error}; the site's API may have changed"
            elif error:  # partial data and errors: not trusted (the source's error, as before)
                self.store.error(name, f"{response.url}: {error}")
                self.on_source_failure(response.meta)
                return None
            else:
                return results
        self.store.reject_response(name, response.url, f"{response.url}: {problem}")
        self.on_source_failure(response.meta)
        return None

    def _other_style(self, response: Any, refused: str) -> JsonRequest | None:
        """The request again in the style now in use, or in the other one if not tried yet."""
        name, meta = response.meta["source"], response.meta
        if meta["style"] == self._api_style(name):
            if name in self._style_error:
                return None  # both refused
            self._style_error[name] = refused
            self._style[name] = other_style(meta["style"])
            log.info(
                "%s: the site refused the %s argument style (%s); trying %s",
                name,
                meta["style"],
                refused,
                self._style[name],
            )
        method, *args = meta["remake"]
        return getattr(self, method)(name, *args)

    def _style_worked(self, name: str, meta: dict[str, Any]) -> None:
        """After a switch, the first answer in the new style stores it on the source."""
        state = self.state(name)
        if (
            name in self._style_error
            and meta["style"] == self._style[name]
            and state.config_updates.get("api_style") != self._style[name]
        ):
            state.config_updates["api_style"] = self._style[name]
            state.config_updates["api_style_detected"] = {
                "at": iso(_utcnow()),
                "refused": other_style(self._style[name]),
                "message": self._style_error[name][:200],
            }
            state.warnings.append(
                f"the site speaks the {self._style[name]} argument style, not "
                f"{other_style(self._style[name])}; stored on the source"
            )

    @guarded
    def parse_posts(self, response: Any) -> Iterator[Any]:
        name, meta = response.meta["source"], response.meta
        state = self.state(name)
        results = self._results(response, "posts")
        if not isinstance(results, list):
            if results is not None:
                yield results
            return
        parsed = parse_forum_json(results, location=response.url)
        for where, reason in parsed.rejected:
            self.store.add_reject(name, where, reason)
        for (
            doc
        ) in parsed.docs:  # posts are paged and watermarked by postedAt: one without is unusable
            if doc.kind == "post" and doc.published_at is None:
                self.store.add_reject(
                    name, f"{response.url}#{doc.id}", "post has no postedAt; crux pages posts by it"
                )
        fresh = [
            d
            for d in parsed.docs
            if d.kind == "post" and d.id not in state.seen_posts and d.published_at is not None
        ]
        room = self.store.room(name)
        if room is not None and len(fresh) >= room:
            fresh, state.truncated = fresh[:room], True
        for doc in fresh:
            state.seen_posts.add(doc.id)
            if doc.published_at and (
                name not in self._latest or doc.published_at > self._latest[name]
            ):
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
            self.store.error(
                name,
                f"{response.url}: more than {MAX_OFFSET} posts share one postedAt; "
                "the API cannot page past them",
            )
            return
        if self._pages[name] >= MAX_PAGES:
            self.store.error(name, f"{response.url}: stopped after {MAX_PAGES} pages")
            return
        yield self._posts_request(name, after, offset)

    def _with_comments(self, name: str, posts: list[Doc], sweep: bool = False) -> Iterator[Any]:
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
                record = self.state(name).sweep
                if sweep and record is not None:
                    record["threads"] += 1
                yield self._comments_request(name, doc, 0, [], sweep)

    @guarded
    def parse_comments(self, response: Any) -> Iterator[Any]:
        name, meta = response.meta["source"], response.meta
        post: Doc = meta["post"]
        results = self._results(response, "comments")
        if not isinstance(results, list):
            if results is not None:
                yield results
            return
        parsed = parse_forum_json(results, location=response.url)
        for where, reason in parsed.rejected:
            self.store.add_reject(name, where, reason)
        acc: list[Doc] = meta["acc"] + [d for d in parsed.docs if d.kind == "comment"]
        limit = int(self._cfg(name, "comment_page_size", 500))
        offset = meta["offset"] + limit
        if len(results) >= limit and offset <= MAX_OFFSET:
            yield self._comments_request(name, post, offset, acc, meta.get("sweep", False))
            return
        complete = len(results) < limit
        thread = [d for d in acc if d.post_id == post.id] or acc
        if complete:
            self.state(name).comment_threads[post.id] = {d.id for d in thread}
        else:
            self.state(name).warnings.append(
                f"post {post.id}: more than {MAX_OFFSET} comments; stored the first ones"
            )
        yield {"source": name, "doc": post}
        for doc in thread:
            yield {"source": name, "doc": doc}

    # -- the sweep ---------------------------------------------------------------------
    def _sweep_due(self, name: str) -> bool:
        """Whether this crawl sweeps: every crawl (``sweep_every_days`` 0, the default), or when
        the last complete sweep is older than that; never when the setting is negative."""
        try:
            every = float(self._cfg(name, "sweep_every_days", 0))
        except (TypeError, ValueError):
            every = 0.0  # a setting crux cannot read: sweep, the safe side
        if every < 0:
            return False
        last = self.state(name).config.get("last_sweep")
        if not isinstance(last, dict) or not last.get("complete") or every == 0:
            return True
        try:
            at = parse_time(last.get("at"))
        except (ValueError, TypeError):
            return True
        return at is None or _utcnow() - at >= timedelta(days=every)

    def _start_sweep(self, name: str, window_start: datetime) -> JsonRequest:
        state = self.state(name)
        since = state.config.get("since")
        try:
            state.sweep_from = parse_time(since) if since else None
        except (ValueError, TypeError):
            state.sweep_from = None
        state.sweep = {
            "at": iso(_utcnow()),
            "before": iso(window_start),
            "listed": 0,
            "refetched": 0,
            "threads": 0,
            "gone": 0,
            "pages": 0,
            "requests": 0,
            "seconds": 0.0,
            "complete": False,
        }
        self._sweep_started[name] = time.monotonic()
        return self._listing_request(name, state.sweep_from, 0)

    @guarded
    def parse_listing(self, response: Any) -> Iterator[Any]:
        """One page of the listing: fetch what changed, then the next page."""
        name, meta = response.meta["source"], response.meta
        state = self.state(name)
        results = self._results(response, "posts")
        if not isinstance(results, list):
            if results is not None:
                yield results
            return
        sweep, end = state.sweep, state.window_start
        if sweep is None or end is None:  # only a sweep asks for the listing
            return
        rows: dict[str, tuple[datetime | None, int | None]] = {}
        last: datetime | None = None
        for i, obj in enumerate(results):
            try:
                pid, posted, modified, count, gone = _listed(obj)
            except (ValueError, TypeError) as e:
                self.store.add_reject(name, f"{response.url}#sweep{i + 1}", f"sweep listing: {e}")
                continue
            last = posted
            if posted >= end or (state.sweep_from and posted < state.sweep_from) or gone:
                continue
            rows[pid] = (modified, count)
        sweep["listed"] += len(rows)
        sweep["pages"] += 1
        state.listed |= set(rows)
        stored = self.store.stored_posts(state.id, list(rows))
        for pid, (modified, count) in rows.items():
            old = stored.get(pid)
            if (
                old is None
                or old[2]
                or old[1] != count
                or (modified is not None and (old[0] is None or modified > old[0]))
            ):
                if pid not in state.seen_posts:
                    state.seen_posts.add(pid)
                    sweep["refetched"] += 1
                    yield self._post_request(name, pid)
        limit = self._listing_limit(name)
        if len(results) < limit or (last is not None and last >= end):
            self._sweep_done(name)
            return
        after, offset = meta["after"], meta["offset"]
        if last is not None and (after is None or last > after):
            after, offset = last, 0
        else:
            offset += limit
        if offset > MAX_OFFSET or sweep["pages"] >= MAX_PAGES:
            state.warnings.append(
                f"sweep: stopped after {sweep['pages']} pages (more than {MAX_OFFSET} "
                "posts share one postedAt, or the listing does not end); "
                "nothing marked deleted"
            )
            return
        yield self._listing_request(name, after, offset)

    def _sweep_done(self, name: str) -> None:
        state = self.state(name)
        if state.sweep is not None:
            state.sweep_complete = not state.errors
            state.sweep["complete"] = state.sweep_complete

    @guarded
    def parse_post(self, response: Any) -> Iterator[Any]:
        """A post the sweep asked for again: stored, with its comments when their count moved."""
        name = response.meta["source"]
        results = self._results(response, "post")
        if not isinstance(results, list):
            if results is not None:
                yield results
            return
        parsed = parse_forum_json(results, location=response.url)
        for where, reason in parsed.rejected:
            self.store.add_reject(name, where, reason)
        posts = [d for d in parsed.docs if d.kind == "post" and d.id == response.meta["post_id"]]
        for doc in [d for d in posts if d.published_at is None]:
            self.store.add_reject(
                name, f"{response.url}#{doc.id}", "post has no postedAt; crux pages posts by it"
            )
        if not parsed.docs and not parsed.rejected:  # gone between the listing and now
            self.state(name).listed.discard(response.meta["post_id"])
            self.state(name).seen_posts.discard(response.meta["post_id"])
        yield from self._with_comments(
            name, [d for d in posts if d.published_at is not None], sweep=True
        )

    # -- bookkeeping -------------------------------------------------------------------
    def on_source_failure(self, meta: dict[str, Any]) -> None:
        post = meta.get("post")
        name = meta.get("source")
        if meta.get("sweep"):  # a post before the window: the watermark does not move for it
            record = self.state(name).sweep if name else None
            if name and record is not None:
                self.state(name).sweep_complete = False
                record["complete"] = False
            return
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
            state = self.state(name)
            if state.sweep is not None:
                if state.errors:
                    state.sweep_complete = state.sweep["complete"] = False
                state.sweep["seconds"] = round(time.monotonic() - self._sweep_started[name], 3)
                state.config_updates["last_sweep"] = state.sweep


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _listed(obj: Any) -> tuple[str, datetime, datetime | None, int | None, bool]:
    """``(id, postedAt, modifiedAt, commentCount, deletedDraft)`` of one listing row."""
    if not isinstance(obj, dict):
        raise ValueError(f"item is a {type(obj).__name__}, not an object")
    pid = obj.get("_id")
    if not isinstance(pid, str) or not pid:
        raise ValueError("no _id")
    posted = parse_time(obj.get("postedAt"))
    if posted is None:
        raise ValueError(f"post {pid} has no postedAt")
    count = obj.get("commentCount")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise ValueError(f"post {pid}: commentCount is not a whole number")
    return pid, posted, parse_time(obj.get("modifiedAt")), count, bool(obj.get("deletedDraft"))
