"""ForumMagnum GraphQL: the query documents in ``queries/*.graphql`` and their variables.

Two argument styles (see ECOSYSTEM-NOTES §3.11): ``legacy`` sends
``input: {terms: {view, limit, offset, ...}}`` (the EA Forum accepts only this one);
``selector`` sends ``selector: {<view>: {...}}, limit, offset`` (LessWrong, Alignment Forum).
A source's ``config["api_style"]`` chooses; a crawl that meets a schema error for one style tries
the other once (:func:`schema_error`) and stores the one that worked.

The sweep asks ``posts_list`` (``_id``, ``postedAt``, ``modifiedAt``, ``commentCount``,
``deletedDraft``, in pages of up to 1,000) and re-fetches a changed post with ``post`` (by ``_id``).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

STYLES = ("legacy", "selector")
POSTS_VIEW = "old"  # postedAt ascending: page forward with ``after``
COMMENTS_VIEW = "postCommentsOld"  # one post's comments, oldest first
MAX_OFFSET = 2000  # the API refuses a larger skip
MAX_LIMIT = 1000  # the largest page the API serves
# What a GraphQL server says when a query's arguments or types are not in its schema (Apollo's
# validation messages and code); a query error of any other kind is not a wrong style.
_SCHEMA_ERROR = re.compile(
    r"Unknown (argument|type)|Cannot query field|GRAPHQL_VALIDATION_FAILED|"
    r"Variable \"\$\w+\" (of type|got invalid)|Expected type",
    re.I,
)


@cache
def query_text(name: str) -> str:
    """The query document ``queries/<name>.graphql``."""
    return (resources.files("crux.crawler") / "queries" / f"{name}.graphql").read_text("utf-8")


def posts_payload(
    style: str,
    *,
    after: str | None,
    limit: int,
    offset: int = 0,
    extra_terms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of one page of posts, ``postedAt >= after``, oldest first."""
    terms: dict[str, Any] = dict(extra_terms or {})
    if after:
        terms["after"] = after
    return _payload("posts", POSTS_VIEW, style, terms, limit, offset)


def comments_payload(style: str, *, post_id: str, limit: int, offset: int = 0) -> dict[str, Any]:
    """The JSON body of one page of a post's comments."""
    return _payload("comments", COMMENTS_VIEW, style, {"postId": post_id}, limit, offset)


def listing_payload(
    style: str,
    *,
    after: str | None,
    limit: int,
    offset: int = 0,
    extra_terms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of the sweep's listing: ids, dates and comment counts, oldest first."""
    terms: dict[str, Any] = dict(extra_terms or {})
    if after:
        terms["after"] = after
    return _payload("posts", POSTS_VIEW, style, terms, limit, offset, document="posts_list")


def post_payload(style: str, *, post_id: str) -> dict[str, Any]:
    """The JSON body asking for one post by ``_id`` (``data.post.result``)."""
    if style not in STYLES:
        raise ValueError(f"unknown api_style {style!r}; use one of {', '.join(STYLES)}")
    name = "post_legacy" if style == "legacy" else "post"
    return {"query": query_text(name), "variables": {"id": post_id}}


def other_style(style: str) -> str:
    """The argument style that is not ``style``."""
    return "selector" if style == "legacy" else "legacy"


def schema_error(obj: Any, status: int) -> str | None:
    """The message when a response refuses the query's arguments or types (a wrong style), else None.

    Only a response without data counts: an HTTP 400, or a GraphQL validation message.
    """
    if not isinstance(obj, dict) or not obj.get("errors"):
        return None
    data = obj.get("data")
    if isinstance(data, dict) and any(v is not None for v in data.values()):
        return None
    errors = obj["errors"] if isinstance(obj["errors"], list) else [obj["errors"]]
    for err in errors:
        if not isinstance(err, dict):
            continue
        msg = str(err.get("message") or "")
        code = (
            str((err.get("extensions") or {}).get("code") or "")
            if isinstance(err.get("extensions"), dict)
            else ""
        )
        if _SCHEMA_ERROR.search(msg) or _SCHEMA_ERROR.search(code):
            return msg[:300] or code
    if status == 400:
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        return str(first.get("message") or "HTTP 400")[:300]
    return None


def _payload(
    collection: str,
    view: str,
    style: str,
    terms: dict[str, Any],
    limit: int,
    offset: int,
    document: str | None = None,
) -> dict[str, Any]:
    document = document or collection
    if style == "legacy":
        all_terms = {"view": view, **terms, "limit": limit, "offset": offset}
        return {
            "query": query_text(f"{document}_legacy"),
            "variables": {"input": {"terms": all_terms}},
        }
    if style == "selector":
        return {
            "query": query_text(document),
            "variables": {"selector": {view: terms}, "limit": limit, "offset": offset},
        }
    raise ValueError(f"unknown api_style {style!r}; use one of {', '.join(STYLES)}")


def graphql_results(obj: Any, collection: str) -> tuple[list[Any] | None, str | None]:
    """``(results, error)`` of a decoded response; ``results`` is None when there is no data.

    The ``errors`` array is checked: with no data it is the error; with partial data its first
    message is returned beside the results.
    """
    if not isinstance(obj, dict):
        return None, "the response is not a JSON object"
    error = None
    errors = obj.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else errors
        msg = first.get("message") if isinstance(first, dict) else str(first)
        error = f"GraphQL error: {str(msg)[:300]}"
    data = obj.get("data")
    block = data.get(collection) if isinstance(data, dict) else None
    if collection == "post" and isinstance(block, dict) and "result" in block:  # one document
        one = block["result"]
        return ([one] if one is not None else []), error
    results = block.get("results") if isinstance(block, dict) else None
    if not isinstance(results, list):
        return None, error or f"no data.{collection}.results in the response"
    return results, error
