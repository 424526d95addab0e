"""RSS/Atom (and JSON Feed) bytes to :class:`~crux.db.Doc` records, through feedparser."""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..db import Doc
from ..errors import InputError
from ..htmltext import canonical_url, forum_id, forum_site, url_host

# LessWrong's feed wraps each body: "Published on <date><br/><br/>" ... "<br/><br/><a>Discuss</a>".
_LW_HEAD = re.compile(r"^\s*Published on [^<]{5,80}?<br\s*/?>\s*<br\s*/?>", re.I)
_LW_TAIL = re.compile(r"<br\s*/?>\s*<br\s*/?>\s*<a\b[^>]*>\s*Discuss\s*</a>\s*$", re.I)


@dataclass
class FeedResult:
    title: str | None
    link: str | None
    docs: list[Doc]
    warning: str | None = None  # feedparser's bozo reason, when it still parsed
    etag: str | None = None
    modified: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)
    summary_only: set[str] = field(default_factory=set)  # ids of entries without full content


def _dt(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC).replace(tzinfo=None)
    except (OverflowError, ValueError, TypeError):
        return None


def feed_doc_id(
    guid: str | None,
    link: str | None,
    title: str | None,
    published: Any,
    feed: str | None = None,
    content: str | None = None,
    site: str | None = None,
) -> str:
    """A stable id: the ForumMagnum post id when the link has one on the forum ``site`` the
    feed comes from (:func:`~crux.htmltext.forum_site`), else a hash of the guid (or link).
    An entry with neither is identified by its feed, title and date, and by its content when
    it has no title and no date either. A feed elsewhere that links a forum post links it: it
    never gets the post's id."""
    if site:
        for url in (link, guid):
            fid = forum_id(url)
            if fid and forum_site(url_host(url)) == site:
                return fid
    ident = guid or canonical_url(link)
    if not ident:
        ident = f"{feed or ''}|{title or ''}|{published or ''}"
        if not title and not published:
            ident += (
                "|" + hashlib.sha256((content or "").encode("utf-8", "surrogatepass")).hexdigest()
            )
    return "f" + hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _content(entry: Any) -> str | None:
    """Full content (content:encoded, Atom content) over the summary."""
    best = None
    for c in entry.get("content") or []:
        value = c.get("value")
        if value and (best is None or len(value) > len(best)):
            best = value
    if not best:
        best = entry.get("summary") or entry.get("description")
    if best:
        best = _LW_TAIL.sub("", _LW_HEAD.sub("", best))
    return best


def parse_feed(
    data: bytes,
    *,
    location: str,
    headers: dict[str, str] | None = None,
    served_from: str | None = None,
) -> FeedResult:
    """Parse feed bytes. Raises :class:`InputError` when nothing usable is in them.

    ``served_from`` is the URL the bytes came from (a crawl); a file has none, and its own
    ``<link>`` stands in. Entries get forum post ids only when that URL is on the forum's host."""
    import feedparser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # feedparser's updated_parsed fallback
            parsed = feedparser.parse(io.BytesIO(data), response_headers=headers or {})
    except Exception as e:  # feedparser is robust, but a corrupt stream can still escape it
        raise InputError(f"{location}: not a readable feed ({type(e).__name__}: {e})") from None
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}".strip() if exc else "ill-formed feed"
    feed = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        if (
            data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
            and b"jsonfeed.org/version" in data[:4000]
        ):
            raise InputError(
                f"{location}: a JSON Feed, which this feedparser cannot read; "
                "use the site's RSS or Atom feed"
            )
        reason = warning or "no feed elements found"
        raise InputError(f"{location}: not an RSS/Atom feed ({reason}); check the file or URL")
    feed_link = feed.get("link")
    docs: list[Doc] = []
    rejected: list[tuple[str, str]] = []
    summary_only: set[str] = set()
    site = forum_site(url_host(served_from if served_from is not None else feed_link))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _entries(entries, feed, feed_link, location, docs, rejected, summary_only, site)
    return FeedResult(
        title=feed.get("title") or None,
        link=feed_link,
        docs=docs,
        warning=warning,
        etag=parsed.get("etag"),
        modified=parsed.get("modified"),
        rejected=rejected,
        summary_only=summary_only,
    )


def _entries(
    entries: list[Any],
    feed: Any,
    feed_link: str | None,
    location: str,
    docs: list[Doc],
    rejected: list[tuple[str, str]],
    summary_only: set[str],
    site: str | None,
) -> None:
    for i, e in enumerate(entries):
        try:
            link = e.get("link") or None
            guid = e.get("id") or None
            published = (
                _dt(e.get("published_parsed"))
                or _dt(e.get("updated_parsed"))
                or _dt(e.get("created_parsed"))
            )
            title = e.get("title") or None
            html = _content(e)
            if not (title or html or link):
                rejected.append((f"{location}#entry{i + 1}", "entry has no title, content or link"))
                continue
            author = (
                e.get("author")
                or (e.get("author_detail") or {}).get("name")
                or feed.get("author")
                or None
            )
            tags = [t.get("term") for t in e.get("tags") or [] if t.get("term")]
            doc_id = feed_doc_id(
                guid,
                link,
                title,
                published,
                feed=feed_link or feed.get("title") or location,
                content=html,
                site=site,
            )
            if not any(c.get("value") for c in e.get("content") or []):
                summary_only.add(doc_id)
            docs.append(
                Doc(
                    id=doc_id,
                    kind="post",
                    url=link,
                    title=title,
                    author=author,
                    published_at=published,
                    updated_at=_dt(e.get("updated_parsed")),
                    html=html,
                    tags=tags,
                    extra={
                        k: v
                        for k, v in (
                            ("guid", guid),
                            ("feed", feed.get("title")),
                            ("feed_link", feed_link),
                        )
                        if v
                    },
                )
            )
        except Exception as exc:  # one odd entry must not lose the others
            rejected.append((f"{location}#entry{i + 1}", f"{type(exc).__name__}: {exc}"))
