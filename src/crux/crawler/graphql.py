"""ForumMagnum GraphQL: the query documents in ``queries/*.graphql`` and their variables.

Two argument styles (see ECOSYSTEM-NOTES §3.11): ``legacy`` sends
``input: {terms: {view, limit, offset, ...}}`` (the EA Forum accepts only this one);
``selector`` sends ``selector: {<view>: {...}}, limit, offset`` (LessWrong, Alignment Forum).
A source's ``config["api_style"]`` chooses.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

STYLES = ("legacy", "selector")
POSTS_VIEW = "old"                 # postedAt ascending: page forward with ``after``
COMMENTS_VIEW = "postCommentsOld"  # one post's comments, oldest first
MAX_OFFSET = 2000                  # the API refuses a larger skip


@cache
def query_text(name: str) -> str:
    """The query document ``queries/<name>.graphql``."""
    return (resources.files("crux.crawler") / "queries" / f"{name}.graphql").read_text("utf-8")


def posts_payload(style: str, *, after: str | None, limit: int, offset: int = 0,
                  extra_terms: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of one page of posts, ``postedAt >= after``, oldest first."""
    terms: dict[str, Any] = dict(extra_terms or {})
    if after:
        terms["after"] = after
    return _payload("posts", POSTS_VIEW, style, terms, limit, offset)


def comments_payload(style: str, *, post_id: str, limit: int, offset: int = 0) -> dict[str, Any]:
    """The JSON body of one page of a post's comments."""
    return _payload("comments", COMMENTS_VIEW, style, {"postId": post_id}, limit, offset)


def _payload(collection: str, view: str, style: str, terms: dict[str, Any], limit: int,
             offset: int) -> dict[str, Any]:
    if style == "legacy":
        all_terms = {"view": view, **terms, "limit": limit, "offset": offset}
        return {"query": query_text(f"{collection}_legacy"), "variables": {"input": {"terms": all_terms}}}
    if style == "selector":
        return {"query": query_text(collection),
                "variables": {"selector": {view: terms}, "limit": limit, "offset": offset}}
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
    results = block.get("results") if isinstance(block, dict) else None
    if not isinstance(results, list):
        return None, error or f"no data.{collection}.results in the response"
    return results, error
