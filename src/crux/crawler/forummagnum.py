"""ForumMagnum GraphQL JSON (LessWrong, EA Forum, Alignment Forum) to :class:`~crux.db.Doc` records.

Accepts the envelopes ``{"data":{"posts":{"results":[...]}}}``, ``{"data":{"post":{"result":{...}}}}``,
the same for comments, several aliases under ``data``, and a bare list of post or comment
objects. An object with ``postId`` is a comment; anything else with a title or body is a post.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..db import Doc
from ..errors import InputError
from ..htmltext import forum_id, forum_keys


@dataclass
class ForumResult:
    docs: list[Doc]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    host: str | None = None


INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # the store's INTEGER columns


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (``2020-03-31T23:31:23.249Z``) to a naive UTC datetime; None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"date is a {type(value).__name__}, not a string")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        try:
            dt = dt.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"date {value[:40]!r} is out of range") from None
    return dt


def _time(obj: dict[str, Any], key: str) -> datetime | None:
    """``parse_time`` of a field; a bad value names the field."""
    try:
        return parse_time(obj.get(key))
    except ValueError as e:
        raise ValueError(f"field {key!r}: {e}") from None


def _str(obj: dict[str, Any], key: str) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"field {key!r} is a {type(v).__name__}, not a string")
    return v


def _int(obj: dict[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, float) and v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"field {key!r} is not a finite number: {v!r}")
    if isinstance(v, int | float):
        n = int(v)
    elif isinstance(v, str) and v.strip().lstrip("-").isdigit():
        n = int(v)
    else:
        raise ValueError(f"field {key!r} is not a number: {str(v)[:40]!r}")
    if not INT_MIN <= n <= INT_MAX:
        raise ValueError(f"field {key!r} is out of range: {str(v)[:40]}")
    return n


def _author(obj: dict[str, Any]) -> str | None:
    user = obj.get("user")
    if isinstance(user, dict):
        name = user.get("displayName") or user.get("username") or user.get("slug")
        return str(name) if name else None
    if isinstance(user, str):
        return user or None
    author = obj.get("author")
    return author if isinstance(author, str) else None


def _html(obj: dict[str, Any]) -> str | None:
    html = _str(obj, "htmlBody")
    if html is None:
        contents = obj.get("contents")
        if isinstance(contents, dict):
            html = _str(contents, "html")
    return html


def _tags(obj: dict[str, Any]) -> list[str]:
    tags = obj.get("tags") or []
    if not isinstance(tags, list):
        return []
    out = []
    for t in tags:
        if isinstance(t, dict) and t.get("name"):
            out.append(str(t["name"]))
        elif isinstance(t, str):
            out.append(t)
    return out


def _extra(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys if obj.get(k) not in (None, "", [], {})}


def post_doc(obj: dict[str, Any]) -> Doc:
    url = _str(obj, "pageUrl")
    pid = _str(obj, "_id") or forum_id(url)
    if not pid:
        if not url:
            raise ValueError("post has neither _id nor pageUrl")
        pid = "m" + hashlib.sha256(url.encode()).hexdigest()[:16]
    html = _html(obj)
    title = _str(obj, "title")
    if html is None and title is None:
        raise ValueError("post has neither title nor body")
    return Doc(
        id=pid,
        kind="post",
        url=url,
        title=title,
        author=_author(obj),
        published_at=_time(obj, "postedAt"),
        updated_at=_time(obj, "modifiedAt") if obj.get("modifiedAt") else None,
        html=html,
        score=_int(obj, "baseScore"),
        vote_count=_int(obj, "voteCount"),
        comment_count=_int(obj, "commentCount"),
        tags=_tags(obj),
        deleted=bool(obj.get("deletedDraft") or obj.get("deleted")),
        extra=_extra(
            obj,
            (
                "slug",
                "url",
                "question",
                "af",
                "meta",
                "wordCount",
                "legacyId",
                "agentFoundationsId",
            ),
        ),
        keys=forum_keys(
            pid,
            slug=_str(obj, "slug"),
            legacy_id=_str(obj, "legacyId"),
            site_url=url,
            own_url=_str(obj, "url"),
            agent_foundations_id=_str(obj, "agentFoundationsId"),
        ),
    )


def comment_doc(obj: dict[str, Any]) -> Doc:
    cid = _str(obj, "_id")
    post_id = _str(obj, "postId")
    if not cid or not post_id:
        raise ValueError("comment needs _id and postId")
    parent = _str(obj, "parentCommentId") or post_id
    post: dict[str, Any] = obj["post"] if isinstance(obj.get("post"), dict) else {}
    title = f"Re: {post['title']}" if post.get("title") else None
    return Doc(
        id=cid,
        kind="comment",
        parent_id=parent,
        post_id=post_id,
        url=_str(obj, "pageUrl"),
        title=title,
        author=_author(obj),
        published_at=_time(obj, "postedAt"),
        updated_at=_time(obj, "lastEditedAt") if obj.get("lastEditedAt") else None,
        html=_html(obj) or "",
        score=_int(obj, "baseScore"),
        vote_count=_int(obj, "voteCount"),
        deleted=bool(obj.get("deleted")),
        extra=_extra(obj, ("af",)),
    )


def _objects(data: Any) -> list[Any]:
    """The post/comment objects inside any of the accepted envelopes."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise InputError("JSON is neither an object nor a list")
    if "data" not in data:
        if "results" in data and isinstance(data["results"], list):
            return data["results"]
        if "_id" in data or "htmlBody" in data:
            return [data]
        raise InputError("no 'data' key: not a ForumMagnum GraphQL response")
    body = data["data"]
    if body is None or not isinstance(body, dict):
        errors = data.get("errors")
        msg = (
            errors[0].get("message")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict)
            else "no data"
        )
        raise InputError(f"GraphQL response has no data ({msg})")
    out: list[Any] = []
    for value in body.values():
        if isinstance(value, dict):
            if isinstance(value.get("results"), list):
                out.extend(value["results"])
            elif isinstance(value.get("result"), dict):
                out.append(value["result"])
            elif value.get("result") is None and "result" in value:
                continue
        elif isinstance(value, list):
            out.extend(value)
    return out


def parse_forum_json(data: Any, *, location: str) -> ForumResult:
    """Docs from decoded GraphQL JSON; objects that fail validation are listed in ``rejected``."""
    docs, rejected = [], []
    host = None
    for i, obj in enumerate(_objects(data)):
        where = f"{location}#{i + 1}"
        if not isinstance(obj, dict):
            rejected.append((where, f"item is a {type(obj).__name__}, not an object"))
            continue
        try:
            doc = comment_doc(obj) if obj.get("postId") else post_doc(obj)
        except (ValueError, TypeError) as e:
            rejected.append((where, str(e)))
            continue
        if host is None and doc.url and "://" in doc.url:
            host = doc.url.split("/")[2].removeprefix("www.")
        docs.append(doc)
    return ForumResult(docs=docs, rejected=rejected, host=host)
