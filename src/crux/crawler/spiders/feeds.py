"""RSS/Atom sources: conditional GET, parse with :func:`crux.crawler.feeds.parse_feed`.

Each feed is asked with its stored ``ETag``/``Last-Modified``; a 304 means no work. A 200 is
parsed with the response headers (so the declared charset is used); new entries become
documents and changed ones revisions (``save_documents`` decides). With the source option
``fetch_articles``, an entry that carries only a summary has its linked page fetched and its
main text extracted with trafilatura; an entry whose summary is unchanged since its article
was fetched is not fetched again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy

from ...db import Doc
from ...errors import InputError
from ..feeds import parse_feed
from . import CruxSpider, guarded


def _headers(response: Any) -> dict[str, str]:
    return {
        k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
        for k, v in response.headers.items()
    }


def _summary_hash(doc: Doc) -> str:
    return hashlib.sha256(f"{doc.title}\0{doc.html}".encode("utf-8", "surrogatepass")).hexdigest()[
        :16
    ]


def extract_article(html: str | bytes, url: str) -> str | None:
    """The main text of an article page as simple HTML (trafilatura), or None."""
    try:
        import trafilatura
    except ImportError:
        from ...errors import MissingExtra

        raise MissingExtra("--fetch-articles", "crawl", "trafilatura") from None
    return (
        trafilatura.extract(
            html,
            url=url,
            output_format="html",
            include_links=True,
            include_tables=True,
            include_comments=False,
        )
        or None
    )


class FeedsSpider(CruxSpider):
    name = "feeds"

    async def start(self) -> AsyncIterator[Any]:
        for name in self.source_names:
            state = self.state(name)
            headers = {}
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
            yield scrapy.Request(
                state.url,
                headers=headers,
                callback=self.parse,
                errback=self.errback,
                dont_filter=True,
                meta={"source": name, "handle_httpstatus_list": [304]},
            )

    @guarded
    def parse(self, response: Any) -> Iterator[Any]:
        name = response.meta["source"]
        state = self.state(name)
        if response.status == 304:
            state.not_modified = True
            return
        headers = _headers(response)
        try:
            result = parse_feed(
                response.body, location=response.url, headers=headers, served_from=response.url
            )
        except InputError as e:
            self.store.reject_response(name, response.url, str(e))
            return
        state.new_etag = headers.get("etag")
        state.new_last_modified = headers.get("last-modified")
        if result.title and state.config.get("title") != result.title:
            state.config_updates["title"] = result.title
        if result.link and state.config.get("site_url") != result.link:
            state.config_updates["site_url"] = result.link
        if result.warning:
            state.warnings.append(f"ill-formed feed, read anyway ({result.warning})")
        for where, reason in result.rejected:
            self.store.add_reject(name, where, reason)
        docs = result.docs
        if self.since is not None:
            docs = [d for d in docs if d.published_at is None or d.published_at >= self.since]
        room = self.store.room(name)
        if room is not None and len(docs) > room:
            docs, state.truncated = docs[:room], True
        wanted = [
            d
            for d in docs
            if state.config.get("fetch_articles")
            and d.id in result.summary_only
            and d.url
            and d.url.startswith(("http://", "https://"))
        ]
        stored = self.store.stored([d.id for d in wanted])
        wanted_ids = {d.id for d in wanted}
        for doc in docs:
            if doc.id not in wanted_ids:
                yield {"source": name, "doc": doc}
                continue
            digest = _summary_hash(doc)
            old = stored.get(doc.id)
            if old is not None and json.loads(old[1]).get("summary_hash") == digest:
                state.saved.unchanged += 1  # the article was fetched for this very summary
                continue
            yield scrapy.Request(
                str(doc.url),
                callback=self.parse_article,
                errback=self.article_failed,
                meta={"source": name, "doc": doc, "summary_hash": digest},
            )

    def parse_article(self, response: Any) -> Iterator[Any]:
        doc: Doc = response.meta["doc"]
        name = response.meta["source"]
        try:
            body = (
                response.text
                if hasattr(response, "text")
                else response.body.decode("utf-8", "replace")
            )
            html = extract_article(body, response.url)
        except Exception as e:
            if type(e).__name__ == "MissingExtra":
                self.store.error(name, str(e))
            html = None
        if html:
            doc.extra = {
                **doc.extra,
                "summary": doc.html,
                "summary_hash": response.meta["summary_hash"],
                "article_url": response.url,
            }
            doc.html = html
        else:
            self.state(name).warnings.append(
                f"{response.url}: no article text found; kept the summary"
            )
        yield {"source": name, "doc": doc}

    def article_failed(self, failure: Any) -> Iterator[Any]:
        from ..middlewares import describe_failure

        meta = failure.request.meta
        origin = (meta.get("redirect_urls") or [failure.request.url])[0]
        message = describe_failure(failure, origin)
        self.state(meta["source"]).warnings.append(message + "; kept the summary")
        if meta.get("crux_refused"):
            self.store.add_reject(meta["source"], origin, message)
        yield {"source": meta["source"], "doc": meta["doc"]}
