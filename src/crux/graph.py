"""Connected components of a graph given as edges: how documents group into debates.

Shared by ``crux debates`` and the site's debates page (which must not import the CLI).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def connected_components(edges: Iterable[tuple[T, T]]) -> list[set[T]]:
    """The components of the undirected graph of ``edges`` (union-find), largest first."""
    parent: dict[T, T] = {}

    def find(x: T) -> T:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups: dict[T, set[T]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    return sorted(groups.values(), key=len, reverse=True)


__all__ = ["connected_components"]
